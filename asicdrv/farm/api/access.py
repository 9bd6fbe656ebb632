"""Who may use the API: cgminer's ``--api-allow`` syntax.

    W:127.0.0.1,R:10.0.0.0/8,192.168.1.5,W:2001:db8::/32

``W:`` grants every command (privileged), ``R:`` or no prefix the read-only ones.  An address
matching no entry is refused.  The default is cgminer's: 127.0.0.1 read-only.
"""

from __future__ import annotations

import ipaddress

from ...errors import ConfigError

DEFAULT_ALLOW = "R:127.0.0.1"


class Access:
    def __init__(self, spec: str = DEFAULT_ALLOW):
        self.spec = spec
        self.entries: list[tuple[str, ipaddress._BaseNetwork]] = []
        if not isinstance(spec, str) or not spec.strip():
            raise ConfigError("--api-allow needs at least one address, e.g. W:127.0.0.1")
        for item in spec.split(","):
            item = item.strip()
            group = "R"
            if (
                len(item) > 2
                and item[1] == ":"
                and item[0].upper() in "RW"
                and not item[2:].startswith(":")
            ):
                group, item = item[0].upper(), item[2:]
            try:
                network = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ConfigError(
                    f"--api-allow: {item!r} is not an address or address/mask "
                    f"(e.g. W:192.168.1.0/24)"
                ) from None
            self.entries.append((group, network))

    def level(self, address: str) -> str | None:
        """'W', 'R' or None (refused) for a client address; the most generous match wins."""
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return None
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        found = None
        for group, network in self.entries:
            if ip.version == network.version and ip in network:
                if group == "W":
                    return "W"
                found = "R"
        return found
