"""A stratum ``mining.notify`` job, and the work it describes.

``StratumJob.from_notify(params, extranonce1=..., extranonce2_size=..., difficulty=...)``
takes the nine notify params exactly as a pool sends them.  Byte orders follow
:mod:`asicdrv.bitcoin.core`: nonce2 is written into the coinbase little-endian, the notify prevhash
is word-swapped, and cgminer's ``header_bin`` is the real header word-swapped.
"""

from __future__ import annotations

import math
import struct
from functools import cached_property

from firmware_protocols import crc16
from firmware_protocols.records import record
from ..bitcoin.core import build_header, merkle_root, nbits_to_target, sha256, sha256d, swap_words
from ..errors import JobError

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Sequence

# cgminer's work padding after the 80 header bytes (48 bytes)
HEADER_PADDING = bytes.fromhex("00000080" + "00" * 40 + "80020000")
MAX_MERKLES = 30  # AVA8_P_MERKLES_COUNT
MAX_COINBASE_POSTHASH = 6 * 1024  # AVA8_P_COINBASE_SIZE - one SHA block
MERKLE_OFFSET = 36


@record(frozen=True)
class StratumJob:
    job_id: str
    prevhash: str  # as notify sends it (word-swapped hex)
    coinb1: bytes
    coinb2: bytes
    merkle_branch: tuple[bytes, ...]
    version: int
    nbits: int
    ntime: int
    clean: bool
    extranonce1: bytes
    extranonce2_size: int
    difficulty: float = 1.0

    @classmethod
    def from_notify(
        cls, params: Sequence, *, extranonce1: str, extranonce2_size: int, difficulty: float = 1.0
    ) -> "StratumJob":
        """From ``mining.notify`` params: job_id, prevhash, coinb1, coinb2, merkle_branch,
        version, nbits, ntime, clean_jobs.  Anything malformed is a :class:`JobError`."""
        if not isinstance(params, (list, tuple)) or len(params) < 9:
            raise JobError(f"mining.notify needs a list of 9 params, got {params!r:.60}")
        job_id, prevhash, coinb1, coinb2, branch, version, nbits, ntime, clean = params[:9]
        if not isinstance(job_id, (str, int)) or isinstance(job_id, bool) or not str(job_id):
            raise JobError(f"job_id must be a non-empty string, got {job_id!r:.40}")
        try:  # valid JSON may still hold a lone surrogate ("\ud800"), which no wire takes
            str(job_id).encode()
        except UnicodeEncodeError:
            raise JobError(f"job_id {job_id!r:.40} is not text that can be sent back") from None
        if not isinstance(branch, (list, tuple)):
            raise JobError(f"merkle_branch must be a list, got {branch!r:.40}")
        if isinstance(extranonce2_size, bool) or not isinstance(extranonce2_size, int):
            raise JobError(f"extranonce2_size must be a whole number, got {extranonce2_size!r}")
        job = cls(
            str(job_id),
            _hex(prevhash, "prevhash", 32).hex(),
            _hex(coinb1, "coinb1"),
            _hex(coinb2, "coinb2"),
            tuple(_hex(b, "merkle branch", 32) for b in branch),
            _word(version, "version"),
            _word(nbits, "nbits"),
            _word(ntime, "ntime"),
            bool(clean),
            _hex(extranonce1, "extranonce1"),
            extranonce2_size,
            parse_difficulty(difficulty),
        )
        job.validate()
        return job

    def validate(self) -> None:
        """Refuse what the MM cannot take (cgminer avalon8_sswork_update)."""
        if len(bytes.fromhex(self.prevhash)) != 32:
            raise JobError("prevhash must be 32 bytes")
        if any(len(b) != 32 for b in self.merkle_branch):
            raise JobError("every merkle branch entry must be 32 bytes")
        if len(self.merkle_branch) > MAX_MERKLES:
            raise JobError(
                f"{len(self.merkle_branch)} merkle branches; the MM takes at most {MAX_MERKLES}"
            )
        if not 3 <= self.extranonce2_size <= 8:
            raise JobError(f"extranonce2 size {self.extranonce2_size}; the MM needs 3..8")
        if self.coinbase_len - self.prehash_length > MAX_COINBASE_POSTHASH:
            raise JobError(
                f"coinbase after the midstate is "
                f"{self.coinbase_len - self.prehash_length} bytes; the MM "
                f"takes at most {MAX_COINBASE_POSTHASH}"
            )
        if not (
            isinstance(self.difficulty, (int, float))
            and math.isfinite(self.difficulty)
            and self.difficulty > 0
        ):
            raise JobError(f"difficulty must be a finite number above 0, got {self.difficulty!r}")
        for name in ("version", "nbits", "ntime"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
                raise JobError(f"{name} must fit 32 bits, got {value!r}")

    # --- coinbase ----------------------------------------------------------------------------
    @property
    def nonce2_offset(self) -> int:
        return len(self.coinb1) + len(self.extranonce1)

    @property
    def coinbase_len(self) -> int:
        return self.nonce2_offset + self.extranonce2_size + len(self.coinb2)

    @property
    def prehash_length(self) -> int:
        """Coinbase bytes hashed into the midstate: whole blocks before nonce2."""
        return self.nonce2_offset - self.nonce2_offset % 64

    @property
    def mm_nonce2_size(self) -> int:
        """The MM rolls at most four nonce2 bytes; the rest stay zero."""
        return min(self.extranonce2_size, 4)

    def extranonce2(self, nonce2: int) -> bytes:
        """nonce2 as placed in the coinbase: little-endian over extranonce2_size bytes."""
        return nonce2.to_bytes(self.extranonce2_size, "little")

    def coinbase(self, nonce2: int) -> bytes:
        return self.coinb1 + self.extranonce1 + self.extranonce2(nonce2) + self.coinb2

    @cached_property
    def coinbase_template(self) -> bytes:
        """The coinbase as the MM gets it: nonce2 bytes zero."""
        return self.coinbase(0)

    @cached_property
    def work_key(self) -> bytes:
        """What the boards hash, whatever the job id: previous block, coinbase halves,
        merkle branches, version, bits and time (with extranonce1 and the extranonce2
        region, it fixes every header)."""
        h = sha256()
        for part in (bytes.fromhex(self.prevhash), self.coinb1, self.coinb2, *self.merkle_branch):
            h.update(len(part).to_bytes(4, "big") + part)
        h.update(struct.pack(">III", self.version, self.nbits, self.ntime))
        return h.digest()

    # --- header ---------------------------------------------------------------------------------
    @property
    def job_crc(self) -> int:
        return crc16(self.job_id.encode())

    @cached_property
    def prevhash_internal(self) -> bytes:
        return swap_words(bytes.fromhex(self.prevhash))

    @cached_property
    def header_bin(self) -> bytes:
        """cgminer's 128-byte header_bin: notify strings decoded, merkle and nonce zero."""
        return (
            struct.pack(">I", self.version)
            + bytes.fromhex(self.prevhash)
            + bytes(32)
            + struct.pack(">II", self.ntime, self.nbits)
            + bytes(4)
            + HEADER_PADDING
        )

    def header(self, nonce2: int, ntime_offset: int, nonce: int) -> bytes:
        root = merkle_root(self.coinbase(nonce2), list(self.merkle_branch))
        return build_header(
            self.version,
            self.prevhash_internal,
            root,
            (self.ntime + ntime_offset) & 0xFFFFFFFF,
            self.nbits,
            nonce,
        )

    def hash(self, nonce2: int, ntime_offset: int, nonce: int) -> bytes:
        """SHA-256d of the header this nonce completes (internal byte order)."""
        return sha256d(self.header(nonce2, ntime_offset, nonce))

    @cached_property
    def block_target(self) -> int:
        return nbits_to_target(self.nbits)

    def submit_params(self, worker: str, nonce2: int, ntime_offset: int, nonce: int) -> list[str]:
        """``mining.submit`` params: worker, job_id, extranonce2, ntime, nonce."""
        return [
            worker,
            self.job_id,
            self.extranonce2(nonce2).hex(),
            f"{(self.ntime + ntime_offset) & 0xFFFFFFFF:08x}",
            f"{nonce:08x}",
        ]


def _hex(text, name: str, size: int | None = None) -> bytes:
    """Hex from a pool, strictly: a string of byte pairs (of ``size`` bytes if given)."""
    if not isinstance(text, str):
        raise JobError(f"{name} must be a hex string, got {text!r:.40}")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise JobError(
            f"{name} is not hex (an odd length or a stray character): {text!r:.40}"
        ) from None
    if size is not None and len(raw) != size:
        raise JobError(f"{name} must be {size} bytes, got {len(raw)}")
    return raw


def _word(text, name: str) -> int:
    """A 32-bit field as stratum sends it: 8 hex digits."""
    raw = _hex(text, name)
    if len(raw) != 4:
        raise JobError(f"{name} must be 4 bytes (8 hex digits), got {text!r:.40}")
    return int.from_bytes(raw, "big")


def parse_difficulty(value) -> float:
    """A pool's share difficulty: a finite number above 0 (JobError otherwise)."""
    if isinstance(value, bool):
        raise JobError(f"difficulty must be a number, got {value!r}")
    try:
        difficulty = float(value)
    except (TypeError, ValueError):
        raise JobError(f"difficulty must be a number, got {value!r:.40}") from None
    if not math.isfinite(difficulty) or difficulty <= 0:
        raise JobError(f"difficulty must be a finite number above 0, got {value!r}")
    return difficulty
