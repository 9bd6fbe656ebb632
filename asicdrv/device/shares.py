"""Host-side nonce verification: every NONCE the MM sends is rebuilt into a header and
hashed; what passes becomes a :class:`Share`, everything else is counted with a reason.

The last four jobs stay valid (cgminer keeps the current pool job and three copies).  Jobs
the host retired on purpose (older than that, or flushed by a work restart) are remembered a
while longer, so their late nonces count as ``stale``, not as hardware errors.

A nonce is a hardware error when its hash misses the TARGET the host sent the MM (the MM
must forward nothing else), or when its job is one the host never sent.
"""

from __future__ import annotations

import queue
import time
from collections import Counter, OrderedDict, deque

from firmware_protocols.records import field, record

from ..bitcoin.core import (
    DIFF1_TARGET,
    build_header,
    display_hash,
    hash_value,
    merkle_root,
    sha256d,
    target_for_difficulty,
)
from ..models import DIFFMAX_AVALON8
from ..mining.stratum import StratumJob

JOBS_KEPT = 4
RETIRED_KEPT = 256
DEVICE_DIFFICULTY_CAP = DIFFMAX_AVALON8  # the TARGET sent is capped at this by default
HW_ERROR_REASONS = ("bad_hash", "unknown_job")


def device_target(difficulty: float, cap: float = DEVICE_DIFFICULTY_CAP) -> int:
    """The target the MM filters by for a job of ``difficulty`` (TARGET packet), with the
    generation's cap (DIFFMAX: A4 1024, A7 500, A8 and later 2700)."""
    return target_for_difficulty(min(difficulty, cap))


@record(frozen=True)
class Share:
    job_id: str
    extranonce2: str  # hex, as placed in the coinbase (nonce2 little-endian)
    ntime: int
    nonce: int
    hash: str  # display order
    difficulty: float
    is_block: bool
    module: int
    miner: int
    chip: int
    pool: int = 0  # the pool index the job was submitted with
    job_difficulty: float = 0.0  # the pool's difficulty for its job (the share meets it)
    verified_at: float = field(default=0.0, compare=False, repr=False)  # perf_counter()

    def submit_params(self, worker: str) -> list[str]:
        """The ``mining.submit`` params: worker, job_id, extranonce2, ntime, nonce."""
        return [worker, self.job_id, self.extranonce2, f"{self.ntime:08x}", f"{self.nonce:08x}"]


@record
class _JobEntry:
    job: StratumJob
    pool: int
    target: int
    roots: OrderedDict = field(default_factory=OrderedDict)  # nonce2 -> merkle root
    # nonces already verified for this job: kept only while the job is (a retired job's
    # nonces are refused before the duplicate check), so memory stays bounded
    seen: set = field(default_factory=set)

    def merkle(self, nonce2: int) -> bytes:
        root = self.roots.get(nonce2)
        if root is None:
            root = merkle_root(self.job.coinbase(nonce2), list(self.job.merkle_branch))
            self.roots[nonce2] = root
            if len(self.roots) > 256:
                self.roots.popitem(last=False)
        return root


