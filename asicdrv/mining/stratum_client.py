"""One stratum v1 connection (:class:`StratumClient`): subscribe (resuming the session
after a reconnect), extranonce subscription, authorize, then jobs, difficulty and submit
replies as they come.

Everything a pool sends is untrusted: invalid JSON, a line over 64 KiB, a reply to an id we
never used, a notify with bad fields are logged and survived; only a stream that stays
unusable (``MAX_BAD_LINES`` bad lines in a row) is dropped.  Avalon 8 boards cannot roll the
block version, so ``mining.configure`` (version rolling) is never sent.  Callbacks run on the
client's reader thread; keep them short.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from collections import Counter

from firmware_protocols.records import record

from .._version import VERSION
from ..device.shares import Share
from ..errors import JobError, PoolError
from .pool_config import PoolAuthError, PoolConfig
from .stratum import StratumJob, parse_difficulty

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

log = logging.getLogger("asicdrv.mining.pool")

USER_AGENT = f"asicdrv/{VERSION}"
MAX_LINE = 64 * 1024
MAX_BAD_LINES = 20  # in a row: the stream is unusable, reconnect
REPLY_TIMEOUT_S = 30.0
READ_WAKE_S = 5.0  # the reader looks at its closed flag at least this often
CONNECT_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 5.0
# stratum error codes as pools send them (the de facto list from the slush/ckpool family)
REJECT_CODES = {
    20: "other",
    21: "job not found",
    22: "duplicate",
    23: "low difficulty",
    24: "unauthorized",
    25: "not subscribed",
}


@record
class _Pending:
    method: str
    sent: float
    share: Share | None = None
    tag: object = None
    done: threading.Event | None = None
    result: object = None
    error: object = None


class StratumClient:
    """One connection to one pool.  ``connect()`` returns once subscribed and authorized
    (or raises :class:`PoolError`); jobs then come through ``on_job`` and share verdicts
    through ``on_result(tag, share, accepted, reason)``: ``accepted`` is True or False as the
    pool said, None when its reply never came (the connection closed first, or
    ``reply_timeout`` passed): the pool may have taken the share or never seen it."""

    def __init__(
        self,
        config: PoolConfig,
        *,
        on_job: Callable[[StratumJob], None],
        on_result: Callable[[object, Share, bool | None, str | None], None],
        on_reconnect: Callable[[str, int, float], None] | None = None,
        session_id: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        reply_timeout: float = REPLY_TIMEOUT_S,
    ):
        self.config = config
        self.host, self.port = config.address
        self._on_job = on_job
        self._on_result = on_result
        self._on_reconnect = on_reconnect
        self.session_id = session_id
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.extranonce1: str | None = None
        self.extranonce2_size: int | None = None
        self.difficulty = 1.0  # for the next job (set_difficulty applies then)
        self.last_job_time: float | None = None
        self.line_received = 0.0
        self.errors: Counter = Counter()  # what the pool sent that we could not use
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._pending_lock = threading.Lock()
        self._next_id = 1
        self._closed = threading.Event()
        self._close_reason = ""
        self._reader: threading.Thread | None = None

    # --- connection ----------------------------------------------------------------------
    def connect(self) -> None:
        try:
            self._sock = socket.create_connection(
                # bytes work (getaddrinfo takes them); typeshed lists str only
                (_ascii_as_bytes(self.host), self.port),  # type: ignore[arg-type]
                timeout=self.connect_timeout,
            )
        except OSError as exc:
            raise PoolError(f"{self.config.url}: cannot connect ({exc.strerror or exc})") from None
        self._sock.settimeout(SEND_TIMEOUT_S)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = threading.Thread(
            target=self._read_loop, daemon=True, name=f"asicdrv-pool-{self.host}:{self.port}"
        )
        self._reader.start()
        try:
            self._handshake()
        except BaseException:
            self.close("handshake failed")
            raise

    def _handshake(self) -> None:
        params = [USER_AGENT] + ([self.session_id] if self.session_id else [])
        result = self._call("mining.subscribe", params)
        if self.extranonce1 is None:  # the reader took what it could use
            raise PoolError(f"{self.config.url}: a subscribe reply we cannot use: {result!r:.120}")
        self._send("mining.extranonce.subscribe", [])  # a pool may not know it: fine
        try:
            authorized = self._call("mining.authorize", [self.config.user, self.config.password])
        except PoolError as exc:
            if not self.alive:
                raise
            authorized, why = False, f" ({exc})"
        else:
            why = ""
        if authorized is not True:
            raise PoolAuthError(
                f"{self.config.url}: authorization of {self.config.user!r} refused{why}"
            )

    def wait_closed(self, timeout: float) -> bool:
        """True once the connection is closed; False after ``timeout`` seconds."""
        return self._closed.wait(timeout)

    def close(self, reason: str = "closed") -> None:
        if self._closed.is_set():
            return
        self._close_reason = reason
        self._closed.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        with self._pending_lock:
            waiting, self._pending = self._pending, {}
        for pending in waiting.values():
            if pending.done is not None:
                pending.done.set()
            elif pending.share is not None:
                self._on_result(pending.tag, pending.share, None, "connection lost")

    @property
    def alive(self) -> bool:
        return not self._closed.is_set()

    @property
    def close_reason(self) -> str:
        return self._close_reason

    # --- requests --------------------------------------------------------------------------
    def submit(self, share: Share, tag: object = None) -> None:
        """Send ``mining.submit``; the verdict comes through ``on_result`` (also when the
        connection drops first: unknown, reason "connection lost")."""
        self._send("mining.submit", share.submit_params(self.config.user), share=share, tag=tag)

    def pending_submits(self) -> int:
        with self._pending_lock:
            return sum(1 for p in self._pending.values() if p.share is not None)

    def pending_requests(self) -> list[tuple[str, float]]:
        """(method, seconds waiting) of every request still awaiting its reply."""
        now = time.monotonic()
        with self._pending_lock:
            return [(p.method, now - p.sent) for p in self._pending.values()]

    def expire(self, now: float | None = None) -> None:
        """Requests with no reply after ``reply_timeout`` are forgotten: a submit's verdict
        is then unknown ("no reply"); a request nobody waits for (``extranonce.subscribe``,
        which ckpool drops without a word) is dropped.  A caller waiting in ``_call`` times
        out on its own."""
        now = time.monotonic() if now is None else now
        with self._pending_lock:
            old = [
                k
                for k, p in self._pending.items()
                if p.done is None and now - p.sent > self.reply_timeout
            ]
            expired = [self._pending.pop(k) for k in old]
        for pending in expired:
            if pending.share is not None:
                self._on_result(pending.tag, pending.share, None, "no reply")
            else:
                log.debug("pool %s: no reply to %s", self.config.url, pending.method)

    def _call(self, method: str, params: list):
        pending = self._send(method, params, done=threading.Event())
        if not pending.done.wait(self.reply_timeout) or not self.alive:
            with self._pending_lock:  # nobody waits for it any more
                self._pending = {k: p for k, p in self._pending.items() if p is not pending}
            hint = ""
            if self.alive and method == "mining.subscribe":
                hint = (
                    f" in {self.reply_timeout:g} s: not a stratum v1 pool, or a proxy that "
                    f"serves only its own kind (e.g. ckpool in passthrough mode, -P)"
                )
            raise PoolError(
                f"{self.config.url}: no reply to {method}{hint}"
                f"{' (' + self._close_reason + ')' if not self.alive else ''}"
            )
        if pending.error is not None:
            raise PoolError(f"{self.config.url}: {method} refused: {_error_text(pending.error)}")
        return pending.result

    def _send(self, method: str, params: list, **fields) -> _Pending:
        pending = _Pending(method, time.monotonic(), **fields)
        with self._pending_lock:
            request, self._next_id = self._next_id, self._next_id + 1
            self._pending[request] = pending
        self._write({"id": request, "method": method, "params": params})
        return pending

    def _write(self, message: dict) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        try:
            with self._send_lock:
                if self._sock is None or self._closed.is_set():
                    raise OSError("not connected")
                self._sock.sendall(data)
        except OSError as exc:
            self.close(f"send failed: {exc}")
            raise PoolError(f"{self.config.url}: connection lost ({exc})") from None

    # --- the reader ------------------------------------------------------------------------
    def _read_loop(self) -> None:
        buffer = b""
        skipping = False  # inside an oversized line: drop up to its newline
        bad_in_a_row = 0
        reason = "closed by the pool"
        sock = self._sock
        assert sock is not None  # the reader starts once connected
        try:
            while not self._closed.is_set():
                # close() shuts the socket down, which wakes this at once: the timeout
                # is a backstop, not a poll
                ready, _, _ = select.select([sock], [], [], READ_WAKE_S)
                if not ready:
                    continue
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while True:
                    newline = buffer.find(b"\n")
                    if newline < 0:
                        if len(buffer) > MAX_LINE:
                            if not skipping:
                                self._bad("line over 64 KiB", buffer[:60])
                                bad_in_a_row += 1
                            skipping, buffer = True, b""
                        break
                    line, buffer = buffer[:newline], buffer[newline + 1 :]
                    if skipping:
                        skipping = False
                        continue
                    if len(line) > MAX_LINE:
                        self._bad("line over 64 KiB", line[:60])
                        bad_in_a_row += 1
                    elif line.strip():
                        bad_in_a_row = 0 if self._handle_line(line) else bad_in_a_row + 1
                    if bad_in_a_row >= MAX_BAD_LINES:
                        reason = f"{MAX_BAD_LINES} unusable lines in a row"
                        raise ConnectionError(reason)
        except (OSError, ValueError, ConnectionError) as exc:
            if not self._closed.is_set() and not isinstance(exc, ConnectionError):
                reason = f"read failed: {exc}"
        except Exception as exc:  # noqa: BLE001 - a bug in a handler must not kill us silently
            log.exception("pool %s: reader stopped", self.config.url)
            reason = f"reader stopped: {type(exc).__name__}: {exc}"
        self.close(reason)

    def _bad(self, what: str, sample: bytes) -> None:
        self.errors[what] += 1
        log.warning("pool %s: %s: %r", self.config.url, what, sample[:60])

    def _handle_line(self, line: bytes) -> bool:
        """One message; False when it was unusable."""
        self.line_received = time.perf_counter()  # for the dispatch latency figure
        try:
            message = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            self._bad("invalid JSON", line)
            return False
        if not isinstance(message, dict):
            self._bad("not a JSON object", line)
            return False
        method = message.get("method")
        if isinstance(method, str):
            return self._handle_request(method, message.get("params"), message.get("id"))
        return self._handle_reply(message, line)

    def _handle_reply(self, message: dict, line: bytes) -> bool:
        request = message.get("id")
        with self._pending_lock:
            pending = self._pending.pop(request, None) if isinstance(request, int) else None
        if pending is None:
            self._bad("reply to an unknown id", line)
            return True  # harmless: a late or foreign reply
        pending.result, pending.error = message.get("result"), message.get("error")
        if pending.method == "mining.subscribe" and not pending.error:
            # taken here, before the notify that follows it on the same stream
            self._take_subscription(pending.result)
        if pending.done is not None:
            pending.done.set()
        elif pending.share is not None:
            accepted = pending.result is True and not pending.error
            reason = None
            if not accepted:  # ckpool: error null, the reason in "reject-reason"
                reason = (
                    _reject_reason(pending.error)
                    or _reject_reason(message.get("reject-reason"))
                    or "rejected"
                )
            self._on_result(pending.tag, pending.share, accepted, reason)
        elif pending.error and pending.method != "mining.extranonce.subscribe":
            log.info(
                "pool %s: %s refused: %s",
                self.config.url,
                pending.method,
                _error_text(pending.error),
            )
        return True

    def _take_subscription(self, result) -> None:
        try:
            subscriptions, extranonce = result[0], _extranonce(result[1], result[2])
        except (TypeError, IndexError, KeyError):
            return
        if extranonce is not None:
            self.extranonce1, self.extranonce2_size = extranonce
            self.session_id = _session_id(subscriptions) or self.session_id

    def _handle_request(self, method: str, params, request) -> bool:
        if not isinstance(params, list):
            params = [] if params is None else [params]
        if method == "mining.notify":
            return self._notify(params)
        if method == "mining.set_difficulty":
            try:
                self.difficulty = parse_difficulty(params[0] if params else None)
            except JobError as exc:
                self._bad(f"bad set_difficulty ({exc})", repr(params).encode())
                return False
            log.info("pool %s: difficulty %g from the next job", self.config.url, self.difficulty)
            return True
        if method == "mining.set_extranonce":
            extranonce = _extranonce(*params[:2]) if len(params) >= 2 else None
            if extranonce is None:
                self._bad("bad set_extranonce", repr(params).encode())
                return False
            self.extranonce1, self.extranonce2_size = extranonce
            log.info(
                "pool %s: extranonce1 %s, extranonce2 size %d from the next job",
                self.config.url,
                *extranonce,
            )
            return True
        if method == "client.reconnect":
            return self._reconnect_request(params)
        if method == "client.show_message":
            log.warning("pool %s says: %s", self.config.url, str(params[:1])[:500])
            return True
        if method == "client.get_version":
            self._reply(request, USER_AGENT)
            return True
        if method == "mining.ping":  # ckpool's keep-alive; cgminer answers "pong"
            log.debug("pool %s: ping", self.config.url)
            self._reply(request, "pong")
            return True
        self._bad(f"unknown method {method[:40]!r}", method.encode())
        if request is not None:
            self._reply(request, None, [20, "Method not found", None])
        return True

    def _notify(self, params: list) -> bool:
        try:
            job = StratumJob.from_notify(
                params,
                extranonce1=self.extranonce1 or "",
                extranonce2_size=self.extranonce2_size or 0,
                difficulty=self.difficulty,
            )
        except JobError as exc:
            self._bad(f"unusable notify ({exc})", repr(params).encode())
            return False
        self.last_job_time = time.monotonic()
        self._on_job(job)
        return True

    def _reconnect_request(self, params: list) -> bool:
        host = params[0] if params and isinstance(params[0], str) and params[0] else self.host
        try:
            port = int(params[1]) if len(params) > 1 and params[1] not in (None, "") else self.port
            wait = float(params[2]) if len(params) > 2 and params[2] not in (None, "") else 0.0
        except (TypeError, ValueError):
            self._bad("bad client.reconnect", repr(params).encode())
            return False
        if host != self.host:
            # as cgminer: never follow a redirect to another host (a hijacked pool could
            # send the hash rate anywhere)
            log.warning(
                "pool %s: ignored client.reconnect to another host %r", self.config.url, host[:80]
            )
            return True
        if not 0 < port < 65536 or not 0 <= wait <= 3600:
            self._bad("bad client.reconnect", repr(params).encode())
            return False
        log.info("pool %s: asked to reconnect to port %d in %gs", self.config.url, port, wait)
        if self._on_reconnect is not None:
            self._on_reconnect(host, port, wait)
        return True

    def _reply(self, request, result, error=None) -> None:
        try:
            self._write({"id": request, "result": result, "error": error})
        except PoolError:
            pass


def _extranonce(extranonce1, size) -> tuple[str, int] | None:
    """(extranonce1, extranonce2 size) as a pool sends them, or None if unusable."""
    try:
        bytes.fromhex(extranonce1)
    except (TypeError, ValueError):
        return None
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 16:
        return None
    return extranonce1, size


def _session_id(subscriptions) -> str | None:
    """The session id to resume with: the ``mining.notify`` subscription's id."""
    if isinstance(subscriptions, list):
        for item in subscriptions:
            if (
                isinstance(item, list)
                and len(item) == 2
                and item[0] == "mining.notify"
                and isinstance(item[1], str)
            ):
                return item[1]
        if len(subscriptions) == 2 and subscriptions[0] == "mining.notify":
            return subscriptions[1] if isinstance(subscriptions[1], str) else None
    return None


def _error_text(error) -> str:
    if isinstance(error, list) and len(error) >= 2:
        return f"{error[1]} (code {error[0]})"
    return str(error)[:200]


def _reject_reason(error) -> str | None:
    """A short reason: the pool's message, or the standard name of its code."""
    if isinstance(error, list) and len(error) >= 2:
        code, text = error[0], error[1]
        if isinstance(text, str) and text.strip():
            return text.strip().lower()[:80]
        return REJECT_CODES.get(code, f"code {code}")
    if isinstance(error, dict):
        return str(error.get("message", "rejected")).lower()[:80]
    if isinstance(error, str):
        return error.lower()[:80]
    return None


def _ascii_as_bytes(host: str) -> str | bytes:
    """An ASCII host name as bytes: ``socket`` then needs no IDNA codec (it loads the
    Unicode database: 0.6 MiB resident for the controller's whole life); an
    internationalised name goes as given."""
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        return host


# --- a pool kept connected ---------------------------------------------------------------------
POOL_STATES = ("disabled", "connecting", "alive", "dead", "refused")
