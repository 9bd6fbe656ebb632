"""cgminer's RPC framing on a TCP port (4028 by default).

One request per connection: JSON ``{"command": "...", "parameter": "..."}`` or plain text
``command|parameter``; ``a+b+c`` asks several report commands at once.  The reply is one JSON
object (or cgminer's text form for a text request) ending in NUL, and the server closes the
connection.  Limits keep the API from hurting the mining: at most ``MAX_CLIENTS`` requests are
served at once (more wait for the listen backlog), a client gets ``READ_TIMEOUT_S`` to send its
request and ``MAX_REQUEST`` bytes; the server threads never touch a device directly (the
commands read a cached snapshot, and settings go through the device layer's locks).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

from ...errors import ConfigError
from ..listen import Listener, bind_in_background, close_server
from .access import DEFAULT_ALLOW, Access
from .commands import DESCRIPTION, JOINABLE, ApiCommands
from .numbers import encode_json, number_text
from .reply import Reply

log = logging.getLogger("asicdrv.farm.api")

DEFAULT_PORT = 4028
MAX_REQUEST = 64 * 1024
READ_TIMEOUT_S = 2.0
MAX_CLIENTS = 32


def parse_listen(
    text: str, default_host: str = "127.0.0.1", default_port: int = DEFAULT_PORT
) -> tuple[str, int]:
    """``[HOST:]PORT`` (``[::1]:4028`` for IPv6)."""
    host, port = default_host, text
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536 or not host:
        raise ConfigError(f"listen address {text!r}: give [HOST:]PORT, e.g. 0.0.0.0:{default_port}")
    return host, int(port)


def parse_request(data: bytes) -> tuple[list[tuple[str, str | None]], bool, Reply | None]:
    """(commands with their parameter, JSON?, an error reply if the request is unusable)."""
    text = data.rstrip(b"\0").decode("utf-8", "replace").strip()
    is_json = text.startswith("{")
    if is_json:
        try:
            request = json.loads(text)
        except (ValueError, RecursionError):  # 30,000 brackets deep is not a request
            return [], True, Reply("E", 23, "Invalid JSON")
        if not isinstance(request, dict):
            return [], True, Reply("E", 23, "Invalid JSON")
        command = request.get("command")
        if not isinstance(command, str) or not command:
            return [], True, Reply("E", 24, "Missing JSON 'command'")
        parameter = request.get("parameter")
        if parameter is not None and not isinstance(parameter, (str, int, float)):
            return [], True, Reply("E", 23, "Invalid JSON")
        parameter = None if parameter is None else str(parameter)
    else:
        command, _, parameter = text.partition("|")
        parameter = parameter or None
    command = command.strip()
    if "+" in command:
        names = list(dict.fromkeys(c.strip() for c in command.split("+") if c.strip()))
        if not names:  # "+" alone joins nothing: cgminer's invalid command
            return [], is_json, Reply("E", 14, "Invalid command")
        return [(n, parameter) for n in names], is_json, None
    return [(command, parameter)], is_json, None


def status_section(reply: Reply) -> list[dict]:
    item = {
        "STATUS": reply.severity,
        "When": int(time.time()),
        "Code": reply.code,
        "Msg": reply.message,
    }
    if reply.code != 14:
        item["Description"] = DESCRIPTION
    return [item]


def to_json(reply: Reply) -> dict:
    if reply.special:
        return {"STATUS": reply.special, "id": 1}
    body: dict = {"STATUS": status_section(reply)}
    body.update(reply.sections or {})
    body["id"] = 1
    return body


# the sections cgminer names in a text reply ("SUMMARY,Elapsed=..."); the others' items go
# bare, each led by its own key ("ASC=0,...", "POOL=0,...", "STATS=0,..."): api.c opens these
# with ``isjson ? COMSTR JSON_X : _X COMSTR``
NAMED_IN_TEXT = frozenset(("VERSION", "CONFIG", "SUMMARY", "PGAS", "COIN", "DEBUG", "ASCS"))
NAMED_IN_TEXT |= {"LCD", "CHECK"}


def to_text(reply: Reply) -> str:
    """cgminer's text form: key=value,...| per item, a few sections named first."""
    if reply.special:
        return f"STATUS={reply.special}|"

    def item(name, values):
        fields = ",".join(f"{k}={_text_value(k, v)}" for k, v in values.items())
        return f"{name}{',' if name else ''}{fields}|"

    out = item("", status_section(reply)[0])
    for name, items in (reply.sections or {}).items():
        for values in items:
            out += item(name if name in NAMED_IN_TEXT else "", values)
    return out


