"""A stratum v1 pool for tests: it serves jobs and checks every submitted share itself.

    with TestPool(difficulty=2 ** -21) as pool:      # 127.0.0.1, a free port
        run_your_controller(pool.url, user="test.worker")
        pool.wait_for_shares(10)
        assert not pool.rejected

Shares are verified with ``hashlib`` only (coinbase, merkle root, header, SHA-256d against
the difficulty the connection had when the job was sent), never with asicdrv's own code, so
a test against it judges the driver rather than agreeing with it.  The pool can change
difficulty, send clean jobs, ask clients to reconnect, drop them, send raw lines, refuse
authorization, reject or delay replies, and stop and start again on the same port.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
import time
from collections import Counter, OrderedDict, deque

from .pool_jobs import DIFF1_TARGET, PoolJob, SubmittedShare

JOBS_KEPT = 8


class _Client(socketserver.StreamRequestHandler):
    server: "_Server"

    def setup(self):
        super().setup()
        self.lock = threading.Lock()
        self.extranonce1 = b""
        self.session = ""
        self.subscribed = False
        self.authorized: set[str] = set()
        self.fenced: set[str] = set()  # clean jobs this client has surely processed
        self.difficulty = self.server.pool.difficulty  # for the next job
        # what each job was sent under: (difficulty, extranonce1, extranonce2 size); a
        # change (set_difficulty, set_extranonce) applies from the next job, as stratum says
        self.job_terms: dict[str, tuple[float, bytes, int]] = {}
        self.pool = self.server.pool
        self.pool._joined(self)

    def handle(self):
        while True:
            try:
                line = self.rfile.readline(1 << 20)
            except OSError:
                return
            if not line:
                return
            self.pool.lines_received += 1
            try:
                message = json.loads(line)
                if "method" not in message:  # a reply to our own request
                    self.pool._client_reply(self, message)
                    continue
                method, params, request = (
                    message["method"],
                    message.get("params", []),
                    message.get("id"),
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                self.pool.bad_lines += 1
                continue
            self.pool._handle(self, method, params if isinstance(params, list) else [], request)

    def finish(self):
        self.pool._left(self)
        try:
            super().finish()
        except OSError:
            pass

    def send(self, message) -> None:
        data = message if isinstance(message, bytes) else (json.dumps(message) + "\n").encode()
        with self.lock:
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except (OSError, ValueError):  # the connection is gone
                pass

    def drop(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, pool: "TestPool"):
        self.pool = pool
        super().__init__(address, _Client)


class TestPool:
    """A local stratum pool (see the module doc).  Knobs, all settable while it runs:
    ``authorize`` (False refuses every worker), ``reject`` (None, or a (code, message)
    every submit gets), ``reply_delay`` (seconds before a submit's reply), ``send_jobs``
    (False: it stays silent after subscribe).  And ckpool's ways (its stratifier.c):
    ``reject_reason_field`` (a rejection as ``error`` null and the reason in
    ``reject-reason``), ``answer_extranonce_subscribe`` (False: dropped without a reply),
    ``deaf`` (True: submits are not read at all, as ckpool while its upstream is gone),
    :meth:`ping` (``mining.ping``; the answers land in :attr:`replies`),
    :meth:`resend_job` (the same work again under a new job id) and
    ``reconnect(empty=True)``."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        difficulty: float = 1.0,
        extranonce2_size: int = 4,
        host: str = "127.0.0.1",
        port: int = 0,
        job_interval: float | None = None,
        authorize: bool = True,
        seed: int | None = None,
        keep: int | None = None,
    ):
        self.difficulty = float(difficulty)
        self.extranonce2_size = extranonce2_size
        self.host, self.port = host, port
        self.job_interval = job_interval
        self.authorize = authorize
        self.reject: tuple[int, str] | None = None
        self.reply_delay = 0.0
        self.send_jobs = True
        self.reject_reason_field = False
        self.answer_extranonce_subscribe = True
        self.deaf = False
        self.unheard = 0  # submits not read while deaf
        self.replies: list[dict] = []  # what clients answered to our own requests
        # every submitted share, or the last ``keep`` (a long soak); ``counts`` has them all
        self.shares: list[SubmittedShare] | deque = [] if keep is None else deque(maxlen=keep)
        self.counts: Counter = Counter()  # "accepted" and each reject message
        self.subscriptions: list[list] = []  # subscribe params, per connection
        self.connections = 0
        self.lines_received = 0
        self.bad_lines = 0
        self.methods: Counter = Counter()  # every method a client called
        self._clients: list[_Client] = []
        self._jobs: OrderedDict[str, PoolJob] = OrderedDict()
        self._seen: dict[str, set] = {}  # job id -> shares seen (while it lives)
        self._flushed_by: OrderedDict[str, str] = OrderedDict()  # job -> clean job after it
        self._sessions: dict[str, bytes] = {}
        self._lock = threading.RLock()
        self._job_counter = 0
        self._random = os.urandom if seed is None else _seeded(seed)
        self._server: _Server | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self.new_job(clean=True, broadcast=False)

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> "TestPool":
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True, name="testpool").start()
        self._stop.clear()
        if self.job_interval and self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every connection (the port can be reused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.drop_clients()

    def close(self) -> None:
        self._stop.set()
        self.stop()

    def __enter__(self) -> "TestPool":
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"stratum+tcp://{self.host}:{self.port}"

    # --- what a test does to the pool ---------------------------------------------------------
    def new_job(self, clean: bool = False, broadcast: bool = True) -> PoolJob:
        with self._lock:
            self._job_counter += 1
            job = PoolJob(
                f"{self._job_counter:x}",
                self._random(32),
                bytes.fromhex(
                    "01000000010000000000000000000000000000000000000000"
                    "000000000000000000000000ffffffff20"
                )
                + self._random(8),
                self._random(12)
                + bytes.fromhex("ffffffff0100f2052a010000001976a914")
                + self._random(20)
                + bytes.fromhex("88ac00000000"),
                [self._random(32) for _ in range(2)],
                0x20000000,
                0x1D00FFFF,
                int(time.time()),
                clean,
            )
            if clean:
                for old in self._jobs:
                    self._flushed_by[old] = job.job_id
                    self._seen.pop(old, None)
                self._jobs.clear()
                while len(self._flushed_by) > 1000:
                    self._flushed_by.popitem(last=False)
            self._keep_job(job)
            clients = list(self._clients)
        if broadcast and self.send_jobs:
            for client in clients:
                self._send_job(client, job)
        return job

    def _keep_job(self, job: PoolJob) -> None:
        """Remember ``job`` (the last JOBS_KEPT live); called with the lock held."""
        self._jobs[job.job_id] = job
        while len(self._jobs) > JOBS_KEPT:
            self._seen.pop(self._jobs.popitem(last=False)[0], None)

    @property
    def job(self) -> PoolJob:
        with self._lock:
            return next(reversed(self._jobs.values()))

    def set_difficulty(self, difficulty: float, new_job: bool = True) -> None:
        """New difficulty to every client; it applies from the next job (sent now unless
        ``new_job`` is False)."""
        self.difficulty = float(difficulty)
        for client in self.clients():
            client.difficulty = self.difficulty
            client.send(
                {"id": None, "method": "mining.set_difficulty", "params": [self.difficulty]}
            )
        if new_job:
            self.new_job(clean=False)

    def reconnect(self, port: int | None = None, wait: int = 0, empty: bool = False) -> None:
        """``client.reconnect`` to every client: here again (or ``port``) after ``wait``
        seconds; ``empty`` sends no params at all, as ckpool does."""
        params = [] if empty else [self.host, port or self.port, wait]
        for client in self.clients():
            client.send({"id": None, "method": "client.reconnect", "params": params})

    def ping(self) -> None:
        """ckpool's keep-alive: ``mining.ping`` to every client, answers in :attr:`replies`."""
        for n, client in enumerate(self.clients()):
            client.send({"id": f"ping-{n}", "method": "mining.ping", "params": []})

    def resend_job(self) -> PoolJob:
        """The current job's work again under a new job id (not clean), as a pool does
        that re-announces unchanged work."""
        with self._lock:
            self._job_counter += 1
            same = self.job
            job = PoolJob(
                f"{self._job_counter:x}",
                same.prevhash,
                same.coinb1,
                same.coinb2,
                same.branches,
                same.version,
                same.nbits,
                same.ntime,
                False,
            )
            self._keep_job(job)
            clients = list(self._clients)
        for client in clients:
            self._send_job(client, job)
        return job

    def set_extranonce(self, extranonce2_size: int | None = None) -> None:
        """A new extranonce1 for every client (``mining.set_extranonce``), then a clean job:
        shares must use the new one from that job on."""
        size = self.extranonce2_size if extranonce2_size is None else extranonce2_size
        self.extranonce2_size = size
        for client in self.clients():
            client.extranonce1 = self._random(4)
            with self._lock:
                self._sessions[client.session] = client.extranonce1
            client.send(
                {
                    "id": None,
                    "method": "mining.set_extranonce",
                    "params": [client.extranonce1.hex(), size],
                }
            )
        self.new_job(clean=True)

    def show_message(self, text: str) -> None:
        for client in self.clients():
            client.send({"id": None, "method": "client.show_message", "params": [text]})

    def send_raw(self, data: bytes) -> None:
        for client in self.clients():
            client.send(data)

    def drop_clients(self) -> None:
        for client in self.clients():
            client.drop()

    def clients(self) -> list[_Client]:
        with self._lock:
            return list(self._clients)

    # --- results ------------------------------------------------------------------------------
    @property
    def accepted(self) -> list[SubmittedShare]:
        return [s for s in self.shares if s.accepted]

    @property
    def rejected(self) -> list[SubmittedShare]:
        return [s for s in self.shares if not s.accepted]

    def wait_for_shares(
        self, count: int, timeout: float = 30.0, accepted_only: bool = True
    ) -> list[SubmittedShare]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shares = self.accepted if accepted_only else list(self.shares)
            if len(shares) >= count:
                return shares
            time.sleep(0.02)
        raise TimeoutError(
            f"{len(self.accepted)} accepted shares of {count} after "
            f"{timeout:g} s ({len(self.rejected)} rejected)"
        )

    def wait_for_clients(self, count: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for c in self.clients() if c.authorized) >= count:
                return
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.clients())} client(s) after {timeout:g} s")

    # --- protocol -----------------------------------------------------------------------------
    def _joined(self, client: _Client) -> None:
        with self._lock:
            self._clients.append(client)
            self.connections += 1

    def _left(self, client: _Client) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def _send_job(self, client: _Client, job: PoolJob) -> None:
        if not client.subscribed:
            return
        client.job_terms[job.job_id] = (
            client.difficulty,
            client.extranonce1,
            self.extranonce2_size,
        )
        while len(client.job_terms) > 4 * JOBS_KEPT:
            client.job_terms.pop(next(iter(client.job_terms)))
        client.send({"id": None, "method": "mining.notify", "params": job.notify_params()})
        if job.clean:
            # a request right behind the notify: its reply proves the client read the
            # notify first (stratum clients answer in order), so a share of a flushed job
            # arriving after that reply is one the client knew was stale
            client.send({"id": f"fence-{job.job_id}", "method": "client.get_version", "params": []})

    def _client_reply(self, client: _Client, message: dict) -> None:
        request = message.get("id")
        if isinstance(request, str) and request.startswith("fence-"):
            client.fenced.add(request[len("fence-") :])
        else:
            self.replies.append(message)

    def _handle(self, client: _Client, method: str, params: list, request) -> None:
        self.methods[method] += 1
        if method == "mining.subscribe":
            session = params[1] if len(params) > 1 and isinstance(params[1], str) else None
            with self._lock:
                self.subscriptions.append(list(params))
                if session in self._sessions:
                    client.session, client.extranonce1 = session, self._sessions[session]
                else:
                    client.session = self._random(8).hex()
                    client.extranonce1 = self._random(4)
                    self._sessions[client.session] = client.extranonce1
            client.subscribed = True
            client.send(
                {
                    "id": request,
                    "error": None,
                    "result": [
                        [
                            ["mining.set_difficulty", client.session],
                            ["mining.notify", client.session],
                        ],
                        client.extranonce1.hex(),
                        self.extranonce2_size,
                    ],
                }
            )
            client.send(
                {"id": None, "method": "mining.set_difficulty", "params": [client.difficulty]}
            )
            if self.send_jobs:
                self._send_job(client, self.job)
        elif method == "mining.authorize":
            worker = params[0] if params and isinstance(params[0], str) else ""
            if self.authorize and worker:
                client.authorized.add(worker)
                client.send({"id": request, "result": True, "error": None})
            else:
                client.send(
                    {"id": request, "result": False, "error": [24, "Unauthorized worker", None]}
                )
        elif method == "mining.extranonce.subscribe":
            if self.answer_extranonce_subscribe:
                client.send({"id": request, "result": True, "error": None})
        elif method == "mining.submit":
            if self.deaf:
                self.unheard += 1
                return
            verdict = self._check(client, params)
            reply = _reply(request, verdict, self.reject_reason_field)
            if self.reply_delay:
                threading.Timer(self.reply_delay, client.send, args=(reply,)).start()
            else:
                client.send(reply)
        else:
            client.send({"id": request, "result": None, "error": [20, "Method not found", None]})

    def _check(self, client: _Client, params: list) -> tuple[int, str] | None:
        """None for a good share, else (code, message) as pools answer."""
        try:
            worker, job_id, extranonce2, ntime, nonce = params[:5]
            en2 = bytes.fromhex(extranonce2)
            ntime_value, nonce_value = int(ntime, 16), int(nonce, 16)
        except (ValueError, TypeError):
            return self._record(client, params, None, 0, 0, (20, "Malformed submit"))
        if worker not in client.authorized:
            return self._record(client, params, None, 0, 0, (24, "Unauthorized worker"))
        with self._lock:
            job = self._jobs.get(job_id)
        target_difficulty, extranonce1, en2_size = client.job_terms.get(
            job_id, (client.difficulty, client.extranonce1, self.extranonce2_size)
        )
        if job is None:
            knew = self._flushed_by.get(job_id) in client.fenced
            return self._record(
                client, params, None, 0, target_difficulty, (21, "Job not found (stale)"), knew
            )
        if len(en2) != en2_size:
            return self._record(
                client, params, None, 0, target_difficulty, (20, "Incorrect size of extranonce2")
            )
        if not job.ntime <= ntime_value <= job.ntime + 7200:
            return self._record(
                client, params, None, 0, target_difficulty, (20, "ntime out of range")
            )
        digest = job.share_hash(extranonce1, en2, ntime_value, nonce_value)
        value = int.from_bytes(digest, "little")
        difficulty = DIFF1_TARGET / max(value, 1)
        key = (extranonce1, en2, ntime_value, nonce_value)
        with self._lock:
            seen = self._seen.setdefault(job_id, set())
            duplicate = key in seen
            seen.add(key)
        if duplicate:
            return self._record(
                client, params, None, difficulty, target_difficulty, (22, "Duplicate share")
            )
        if value > DIFF1_TARGET / target_difficulty:
            return self._record(
                client, params, None, difficulty, target_difficulty, (23, "Low difficulty share")
            )
        return self._record(client, params, job, difficulty, target_difficulty, self.reject)

    def _record(self, client, params, job, difficulty, target, verdict, knew=False):
        worker, job_id, en2, ntime, nonce = (list(params) + [""] * 5)[:5]
        try:
            ntime_value, nonce_value = int(ntime, 16), int(nonce, 16)
        except (TypeError, ValueError):
            ntime_value = nonce_value = -1
        self.counts["accepted" if verdict is None else verdict[1]] += 1
        self.shares.append(
            SubmittedShare(
                str(worker),
                str(job_id),
                str(en2),
                ntime_value,
                nonce_value,
                difficulty,
                target,
                verdict is None,
                None if verdict is None else verdict[1],
                knew,
            )
        )
        return verdict

    def _tick(self) -> None:
        while not self._stop.wait(self.job_interval):
            if self._server is not None:
                self.new_job(clean=False)


def _reply(request, verdict, reason_field: bool = False) -> dict:
    if verdict is None:
        return {"id": request, "result": True, "error": None}
    if reason_field:  # ckpool: error null, the reason in a field of its own
        return {"id": request, "result": False, "error": None, "reject-reason": verdict[1]}
    return {"id": request, "result": False, "error": [verdict[0], verdict[1], None]}


def _seeded(seed: int):
    import random

    rng = random.Random(seed)
    return lambda n: bytes(rng.getrandbits(8) for _ in range(n))
