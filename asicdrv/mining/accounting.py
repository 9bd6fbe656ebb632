"""Share accounting for the controller: counts per pool and per module, and hash rate from
verified shares.

A verified share of difficulty D stands for D * 2**32 hashes on average, so the hash rate a
board really delivers is the difficulty of its shares over time (cgminer's "GHS 5s" and
"GHS av" are the same idea).  :class:`RateMeter` keeps one bucket per second for 15 minutes:
bounded memory, exact window sums.
"""

from __future__ import annotations

import time
from collections import Counter

from firmware_protocols.records import field, record

from .reject_reasons import reason_category

HASHES_PER_DIFF1 = 2**32
WINDOWS_S = {"5s": 5, "1m": 60, "5m": 300, "15m": 900}


class RateMeter:
    """Hashes per second over the last 5 s, 1 min and 15 min, and since it started."""

    def __init__(self, now: float | None = None, span_s: int = 900):
        self.started = time.monotonic() if now is None else now
        self.span = span_s
        self._buckets = [0.0] * span_s
        self._second = int(self.started)
        self.total = 0.0

    def add(self, difficulty: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._advance(now)
        hashes = difficulty * HASHES_PER_DIFF1
        self._buckets[self._second % self.span] += hashes
        self.total += hashes

    def _advance(self, now: float) -> None:
        second = int(now)
        if second <= self._second:
            return
        for s in range(self._second + 1, min(second, self._second + self.span) + 1):
            self._buckets[s % self.span] = 0.0
        self._second = second

    def rate(self, window_s: float, now: float | None = None) -> float:
        """Hashes/s over the last ``window_s`` seconds (less while younger than that)."""
        now = time.monotonic() if now is None else now
        self._advance(now)
        whole = max(1, min(int(window_s), self.span))
        # the last ``whole`` buckets of the ring, the current one included: two slices
        # summed in C (a Python loop over 900 buckets a module was most of a status line)
        end = self._second % self.span + 1
        start = end - whole
        if start >= 0:
            total = sum(self._buckets[start:end])
        else:
            total = sum(self._buckets[:end]) + sum(self._buckets[start:])
        # the current second is partly over: count the time it has run
        elapsed = min(whole - 1 + (now - int(now)), now - self.started)
        return total / max(elapsed, 1e-3)

    def average(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return self.total / max(now - self.started, 1e-3)

    def rates_ghs(self, now: float | None = None) -> dict[str, float]:
        now = time.monotonic() if now is None else now
        rates = {name: self.rate(s, now) / 1e9 for name, s in WINDOWS_S.items()}
        rates["av"] = self.average(now) / 1e9
        return rates


@record
class ShareCounts:
    """What happened to shares: ``found`` (verified by the host), ``submitted``, then
    ``accepted`` or ``rejected`` by reason (one of :data:`~.reject_reasons.REASONS`), or
    ``unknown`` by reason when its reply never came (the connection closed, or no reply in
    time: the pool may have taken it or never seen it); ``stale`` were never submitted
    (their job was flushed or their pool is no longer the one mining), also by reason.
    found = submitted + stale (+ those in flight); submitted = accepted + rejected +
    unknown (+ awaiting a reply)."""

    found: int = 0
    submitted: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)
    unknown: Counter = field(default_factory=Counter)
    stale: Counter = field(default_factory=Counter)
    accepted_difficulty: float = 0.0  # difficulty-weighted accepted work
    rejected_difficulty: float = 0.0
    best_difficulty: float = 0.0
    last_share_difficulty: float = 0.0  # the job difficulty of the last accepted share
    last_share_time: float | None = None  # wall clock of the last accepted share

    def result(
        self, accepted: bool | None, reason: str | None, difficulty: float, share_difficulty: float
    ) -> None:
        if accepted is None:
            self.unknown[reason or "no reply"] += 1
        elif accepted:
            self.accepted += 1
            self.accepted_difficulty += difficulty
            self.best_difficulty = max(self.best_difficulty, share_difficulty)
            self.last_share_difficulty = difficulty
            self.last_share_time = time.time()
        else:  # by a closed set of reasons: a pool's free text would grow without bound
            self.rejected[reason_category(reason)] += 1
            self.rejected_difficulty += difficulty

    def to_dict(self) -> dict:
        return {
            "found": self.found,
            "submitted": self.submitted,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "unknown": dict(self.unknown),
            "stale": dict(self.stale),
            "accepted_difficulty": self.accepted_difficulty,
            "rejected_difficulty": self.rejected_difficulty,
            "best_difficulty": self.best_difficulty,
            "last_share_difficulty": self.last_share_difficulty,
            "last_share_time": self.last_share_time,
        }


@record
class ModuleAccount:
    counts: ShareCounts = field(default_factory=ShareCounts)
    meter: RateMeter = field(default_factory=RateMeter)
    chip_shares: Counter = field(default_factory=Counter)  # (miner, chip) -> verified


@record
class PoolAccount:
    counts: ShareCounts = field(default_factory=ShareCounts)
    jobs: int = 0
    clean_jobs: int = 0
    switches_to: int = 0  # times it became the mining pool
