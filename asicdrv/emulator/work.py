"""Mining work inside a module: assemble a job from its packets, then find nonces by real
SHA-256d.  No wire handling: the firmware hands in decoded payloads.

Scan order for a job: nonce2 from the STATIC start over its range; within each nonce2 the
ntime offsets 0..ntime_roll (when the host enabled rolling); within each of those,
``nonces_per_work`` nonces starting at ``nonce_start``.  Modules split a broadcast job's
nonce2 range: module id k takes the k-th sixth (the firmware's own split is not published;
a range too small to split is scanned whole by every module).  Nonce n belongs to chip
``n % total_chips`` (miner = index // asic_count), so every chip gets its share.
"""

from __future__ import annotations

import hashlib
import struct

from firmware_protocols.records import field, record, replace

from ..bitcoin import sha256
from ..bitcoin.core import swap_words

HEADER_BIN_SIZE = 128
MAX_MERKLES = 30  # AVA8_P_MERKLES_COUNT
MAX_COINBASE = 6 * 1024 + 64  # AVA8_P_COINBASE_SIZE: what the MM's buffer holds
MAX_COINBASE_PACKETS = 1 + (MAX_COINBASE - 64) // 32 + 1


@record
class Job:
    coinbase_len: int
    nonce2_offset: int
    nonce2_size: int
    merkle_count: int
    nonce2_start: int
    nonce2_range: int
    clean: bool
    target: bytes
    job_crc: int
    pool: int
    midstate: bytes
    coinbase_tail: bytes  # coinbase bytes from the midstate on
    merkles: list[bytes]
    header_bin: bytes  # cgminer's 128-byte, word-swapped header

    @property
    def prehash_length(self) -> int:
        return self.nonce2_offset - self.nonce2_offset % 64


class JobIncomplete(Exception):
    """JOB_FIN arrived but a part of the job was missing or inconsistent."""


@record
class JobAssembler:
    """Collects STATIC .. HEADER; :meth:`finish` turns them into a :class:`Job`."""

    static: dict | None = None
    target: bytes = bytes(32)
    job_crc: int = 0
    pool: int = 0
    coinbase: dict[int, bytes] = field(default_factory=dict)
    coinbase_count: int = 0
    merkles: dict[int, bytes] = field(default_factory=dict)
    header: dict[int, bytes] = field(default_factory=dict)

    def begin(self, static: dict) -> None:
        """STATIC opens a job; JOB_ID and TARGET persist across jobs (sent on change).
        Counts a MM cannot hold are refused (ValueError), whatever the CRC says."""
        if static["merkle_count"] > MAX_MERKLES:
            raise ValueError(f"merkle count {static['merkle_count']} > {MAX_MERKLES}")
        if not 0 < static["coinbase_len"] <= MAX_COINBASE:
            raise ValueError(f"coinbase length {static['coinbase_len']}")
        if (
            not 1 <= static["nonce2_size"] <= 4
            or static["nonce2_offset"] + static["nonce2_size"] > static["coinbase_len"]
        ):
            raise ValueError("nonce2 outside the coinbase")
        self.static = static
        self.coinbase, self.merkles, self.header = {}, {}, {}

    def add_coinbase(self, idx: int, cnt: int, chunk: bytes) -> None:
        if not 1 <= idx <= cnt <= MAX_COINBASE_PACKETS:
            raise IndexError(f"COINBASE {idx}/{cnt}")
        self.coinbase[idx] = chunk
        self.coinbase_count = cnt

    def add_merkle(self, idx: int, branch: bytes) -> None:
        if not 1 <= idx <= MAX_MERKLES:
            raise IndexError(f"MERKLES {idx}")
        self.merkles[idx] = branch

    def add_header(self, idx: int, chunk: bytes) -> None:
        if not 1 <= idx <= 4:
            raise IndexError(f"HEADER {idx}")
        self.header[idx] = chunk

    def finish(self) -> Job:
        s = self.static
        if s is None:
            raise JobIncomplete("JOB_FIN without STATIC")
        if not self.coinbase_count or sorted(self.coinbase) != list(
            range(1, self.coinbase_count + 1)
        ):
            raise JobIncomplete("coinbase packets missing")
        if sorted(self.merkles) != list(range(1, s["merkle_count"] + 1)):
            raise JobIncomplete("merkle packets missing")
        if sorted(self.header) != [1, 2, 3, 4]:
            raise JobIncomplete("header packets missing")
        if not 1 <= s["nonce2_size"] <= 4 or s["nonce2_offset"] > s["coinbase_len"]:
            raise JobIncomplete("nonce2 outside the coinbase")
        prehash = s["nonce2_offset"] - s["nonce2_offset"] % 64
        tail = b"".join(self.coinbase[i] for i in range(2, self.coinbase_count + 1))
        tail = tail[: s["coinbase_len"] - prehash]
        if len(tail) != s["coinbase_len"] - prehash:
            raise JobIncomplete("coinbase shorter than STATIC says")
        return Job(
            s["coinbase_len"],
            s["nonce2_offset"],
            s["nonce2_size"],
            s["merkle_count"],
            s["nonce2_start"],
            s["nonce2_range"],
            bool(s["clean"]),
            self.target,
            self.job_crc,
            self.pool,
            self.coinbase[1],
            tail,
            [self.merkles[i] for i in range(1, s["merkle_count"] + 1)],
            b"".join(self.header[i] for i in range(1, 5)),
        )


