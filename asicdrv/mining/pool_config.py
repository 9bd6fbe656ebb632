"""Where a pool is and who we are there: :class:`PoolConfig`, the URL forms we take."""

from __future__ import annotations

from firmware_protocols.records import record

from ..errors import ConfigError, PoolError
from ..url import split_url


class PoolAuthError(PoolError):
    """The pool refused the worker's authorization."""


@record(frozen=True)
class PoolConfig:
    """One pool: ``stratum+tcp://host:port``, worker name and password."""

    url: str
    user: str
    password: str = "x"

    def __post_init__(self):
        for name in ("url", "user", "password"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"pool {name} must be text, got {getattr(self, name)!r:.40}")
        if not self.user:
            raise ConfigError(f"pool {self.url}: give a user (worker name)")
        self.address  # noqa: B018 - validates the URL

    @property
    def address(self) -> tuple[str, int]:
        return parse_pool_url(self.url)


def parse_pool_url(url: str) -> tuple[str, int]:
    """(host, port) of ``stratum+tcp://host:port``; anything else is a ConfigError."""
    try:
        parts = split_url(url)
        host, port = parts.host_port()
    except ValueError as exc:
        raise ConfigError(f"bad pool URL {url!r}: {exc}") from None
    if parts.scheme != "stratum+tcp":
        raise ConfigError(
            f"bad pool URL {url!r}: use stratum+tcp://host:port (stratum v1 over TCP)"
        )
    if not host or port is None or port == 0:
        raise ConfigError(
            f"bad pool URL {url!r}: give a host and a port, "
            f"e.g. stratum+tcp://pool.example.com:3333"
        )
    if parts.path not in ("", "/") or parts.query or parts.has_user():
        raise ConfigError(f"bad pool URL {url!r}: only stratum+tcp://host:port")
    return host, port