class NonceVerifier:
    """Turns NONCE payloads into shares.  Rejections are counted in :attr:`rejected`:
    ``unknown_job`` (a job the host never sent: a hardware error), ``stale`` (a job the host
    retired), ``bad_hash`` (misses the TARGET sent: a hardware error), ``duplicate``,
    ``below_target`` (valid, but under the job's difficulty: counted, not delivered),
    ``boot_test`` (a 4-mini's answer to its own power-on core test, work id 0)."""

    def __init__(self):
        self._jobs: deque[tuple[tuple[int, int], _JobEntry]] = deque(maxlen=JOBS_KEPT)
        self._retired: OrderedDict = OrderedDict()  # (crc, pool) -> None
        self.rejected: Counter = Counter()
        self.accepted = 0
        self.last_device_work = 0.0  # hashes the last nonce that met its target stands for

    def add_job(
        self,
        job: StratumJob,
        pool: int = 0,
        restart: bool = False,
        difficulty_cap: float = DEVICE_DIFFICULTY_CAP,
    ) -> None:
        """A job sent to the MMs; ``restart`` (a work restart) retires every earlier one;
        ``difficulty_cap`` is the TARGET cap the job went out with."""
        if restart:
            while self._jobs:
                self._retire(self._jobs.popleft()[0])
        elif len(self._jobs) == JOBS_KEPT:
            self._retire(self._jobs[0][0])
        key = (job.job_crc, pool)
        self._retired.pop(key, None)
        self._jobs.append(
            (key, _JobEntry(job, pool, device_target(job.difficulty, difficulty_cap)))
        )

    def retire_all(self) -> None:
        """Every job so far is stale (the pool went away, the boards were idled)."""
        while self._jobs:
            self._retire(self._jobs.popleft()[0])

    def _retire(self, key) -> None:
        self._retired[key] = None
        self._retired.move_to_end(key)
        if len(self._retired) > RETIRED_KEPT:
            self._retired.popitem(last=False)

    def find_job(self, job_crc: int, pool: int) -> _JobEntry | None:
        for key, entry in reversed(self._jobs):
            if key == (job_crc, pool):
                return entry
        return None

    def verify(self, nonce: dict, module: int) -> tuple[Share | None, str | None]:
        """``nonce`` is a decoded NONCE payload.  Returns (share, None) or (None, reason).
        A generation that knows a report is no share names the reason itself
        (``nonce["reject"]``, e.g. a stick's leftover from its own boot test)."""
        if nonce.get("reject"):
            return self._reject(nonce["reject"])
        entry = self.find_job(nonce["job_crc"], nonce["pool"])
        if entry is None:
            stale = (nonce["job_crc"], nonce["pool"]) in self._retired
            return self._reject("stale" if stale else "unknown_job")
        job = entry.job
        key = (nonce["nonce2"], nonce["ntime_offset"], nonce["nonce"])
        if key in entry.seen:
            return self._reject("duplicate")
        ntime = (job.ntime + nonce["ntime_offset"]) & 0xFFFFFFFF
        header = build_header(
            job.version,
            job.prevhash_internal,
            entry.merkle(nonce["nonce2"]),
            ntime,
            job.nbits,
            nonce["nonce"],
        )
        digest = sha256d(header)
        value = hash_value(digest)
        if value > entry.target:
            return self._reject("bad_hash")
        self.last_device_work = DIFF1_TARGET / entry.target * 2**32
        entry.seen.add(key)
        difficulty = DIFF1_TARGET / max(value, 1)
        if difficulty < job.difficulty:
            return self._reject("below_target")
        self.accepted += 1
        return Share(
            job.job_id,
            job.extranonce2(nonce["nonce2"]).hex(),
            ntime,
            nonce["nonce"],
            display_hash(digest),
            difficulty,
            value <= job.block_target,
            module,
            nonce["miner"],
            nonce["chip"],
            entry.pool,
            job.difficulty,
            time.perf_counter(),
        ), None

    def _reject(self, reason: str):
        self.rejected[reason] += 1
        return None, reason


_WAKE = object()  # in the queue: wakes a consumer, carries no share


class ShareQueue:
    """Verified shares on their way to the caller: unbounded, and in C (a consumer that
    waits with a timeout wakes without running Python code); :meth:`wake` ends a wait
    without a share."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Share | object] = queue.SimpleQueue()

    def put(self, share: Share) -> None:
        self._queue.put(share)

    def wake(self) -> None:
        self._queue.put(_WAKE)

    def empty(self) -> bool:
        return self._queue.empty()

    def get(self, timeout: float | None) -> Share | None:
        """The next share; None after ``timeout`` or a wake-up (a share queued behind a
        wake-up is returned, never left behind it)."""
        try:
            item = self._queue.get(timeout=timeout)
            while item is _WAKE and not self._queue.empty():
                item = self._queue.get_nowait()
        except queue.Empty:
            return None
        return item if isinstance(item, Share) else None
