"""Shared timing helper for the benchmark scripts: median rate over repeated runs."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_rate(fn: Callable[[], object], count: int, repeats: int = 7) -> float:
    """Calls of ``fn`` per second: the median over ``repeats`` runs of ``count`` calls."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def report(name: str, rate: float, unit: str = "/s", target: float | None = None) -> None:
    verdict = "" if target is None else ("  ok" if rate >= target else f"  BELOW {target:,.0f}")
    print(f"{name:<48} {rate:>14,.0f} {unit}{verdict}")


def rss_mib() -> float:
    """This process's resident memory, MiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
