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

import socket

from ...errors import ConfigError

DEFAULT_ALLOW = "R:127.0.0.1"


class Access:
    def __init__(self, spec: str = DEFAULT_ALLOW):
        self.spec = spec
        # (group, 32 or 128 bits (0: any), an address of the network as an integer, prefix)
        self.entries: list[tuple[str, int, int, int]] = []
        if not isinstance(spec, str) or not spec.strip():
            raise ConfigError("--api-allow needs at least one address, e.g. W:127.0.0.1")
        for item in spec.split(","):
            item = item.strip()
            group = "R"
            if len(item) > 2 and item[1] == ":" and item[0].upper() in "RW":
                group, item = item[0].upper(), item[2:]  # no address starts with R or W
            network = _network(item)
            if network is None:
                raise ConfigError(
                    f"--api-allow: {item!r} is not an address or address/prefix "
                    f"(e.g. W:192.168.1.0/24)"
                )
            self.entries.append((group, *network))

    def level(self, address: str) -> str | None:
        """'W', 'R' or None (refused) for a client address; the first entry that matches
        decides (cgminer's check_connect)."""
        ip = _address(address)
        if ip is None:
            return None
        bits, value = ip
        for group, net_bits, network, prefix in self.entries:
            if net_bits == 0:  # 0/0
                return group
            if bits == net_bits and value >> (bits - prefix) == network >> (bits - prefix):
                return group
        return None


# Addresses as (32 or 128 bits, integer), read by the C library's inet_pton, so that the
# API does not load the ipaddress module (0.3 MiB: docs/performance.md, "Memory");
# tests/test_api.py holds these against ipaddress.


def _parse(text: str) -> tuple[int, int] | None:
    """An IPv4 or IPv6 address as it is written (a scope after % ignored), or None."""
    text = text.partition("%")[0]
    for family, bits in ((socket.AF_INET, 32), (socket.AF_INET6, 128)):
        try:
            return bits, int.from_bytes(socket.inet_pton(family, text), "big")
        except (OSError, ValueError):
            continue
    return None


def _is_mapped(bits: int, value: int) -> bool:
    return bits == 128 and value >> 32 == 0xFFFF  # ::ffff:a.b.c.d


def _address(text: str) -> tuple[int, int] | None:
    """A client's address; an IPv4-mapped IPv6 address is the IPv4 address it maps."""
    ip = _parse(text)
    if ip is not None and _is_mapped(*ip):
        return 32, ip[1] & 0xFFFFFFFF
    return ip


def _network(text: str) -> tuple[int, int, int] | None:
    """``address[/prefix]`` as (bits, address, prefix length); an IPv4-mapped IPv6 network
    (``::ffff:a.b.c.d/96+n``) as the IPv4 network it maps.  cgminer's own forms too
    (setup_ipaccess, api.c): ``0/0`` for every address (bits 0), an IPv6 address in
    brackets, an IPv4 address cut short (``192.168/16`` is 192.168.0.0/16)."""
    if text == "0/0":
        return 0, 0, 0
    address, slash, prefix_text = text.partition("/")
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    elif address and ":" not in address and address.count(".") < 3:
        address += ".0" * (3 - address.count("."))
    ip = _parse(address)
    if ip is None:
        return None
    bits, value = ip
    if not slash:
        prefix = bits
    elif prefix_text.isascii() and prefix_text.isdigit() and int(prefix_text) <= bits:
        prefix = int(prefix_text)
    else:
        return None
    if _is_mapped(bits, value) and prefix >= 96:
        bits, value, prefix = 32, value & 0xFFFFFFFF, prefix - 96
    return bits, value, prefix  # host bits stay: level() compares the top prefix bits only
