"""A pool kept connected: :class:`Pool` runs one :class:`~.stratum_client.StratumClient` for
as long as it runs: it reconnects with exponential backoff and jitter, follows
``client.reconnect`` and drops a pool that sends no work for ``no_work_timeout`` seconds.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from ..device.shares import Share
from ..errors import PoolError
from .pool_config import PoolAuthError, PoolConfig, parse_pool_url
from .stratum import StratumJob
from .stratum_client import CONNECT_TIMEOUT_S, REPLY_TIMEOUT_S, StratumClient

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any, Callable

log = logging.getLogger("asicdrv.mining.pool")

FIRST_JOB_WAIT_S = 5.0  # at start-up, how long a pool's first job is waited for
# client.reconnect's wait: cgminer (util.c parse_reconnect) ignores it and reconnects at
# once; we honour a short one (a pool restarting) and cap it
REDIRECT_WAIT_MAX_S = 10.0
WATCH_INTERVAL_S = 2.0  # how often a connected pool is checked for expired submits and no work

__all__ = [
    "CONNECT_TIMEOUT_S",
    "FIRST_JOB_WAIT_S",
    "Pool",
    "PoolAuthError",
    "PoolConfig",
    "REPLY_TIMEOUT_S",
    "StratumClient",
    "parse_pool_url",
]


class Pool:
    """One configured pool, kept connected by its own thread.  ``ready`` is True while it
    is authorized and has sent a job within ``no_work_timeout``."""

    def __init__(
        self,
        index: int,
        config: PoolConfig,
        *,
        on_job: Callable[["Pool", StratumJob], None],
        on_result: Callable[[object, Share, bool | None, str | None], None],
        on_state: Callable[["Pool"], None],
        no_work_timeout: float = 120.0,
        retry_min: float = 1.0,
        retry_max: float = 60.0,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        reply_timeout: float = REPLY_TIMEOUT_S,
    ):
        self.index = index
        self.config = config
        self._on_job = on_job
        self._on_result = on_result
        self._on_state = on_state
        self.no_work_timeout = no_work_timeout
        self.retry_min, self.retry_max = retry_min, retry_max
        self.connect_timeout, self.reply_timeout = connect_timeout, reply_timeout
        self.state = "connecting"
        self.enabled = True
        self.last_error = ""
        self.job: StratumJob | None = None
        self.difficulty = 0.0
        self.connects = 0
        self.connected_at = 0.0
        self.last_job_wall: float | None = None
        self.account: Any = None  # the controller's PoolAccount
        self.failures = 0  # connection attempts failed in a row
        self.client: StratumClient | None = None
        self._session_id: str | None = None
        self._redirect_wait: float | None = None  # client.reconnect: wait this long
        self._leaving: StratumClient | None = None  # the client a client.reconnect closes
        self._port = config.address[1]
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._keep, daemon=True, name=f"asicdrv-pool{index}")

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def ready(self) -> bool:
        client = self.client
        return (
            self.enabled
            and self.state == "alive"
            and client is not None
            and client.alive
            and self.job is not None
        )

    @property
    def starting(self) -> bool:
        """Still on its first connection, with no failure yet (so a lower-priority pool
        should not be chosen over it at start-up)."""
        if not self.enabled or self.failures:
            return False
        if self.connects == 0:
            return self.state == "connecting"
        return (
            self.connects == 1
            and self.state == "alive"
            and self.job is None
            and time.monotonic() - self.connected_at < FIRST_JOB_WAIT_S
        )

    def start(self) -> "Pool":
        self._thread.start()
        return self

    def stop(self, wait: float | None = None) -> None:
        """Close the connection and stop reconnecting; waits up to ``wait`` seconds (default:
        a connection attempt) for the thread, which is a daemon and never blocks an exit."""
        self._stop.set()
        self._wake.set()
        client = self.client
        if client is not None:
            client.close("controller stopped")
        if self._thread.ident is not None:
            self._thread.join(timeout=self.connect_timeout + 2 if wait is None else wait)

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = bool(enabled)
        if not enabled and self.client is not None:
            self.client.close("disabled")
        self._wake.set()

    def submit(self, share: Share, tag: object = None) -> bool:
        """Send a share; False (and no verdict) when the pool is not connected, or has
        asked us to reconnect (what is sent then may never be read)."""
        client = self.client
        if client is None or not client.alive or client is self._leaving:
            return False
        try:
            client.submit(share, tag)
        except PoolError:
            return False
        return True

    def pending_submits(self) -> int:
        client = self.client
        return client.pending_submits() if client is not None else 0

    def _set_state(self, state: str, error: str = "") -> None:
        changed = state != self.state
        self.state = state
        if error:
            self.last_error = error
        if changed:
            self._on_state(self)

    def _keep(self) -> None:
        """The keeper thread: it must never die silently."""
        try:
            self._keep_connected()
        except Exception as exc:  # noqa: BLE001 - a bug here must be a loud state change
            log.exception("pool %d %s: its keeper stopped", self.index, self.url)
            self._set_state("dead", f"keeper stopped: {type(exc).__name__}: {exc}")

    def _keep_connected(self) -> None:
        while not self._stop.is_set():
            if not self.enabled:
                self._set_state("disabled")
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            self._set_state("connecting")
            if self._connect_once():
                self.failures = 0
                self._watch()
            else:
                self.failures += 1
            if self._stop.is_set():
                break
            redirect, self._redirect_wait = self._redirect_wait, None
            delay = redirect if redirect is not None else self._backoff()
            self._wake.wait(delay)
            self._wake.clear()
        self._set_state("dead" if self.enabled else "disabled", "stopped")

    def _backoff(self) -> float:
        """Exponential backoff with jitter (half to full of the step)."""
        step = min(self.retry_max, self.retry_min * 2 ** min(self.failures, 20))
        return step * random.uniform(0.5, 1.0)

    def _connect_once(self) -> bool:
        config = self.config
        if self._port != config.address[1]:
            config = PoolConfig(
                f"stratum+tcp://{_host_for_url(config.address[0])}:{self._port}",
                config.user,
                config.password,
            )
        client = StratumClient(
            config,
            on_job=self._job,
            on_result=self._on_result,
            on_reconnect=self._reconnect,
            session_id=self._session_id,
            connect_timeout=self.connect_timeout,
            reply_timeout=self.reply_timeout,
        )
        self.client = client
        try:
            client.connect()
        except PoolError as exc:
            refused = isinstance(exc, PoolAuthError)
            self._set_state("refused" if refused else "dead", str(exc))
            log.warning("%s", exc)
            if self._port != self.config.address[1]:  # a redirect is tried once
                log.warning(
                    "pool %d: the redirect to port %d failed; back to %s",
                    self.index,
                    self._port,
                    self.config.url,
                )
                self._port = self.config.address[1]
            return False
        self._session_id = client.session_id
        self.connects += 1
        self.connected_at = time.monotonic()
        log.info(
            "pool %d %s: connected, extranonce1 %s, extranonce2 size %d",
            self.index,
            self.url,
            client.extranonce1,
            client.extranonce2_size,
        )
        self._set_state("alive")
        return True

    def _watch(self) -> None:
        """While connected: expire unanswered submits, drop a pool that sends no work."""
        client = self.client
        started = time.monotonic()
        interval = min(WATCH_INTERVAL_S, self.reply_timeout / 4, self.no_work_timeout / 4)
        while client.alive and not self._stop.is_set() and self.enabled:
            now = time.monotonic()
            client.expire(now)
            last = client.last_job_time or started
            if now - last > self.no_work_timeout:
                log.warning(
                    "pool %d %s: no work for %.0f s; reconnecting", self.index, self.url, now - last
                )
                client.close(f"no work for {self.no_work_timeout:g} s")
                break
            # a closed connection (also by stop or disable) wakes this at once; otherwise
            # one look every 2 s, or finer when the timeouts are shorter (10 a second
            # cost a tenth of the controller's CPU beside a 6-module chain)
            client.wait_closed(interval)
        self.job = None
        error = client.close_reason or "connection closed"
        client.close(error)
        if not self._stop.is_set():
            log.warning("pool %d %s: disconnected (%s)", self.index, self.url, error)
            self._set_state("dead", error)

    def _job(self, job: StratumJob) -> None:
        self.job = job
        self.last_job_wall = time.time()
        self.difficulty = job.difficulty
        if self.state == "alive":
            self._on_job(self, job)

    def _reconnect(self, host: str, port: int, wait: float) -> None:
        self._port = port
        self._redirect_wait = min(wait, REDIRECT_WAIT_MAX_S)
        client = self.client
        if client is not None:
            self._leaving = client  # nothing more is submitted on it
            threading.Thread(target=_close_after_replies, args=(client,), daemon=True).start()


RECONNECT_DRAIN_S = 2.0  # replies to shares already submitted, awaited before a reconnect


def _close_after_replies(client: StratumClient) -> None:
    """Close for a client.reconnect once the pool has answered what was submitted (up to
    :data:`RECONNECT_DRAIN_S`), so that its verdicts count rather than turn unknown."""
    deadline = time.monotonic() + RECONNECT_DRAIN_S
    while client.alive and client.pending_submits() and time.monotonic() < deadline:
        time.sleep(0.02)
    client.close("client.reconnect")


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host
