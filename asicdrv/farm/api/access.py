"""Who may use the API: cgminer's ``--api-allow`` syntax.

    W:127.0.0.1,R:10.0.0.0/8,192.168.1.5,W:2001:db8::/32

``W:`` grants every command (privileged), ``R:`` or no prefix the read-only ones.  As
cgminer's ``check_connect`` (api.c), the **first** entry that matches decides: in
``R:127.0.0.1,W:127.0.0.0/8`` 127.0.0.1 is read-only.  An address matching no entry is
refused.  IPv6 entries may be written ``W:::1``; an IPv4-mapped entry (``::ffff:10.0.0.1``)
is the IPv4 address it maps; a scope (``fe80::1%eth0``) is ignored, as it is on the
client's address.  The default is cgminer's: 127.0.0.1 read-only.
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
            if len(item) > 2 and item[1] == ":" and item[0].upper() in "RW":
                group, item = item[0].upper(), item[2:]  # no address starts with R or W
            try:
                network = _as_ipv4(ipaddress.ip_network(item.split("%")[0], strict=False))
            except ValueError:
                raise ConfigError(
                    f"--api-allow: {item!r} is not an address or address/mask "
                    f"(e.g. W:192.168.1.0/24)"
                ) from None
            self.entries.append((group, network))

    def level(self, address: str) -> str | None:
        """'W', 'R' or None (refused) for a client address; the first entry that matches
        decides (cgminer's check_connect)."""
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return None
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for group, network in self.entries:
            if ip.version == network.version and ip in network:
                return group
        return None


def _as_ipv4(network):
    """An IPv4-mapped IPv6 network (``::ffff:a.b.c.d/96+n``) as the IPv4 network it maps."""
    mapped = network.network_address.ipv4_mapped if network.version == 6 else None
    if mapped is None or network.prefixlen < 96:
        return network
    return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
