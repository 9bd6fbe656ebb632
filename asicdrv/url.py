"""Device and pool URLs, split the way :func:`urllib.parse.urlsplit` splits them.

Why not urllib.parse: it imports ``ipaddress``, together 0.4 MiB of a controller's memory
(docs/performance.md, "Memory"), for the few URL forms asicdrv takes: ``usb://1:7``,
``serial:///dev/ttyUSB0?baud=115200``, ``emu://?modules=3&faults=stall``,
``stratum+tcp://host:port``.  ``tests/test_url.py`` holds every function here against
urllib.parse on random strings: the same parts, the same query pairs, the same host and
port, a ValueError where urllib raises one (brackets as CPython checks them since 2025).
Not repeated: urlsplit's NFKC check of a non-ASCII host (no device or pool URL of ours has
one).
"""

from __future__ import annotations

import re
import socket

from firmware_protocols.records import record

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_HEX = frozenset("0123456789abcdefABCDEF")
_LEADING = "".join(map(chr, range(33)))  # C0 controls and space, stripped from the front


@record(frozen=True)
class Url:
    scheme: str
    netloc: str
    path: str
    query: str
    fragment: str

    def host_port(self) -> tuple[str | None, int | None]:
        """The host (lower case, IPv6 without brackets) and port of ``netloc``, each None
        when absent; a ValueError for a port that is not a number in 0..65535."""
        host_and_port = self.netloc.rpartition("@")[2]
        _, bracket, inside = host_and_port.partition("[")
        if bracket:
            host, _, port = inside.partition("]")
            port = port.partition(":")[2]
        else:
            host, _, port = host_and_port.partition(":")
        name, percent, zone = host.partition("%")
        return (name.lower() + percent + zone) or None, _port(port)

    def has_user(self) -> bool:
        return "@" in self.netloc


def split_url(url: str) -> Url:
    """``scheme://netloc/path?query#fragment`` as urlsplit splits it (scheme in lower case)."""
    url = url.lstrip(_LEADING)
    for unsafe in "\t\r\n":
        url = url.replace(unsafe, "")
    scheme, colon, rest = url.partition(":")
    if colon and scheme[:1].isascii() and scheme[:1].isalpha() and set(scheme) <= _SCHEME_CHARS:
        scheme = scheme.lower()
    else:
        scheme, rest = "", url
    netloc = ""
    if rest.startswith("//"):
        rest = rest[2:]
        end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
        netloc, rest = rest[:end], rest[end:]
        if ("[" in netloc) != ("]" in netloc):
            raise ValueError("a [ without a ] (or a ] without a [)")
        if "[" in netloc:
            _check_brackets(netloc)
    rest, _, fragment = rest.partition("#")
    path, _, query = rest.partition("?")
    return Url(scheme, netloc, path, query, fragment)


def query_items(query: str) -> list[tuple[str, str]]:
    """``k=v&k2=v2`` as (key, value) pairs, as ``parse_qsl(query, keep_blank_values=True)``
    gives them: ``+`` is a space, ``%XX`` a byte of UTF-8, an item without ``=`` a key with
    an empty value."""
    items = []
    for item in query.split("&"):
        if item:
            key, _, value = item.partition("=")
            items.append((_unquote(key), _unquote(value)))
    return items


def _unquote(text: str) -> str:
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    first, *rest = text.split("%")
    out = bytearray(first.encode())
    for chunk in rest:
        if len(chunk) >= 2 and set(chunk[:2]) <= _HEX:
            out.append(int(chunk[:2], 16))
            out += chunk[2:].encode()
        else:
            out += b"%" + chunk.encode()
    return out.decode("utf-8", "replace")


def _port(text: str) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise ValueError(f"port {text!r} is not a number in 0..65535")
    return int(text)


def _check_brackets(netloc: str) -> None:
    """urlsplit's check of a netloc with brackets, as CPython's security fixes of 2025 made
    it (older 3.11 releases looked only inside the first [ ]): the host after any @ is
    ``[IPv6]`` (a zone after % allowed) or an IPvFuture literal, nothing before the [ and
    nothing but :port after the ]."""
    host_and_port = netloc.rpartition("@")[2]
    before, bracket, inside = host_and_port.partition("[")
    if bracket:
        host, _, after = inside.partition("]")
        if before or (after and not after.startswith(":")):
            raise ValueError("only a port may follow a bracketed host, and nothing precede it")
    else:  # the brackets were in the user part: the host itself must still be one
        host = host_and_port.partition(":")[0]
    if host.startswith("v"):
        if not re.fullmatch(r"v[a-fA-F0-9]+\..+", host, re.DOTALL):
            raise ValueError(f"[{host}] is not an IPvFuture address")
        return
    address, percent, zone = host.partition("%")
    try:
        socket.inet_pton(socket.AF_INET6, address)
    except (OSError, ValueError):
        raise ValueError(f"[{host}] is not an IPv6 address") from None
    if percent and (not zone or "%" in zone):
        raise ValueError(f"[{host}]: a zone after % must be one name")
