"""Board-view figures: a 6-module report rendered, and the live page's cost with 5 browsers.

Run: python benchmarks/bench_views.py [--seconds 30]

Report: a burn-in of 6 emulated modules (10 s), then the median time of writing its HTML
report (4 chip maps per module, the timeline) over 7 runs.  Live page: ``asicdrv run --web``
in its own process on 6 modules, five clients each fetching ``status.json`` once a second
(what an open page does) for --seconds; the process's CPU time with and without them, and
the difference as a share of one core.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import asicdrv  # noqa: E402
from asicdrv.bench.burnin import run_burnin  # noqa: E402
from asicdrv.testing import TestPool, easy_difficulty  # noqa: E402
from asicdrv.bench.report import write_report  # noqa: E402


def report_time() -> float:
    with asicdrv.open("emu://?modules=6&nonce_mask=8&polling_delay=0.005") as chain:
        result = run_burnin(chain, 10)
    path = os.path.join(tempfile.mkdtemp(), "report.html")
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        write_report(path, result)
        times.append(time.perf_counter() - t0)
    print(
        f"report for 6 modules ({os.path.getsize(path) / 1024:.0f} KiB): median "
        f"{statistics.median(times) * 1e3:.1f} ms to render and write"
    )


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def live_page_cost(seconds: float) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with TestPool(difficulty=easy_difficulty()) as pool:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asicdrv",
                "run",
                "--pool",
                pool.url,
                "--user",
                "bench.web",
                "--api-listen",
                "off",
                "--web",
                f"127.0.0.1:{port}",
                "--device",
                "emu://?modules=6&nonce_mask=12",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            pool.wait_for_shares(10, timeout=60)
            url = f"http://127.0.0.1:{port}/status.json"
            base0 = cpu_seconds(proc.pid)
            time.sleep(seconds)
            quiet = (cpu_seconds(proc.pid) - base0) / seconds
            stop = threading.Event()

            def browser():
                while not stop.is_set():
                    urllib.request.urlopen(url, timeout=10).read()
                    stop.wait(1.0)

            threads = [threading.Thread(target=browser) for _ in range(5)]
            t0 = cpu_seconds(proc.pid)
            for t in threads:
                t.start()
            time.sleep(seconds)
            stop.set()
            for t in threads:
                t.join()
            loaded = (cpu_seconds(proc.pid) - t0) / seconds
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"asicdrv run, 6 modules: {quiet * 100:.1f} % of a core without the page, "
        f"{loaded * 100:.1f} % with 5 browsers at 1 update/s: the page adds "
        f"{(loaded - quiet) * 100:.2f} % of a core"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    report_time()
    live_page_cost(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
