"""The hash rate from verified shares: every window's rate is the hashes of the shares
inside it over the window's time, checked against a plain recount of the shares."""

from __future__ import annotations

import random

import pytest

from asicdrv.mining.accounting import HASHES_PER_DIFF1, WINDOWS_S, RateMeter


@pytest.mark.parametrize("seed", range(6))
def test_every_window_counts_the_shares_inside_it(seed):
    rng = random.Random(seed)
    start = 1000.0 + rng.random()
    meter = RateMeter(now=start)
    shares: list[tuple[float, float]] = []
    now = start
    for _ in range(400):
        # bursts and long gaps; the clock never goes back (a query moves it on too)
        now += rng.expovariate(1 / rng.choice([0.2, 3.0, 40.0]))
        difficulty = rng.choice([2**-20, 1.0, 1024.0])
        meter.add(difficulty, now)
        shares.append((now, difficulty))
        query = now + rng.random() * 2
        for name, window in WINDOWS_S.items():
            first_second = int(query) - window + 1  # whole seconds, the current one included
            hashes = sum(d for t, d in shares if int(t) >= first_second) * HASHES_PER_DIFF1
            elapsed = min(window - 1 + (query - int(query)), query - start)
            expected = hashes / max(elapsed, 1e-3)
            assert meter.rate(window, query) == pytest.approx(expected, rel=1e-9), (name, query)
        now = query
