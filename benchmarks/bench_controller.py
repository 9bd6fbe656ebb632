"""Controller figures: notify -> job frames handed to every link, verified nonce ->
mining.submit written, and a soak that accounts for every nonce.

Run: python benchmarks/bench_controller.py            (latency, ~30 s)
     python benchmarks/bench_controller.py --soak 10  (10 minutes with faults)

Latency: one chain of 6 emulated 851 modules per link kind (in-process, pyusb) behind the
controller, a local test pool sending a job every 50 ms; medians and p99 of the
controller's own measurements (from the pool's line read to the last chain.submit return;
from the poller's verification to the socket write).

Soak: two chains (in-process and pyusb) with --faults, a clean job every --job-seconds.
Per chain: good-CRC NONCE frames the emulator handed over, what the chain verified or
counted with a reason, what the controller submitted or counted stale, what the pool
accepted; unaccounted must be 0.  RSS sampled every 30 s.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from _timing import rss_mib  # noqa: E402
from asicdrv import Emulator  # noqa: E402
from asicdrv.mining.controller import Controller, DeviceConfig  # noqa: E402
from asicdrv.mining.pool import PoolConfig  # noqa: E402
from asicdrv.testing import TestPool, easy_difficulty  # noqa: E402


def pct(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


def latency(link: str, jobs: int, wire_time: bool = True) -> None:
    emu = Emulator(modules=6, nonce_mask=12, seed=3)
    if not wire_time:  # the emulated AUC answers at once: the code's own share
        emu.bridge.timed = False
        link_label = "usb, no I2C time"
    else:
        link_label = link
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = Controller(
            [PoolConfig(pool.url, "bench.1")],
            [DeviceConfig(url=f"emu://?link={link}", options={"emulator": emu})],
        ).start()
        try:
            pool.wait_for_shares(5)
            controller.dispatch_seconds.clear()
            for n in range(jobs):
                pool.new_job(clean=n % 10 == 0)
                time.sleep(0.05)
        finally:
            controller.stop()
    emu.close()
    d, s = controller.dispatch_seconds, controller.submit_seconds
    print(
        f"{link_label:<9} notify -> 6 modules' job frames:"
        f" median {statistics.median(d) * 1e3:.2f} ms,"
        f" p99 {pct(d, 0.99):.2f} ms ({len(d)} jobs)"
    )
    print(
        f"{link_label:<9} verified nonce -> submit written: median "
        f"{statistics.median(s) * 1e3:.3f} ms, p99 {pct(s, 0.99):.3f} ms ({len(s)} shares)"
    )


def soak(minutes: float, faults: str, job_seconds: float) -> int:
    emus = [
        Emulator(modules=3, nonce_mask=11, seed=5 + n, hashrate=100_000, faults=faults)
        for n in range(2)
    ]
    links = ["inprocess", "usb"]
    start_rss = rss_mib()
    samples = []
    with TestPool(difficulty=easy_difficulty(11), keep=1000) as pool:
        controller = Controller(
            [PoolConfig(pool.url, "soak.1")],
            [
                DeviceConfig(url=f"emu://?link={link}", options={"emulator": emu})
                for link, emu in zip(links, emus)
            ],
        ).start()
        end = time.monotonic() + minutes * 60
        next_sample = time.monotonic()
        while time.monotonic() < end:
            time.sleep(job_seconds)
            pool.new_job(clean=True)
            if time.monotonic() >= next_sample:
                samples.append(rss_mib())
                next_sample += 30
        controller.stop()
        time.sleep(0.5)
        status = controller.status()
    ok = True
    print(f"soak {minutes:g} min, faults {faults}, clean job every {job_seconds:g} s")
    for chain, emu, link in zip(status["chains"], emus, links):
        modules = chain["status"].modules
        verified = sum(m.shares for m in modules)
        counted = {}
        for m in modules:
            for reason, n in m.rejected.items():
                counted[reason] = counted.get(reason, 0) + n
        accounts = [a for (c, _), a in status["modules"].items() if c == chain["index"]]
        found = sum(a["counts"]["found"] for a in accounts)
        submitted = sum(a["counts"]["submitted"] for a in accounts)
        stale = sum(sum(a["counts"]["stale"].values()) for a in accounts)
        accepted = sum(a["counts"]["accepted"] for a in accounts)
        rejected = sum(sum(a["counts"]["rejected"].values()) for a in accounts)
        sent = emu.traffic.nonces_out
        unaccounted = sent - verified - sum(counted.values())
        lost_in_controller = (
            verified - found + (submitted - accepted - rejected) + (found - submitted - stale)
        )
        ok &= unaccounted == 0 and lost_in_controller == 0
        print(
            f"  {link:<9} sent {sent}  chain: verified {verified}, counted {counted}  "
            f"controller: submitted {submitted} (accepted {accepted}, rejected "
            f"{rejected}), stale {stale}  unaccounted {unaccounted + lost_in_controller}"
        )
    print(f"  pool: {dict(pool.counts)}")
    half = samples[len(samples) // 2 :] or samples
    print(
        f"RSS: {start_rss:.1f} MiB at start; first sample {samples[0]:.1f}, second half "
        f"{min(half):.1f}..{max(half):.1f} MiB"
    )
    for emu in emus:
        emu.close()
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--soak", type=float, metavar="MINUTES", default=None)
    parser.add_argument("--faults", default="crc_errors:0.01,drop:0.01")
    parser.add_argument("--job-seconds", type=float, default=5.0)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    if args.soak:
        return soak(args.soak, args.faults, args.job_seconds)
    for link in ("inprocess", "usb"):
        latency(link, args.jobs)
    # the emulated AUC times each transfer as the real one (the bytes at 400 kHz and the
    # write-to-read delay): most of the pyusb figure above; this is the code's own
    latency("usb", args.jobs, wire_time=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
