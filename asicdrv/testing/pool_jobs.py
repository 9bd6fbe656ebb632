"""The test pool's jobs and the record of every share submitted to it, verified with
``hashlib`` alone (never with asicdrv's own code)."""

from __future__ import annotations

import hashlib
import struct
import time

from firmware_protocols.records import field, record

DIFF1_TARGET = 0xFFFF << 208


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@record
class PoolJob:
    job_id: str
    prevhash: bytes  # internal byte order
    coinb1: bytes
    coinb2: bytes
    branches: list
    version: int
    nbits: int
    ntime: int
    clean: bool

    def notify_params(self) -> list:
        swapped = b"".join(self.prevhash[i : i + 4][::-1] for i in range(0, 32, 4))
        return [
            self.job_id,
            swapped.hex(),
            self.coinb1.hex(),
            self.coinb2.hex(),
            [b.hex() for b in self.branches],
            f"{self.version:08x}",
            f"{self.nbits:08x}",
            f"{self.ntime:08x}",
            self.clean,
        ]

    def share_hash(self, extranonce1: bytes, extranonce2: bytes, ntime: int, nonce: int) -> bytes:
        root = _sha256d(self.coinb1 + extranonce1 + extranonce2 + self.coinb2)
        for branch in self.branches:
            root = _sha256d(root + branch)
        header = (
            struct.pack("<I", self.version)
            + self.prevhash
            + root
            + struct.pack("<III", ntime, self.nbits, nonce)
        )
        return _sha256d(header)


@record
class SubmittedShare:
    worker: str
    job_id: str
    extranonce2: str
    ntime: int
    nonce: int
    difficulty: float  # the share's own difficulty
    target_difficulty: float  # what the connection had to meet
    accepted: bool
    reason: str | None = None
    # for a share of a flushed job: the client had already processed the clean job that
    # flushed it (a stale share it should never have sent)
    sent_after_clean: bool = False
    received: float = field(default_factory=time.monotonic)
