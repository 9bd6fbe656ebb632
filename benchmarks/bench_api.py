"""API figures: estats reply time with 6 modules, and whether 100 requests/s disturb mining.

Run: python benchmarks/bench_api.py [--seconds 20]

One emulated chain of six 851 modules mines for a local test pool behind the controller;
the API serves on a free port.  Prints the p50/p99 of 500 sequential ``estats`` requests
(connect, request, whole reply), then accepted shares/s over --seconds without API traffic
and with 100 requests/s (estats, summary, devs+pools+version+estats+stats in turn).
"""

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from asicdrv import Emulator  # noqa: E402
from asicdrv.farm.api import ApiCommands, ApiServer  # noqa: E402
from asicdrv.mining.controller import Controller, DeviceConfig  # noqa: E402
from asicdrv.mining.pool import PoolConfig  # noqa: E402
from asicdrv.testing import TestPool, easy_difficulty  # noqa: E402

REQUESTS = [
    b'{"command": "estats"}',
    b'{"command": "summary"}',
    b'{"command": "devs+pools+version+estats+stats"}',
]


def ask(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def shares_per_second(pool, seconds):
    start = len(pool.accepted)
    time.sleep(seconds)
    return (len(pool.accepted) - start) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    emu = Emulator(modules=6, nonce_mask=12, seed=9)
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = Controller(
            [PoolConfig(pool.url, "bench.api")],
            [DeviceConfig(url="emu://", options={"emulator": emu})],
        )
        api = ApiServer(ApiCommands(controller), port=0).start()
        controller.start()
        pool.wait_for_shares(20)
        times = []
        for _ in range(500):
            t0 = time.perf_counter()
            reply = ask(api.port, REQUESTS[0])
            times.append(time.perf_counter() - t0)
        stats = json.loads(reply.rstrip(b"\0"))["STATS"][0]
        assert stats["MM Count"] == 6
        times.sort()
        print(
            f"estats, 6 modules ({len(reply)} bytes): p50 {statistics.median(times) * 1e3:.2f}"
            f" ms, p99 {times[int(0.99 * len(times))] * 1e3:.2f} ms"
        )
        quiet = shares_per_second(pool, args.seconds)
        stop = threading.Event()
        served = [0]

        def load():
            n = 0
            next_at = time.perf_counter()
            while not stop.is_set():
                ask(api.port, REQUESTS[n % len(REQUESTS)])
                served[0] += 1
                n += 1
                next_at += 0.01
                time.sleep(max(0.0, next_at - time.perf_counter()))

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        loaded = shares_per_second(pool, args.seconds)
        stop.set()
        thread.join()
        print(
            f"accepted shares/s: {quiet:.1f} without API traffic, {loaded:.1f} with "
            f"{served[0] / args.seconds:.0f} requests/s (ratio {loaded / quiet:.2f})"
        )
        controller.stop()
        api.close()
    emu.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