@record(frozen=True)
class Found:
    nonce2: int
    ntime_offset: int
    nonce: int
    miner: int
    chip: int
    hash_value: int  # the SHA-256d read as a number (what targets compare)


class Scanner:
    """Scans a job for nonces whose SHA-256d has ``nonce_mask`` leading zero bits."""

    def __init__(
        self,
        *,
        miner_count: int,
        asic_count: int,
        nonce_start: int = 0,
        nonces_per_work: int = 1 << 32,
    ):
        self.miner_count = miner_count
        self.asic_count = asic_count
        self.total_chips = miner_count * asic_count
        self.nonce_start = nonce_start
        self.nonces_per_work = nonces_per_work
        self.nonce_mask = 24
        self.ntime_roll = 0
        self.job: Job | None = None
        self.hashes_done = 0

    def set_job(self, job: Job, part: int = 0, parts: int = 1) -> None:
        """Start on ``job``; with ``parts`` > 1 take slice ``part`` of its nonce2 range, so
        that modules sharing a broadcast job do not repeat each other's work."""
        share = (job.nonce2_range + 1) // parts
        if share:
            job = replace(
                job,
                nonce2_start=(job.nonce2_start + part * share) & 0xFFFFFFFF,
                nonce2_range=share - 1,
            )
        self.job = job
        self._nonce2_index = 0
        self._ntime_offset = 0
        self._done_in_work = 0
        self._prepare()

    def clear(self) -> None:
        self.job = None

    def _prepare(self) -> None:
        """Header state for the current (nonce2, ntime offset): hashlib's state after the
        first 64 header bytes is reused for every nonce (the header's own midstate)."""
        job = self.job
        nonce2 = (job.nonce2_start + self._nonce2_index) & 0xFFFFFFFF
        self._nonce2 = nonce2
        cut = job.nonce2_offset - job.prehash_length
        tail = bytearray(job.coinbase_tail)
        tail[cut : cut + job.nonce2_size] = nonce2.to_bytes(4, "little")[: job.nonce2_size]
        first = sha256.finish(job.midstate, bytes(tail), job.prehash_length)
        root = hashlib.sha256(first).digest()
        for branch in job.merkles:
            root = hashlib.sha256(hashlib.sha256(root + branch).digest()).digest()
        header = bytearray(swap_words(job.header_bin[:80]))
        header[36:68] = root
        ntime = struct.unpack_from("<I", header, 68)[0] + self._ntime_offset
        struct.pack_into("<I", header, 68, ntime & 0xFFFFFFFF)
        self._base = hashlib.sha256(bytes(header[:64]))
        self._tail = bytes(header[64:76])

    def scan(self, budget: int) -> list[Found]:
        """Hash up to ``budget`` nonces of the current work; return what met the mask."""
        if self.job is None or budget <= 0:
            return []
        found: list[Found] = []
        while budget > 0:
            left = self.nonces_per_work - self._done_in_work
            n = min(budget, left)
            start = (self.nonce_start + self._done_in_work) & 0xFFFFFFFF
            for nonce, value in self._hash_range(start, n):
                index = nonce % self.total_chips
                found.append(
                    Found(
                        self._nonce2,
                        self._ntime_offset,
                        nonce,
                        index // self.asic_count,
                        index % self.asic_count,
                        value,
                    )
                )
            self._done_in_work += n
            self.hashes_done += n
            budget -= n
            if self._done_in_work >= self.nonces_per_work:
                self._next_work()
                if self.job is None:
                    break
        return found

    def _next_work(self) -> None:
        self._done_in_work = 0
        if self._ntime_offset < self.ntime_roll:
            self._ntime_offset += 1
        else:
            self._ntime_offset = 0
            self._nonce2_index += 1
            if self._nonce2_index > self.job.nonce2_range:
                self.job = None  # range exhausted: idle until the next job
                return
        self._prepare()

    def _hash_range(self, start: int, count: int) -> list[tuple[int, int]]:
        """The hot loop: ~1.4 M SHA-256d/s on one core (benchmarks/bench_emulator.py)."""
        copy, tail, sha = self._base.copy, self._tail, hashlib.sha256
        mask = self.nonce_mask
        whole, rest = divmod(mask, 8)  # zero bytes at the digest's end, extra bits
        limit = 1 << (8 - rest)
        hits = []
        end = start + count
        for nonce in range(start, min(end, 1 << 32)):
            h = copy()
            h.update(tail + nonce.to_bytes(4, "little"))
            d = sha(h.digest()).digest()
            # digest read little-endian is the hash value: leading zeros are its last bytes
            if d[31] == 0 or whole == 0:
                if _meets_mask(d, whole, rest, limit):
                    hits.append((nonce, int.from_bytes(d, "little")))
        if end > 1 << 32:  # wrap around the 32-bit nonce space
            hits.extend(self._hash_range(0, end - (1 << 32)))
        return hits


def _meets_mask(digest: bytes, whole: int, rest: int, limit: int) -> bool:
    if any(digest[31 - i] for i in range(whole)):
        return False
    return rest == 0 or digest[31 - whole] < limit