def _text_value(name: str, value) -> str:
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float):
        text = number_text(name, value)
    else:
        text = str(value)
    for ch in "\\,|=":
        text = text.replace(ch, "\\" + ch)
    return text


class ApiServer:
    """Serves ``commands`` on ``(host, port)`` with ``allow`` access rules."""

    def __init__(
        self,
        commands: ApiCommands,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        allow: str = DEFAULT_ALLOW,
    ):
        self.commands = commands
        self.access = Access(allow)
        self.served = 0
        self.refused = 0
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._server, self._thread = bind_in_background(
            Listener, host, port, self._serve_client, "API", "asicdrv-api"
        )
        self.host, self.port = self._server.server_address[:2]

    def start(self) -> "ApiServer":
        self._thread.start()
        log.info("API on %s:%d (allow %s)", self.host, self.port, self.access.spec)
        return self

    def close(self) -> None:
        close_server(self._server, self._thread)

    def _serve_client(self, sock: socket.socket, client_address) -> None:
        """One connection: its request read, answered, and the connection closed."""
        if not self._slots.acquire(timeout=READ_TIMEOUT_S):
            self.refused += 1
            return  # too many at once: closed without a reply
        try:
            address = client_address[0]
            if self.access.level(address) is None:
                self.refused += 1
                log.info("API: refused %s (not in --api-allow)", address)
                return  # cgminer closes unknown addresses at once
            data = _read_request(sock)
            if data is None:
                self.refused += 1
                return
            sock.sendall(self.answer(data, address))
            self.served += 1
        except OSError:
            pass
        finally:
            self._slots.release()

    def answer(self, data: bytes, address: str) -> bytes:
        """The bytes to send back for one request from ``address``."""
        level = self.access.level(address)
        requests, is_json, failure = parse_request(data)
        if failure is not None:
            replies = [("", failure)]
        else:
            replies = []
            multi = len(requests) > 1
            for command, parameter in requests:
                if level is None:
                    reply = Reply("E", 45, f"Access denied to '{command}' command")
                elif multi and command not in JOINABLE:
                    reply = Reply("E", 45, f"Access denied to '{command}' command")
                else:
                    reply = self._run(command, parameter, level)
                replies.append((command, reply))
        if not is_json:
            text = "".join(to_text(r) for _, r in replies)
            return text.encode() + b"\0"
        if len(replies) == 1 and not (failure is None and len(requests) > 1):
            body = to_json(replies[0][1])
        else:
            body = {command: [to_json(reply)] for command, reply in replies}
            body["id"] = 1
        return encode_json(body).encode() + b"\0"

    def _run(self, command: str, parameter, level: str) -> Reply:
        try:
            return self.commands.run(command, parameter, level)
        except Exception as exc:  # noqa: BLE001 - a bug gets a status, not a dropped client
            log.exception("API: %s failed", command)
            return Reply(
                "E",
                14 if command == "" else 23,
                f"internal error in '{command}': {type(exc).__name__}",
            )


def _read_request(sock: socket.socket) -> bytes | None:
    """Until a complete JSON object, a NUL or newline, the client's half-close, or a short
    pause after some bytes; None for a silent or oversized client."""
    sock.settimeout(READ_TIMEOUT_S)
    deadline = time.monotonic() + READ_TIMEOUT_S
    data = b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            return None
        if b"\0" in data or b"\n" in data or _complete_json(data):
            break
        sock.settimeout(0.2)  # text requests have no terminator: a pause ends one
    return data if data.strip(b"\0 \r\n\t") else None


def _complete_json(data: bytes) -> bool:
    text = data.strip()
    if not text.startswith(b"{"):
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True
