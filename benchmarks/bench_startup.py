"""Start-up cost: wall time and memory of fresh interpreters doing what a controller or a
technician's command does first.  Each figure is the best and the median of ``--runs``
fresh processes (best of 5 is the figure issue 23 asks for ``import asicdrv``).

    python benchmarks/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

# (what, the code a fresh interpreter runs); the time is measured inside it, so the
# interpreter's own start is not counted, only what asicdrv adds
CASES = [
    ("import asicdrv", "import asicdrv"),
    ("import asicdrv; asicdrv.open (the device layer)", "import asicdrv; asicdrv.open"),
    (
        "the CLI, `asicdrv status` loaded",
        "from asicdrv.cli import build_parser; build_parser(['status'])",
    ),
    (
        "the CLI, `asicdrv run` loaded",
        "from asicdrv.cli import build_parser; build_parser(['run'])",
    ),
    (
        "`asicdrv run`'s controller and farm side",
        "import asicdrv.mining.controller, asicdrv.farm.api, asicdrv.farm.metrics, "
        "asicdrv.farm.web",
    ),
    ("the emulator", "import asicdrv.emulator"),
]

PROBE = """
import resource, time
t = time.perf_counter()
{code}
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(code: str, runs: int) -> tuple[list[float], list[int]]:
    times, rss = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(code=code)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        times.append(float(out[0]))
        rss.append(int(out[1]))
    return times, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _, bare = measure("pass", args.runs)
    title = f"fresh interpreters, {args.runs} each"
    print(f"{title:<52} {'best':>8} {'median':>8} {'max RSS':>9}")
    print(f"{'python alone':<52} {'':>8} {'':>8} {min(bare) / 1024:>6.1f} MiB")
    for name, code in CASES:
        times, rss = measure(code, args.runs)
        best, median = min(times) * 1000, statistics.median(times) * 1000
        print(f"{name:<52} {best:>6.0f} ms {median:>5.0f} ms {max(rss) / 1024:>6.1f} MiB")


if __name__ == "__main__":
    main()
