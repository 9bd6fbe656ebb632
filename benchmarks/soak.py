"""Soak: mine on every link at once with CRC errors and drops, and account for every nonce.

Run: python benchmarks/soak.py [--minutes 10] [--faults crc_errors:0.01,drop:0.01]

For each link (in-process, pyusb, pty) an emulator mines a job with frequent shares; a
clean job arrives every --job-seconds (5 s).  At the end it prints, per link: NONCE frames
the emulator handed to the link with a good CRC, shares delivered, nonces counted by
reason, and what is unaccounted for (must be 0); and the process RSS at start and end.
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from _timing import rss_mib  # noqa: E402
import asicdrv  # noqa: E402
from asicdrv import Emulator  # noqa: E402
from asicdrv.bitcoin.known_blocks import GENESIS, notify_params  # noqa: E402


def soak(link: str, seconds: float, faults: str, job_seconds: float, results: dict) -> None:
    emu = Emulator(seed=hash(link) & 0xFFFF, nonce_mask=11, hashrate=100_000, faults=faults)
    shares = 0
    with asicdrv.open(f"emu://?link={link}", emulator=emu) as chain:
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            params, en1, size, _ = notify_params(GENESIS, job_id=f"{link}{n}")
            params = list(params)
            params[8] = True
            job = asicdrv.StratumJob.from_notify(
                params, extranonce1=en1, extranonce2_size=size, difficulty=2**-22
            )
            chain.submit(job)
            n += 1
            job_end = min(end, time.monotonic() + job_seconds)
            while time.monotonic() < job_end:
                if chain.next_share(timeout=0.2) is not None:
                    shares += 1
        chain.close()
        status = chain.status()
    emu.close()
    rejected: dict = {}
    for m in status.modules:
        for reason, count in m.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + count
    accounted = sum(m.shares + sum(m.rejected.values()) for m in status.modules)
    results[link] = {
        "sent": emu.traffic.nonces_out,
        "delivered": shares,
        "rejected": rejected,
        "unaccounted": emu.traffic.nonces_out - accounted,
        "crc_errors": sum(m.crc_errors for m in status.modules),
        "jobs": n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--faults", default="crc_errors:0.01,drop:0.01")
    parser.add_argument("--job-seconds", type=float, default=5.0)
    args = parser.parse_args()
    start_rss = rss_mib()
    results: dict = {}
    threads = [
        threading.Thread(
            target=soak, args=(link, args.minutes * 60, args.faults, args.job_seconds, results)
        )
        for link in ("inprocess", "usb", "serial")
    ]
    for t in threads:
        t.start()
    samples = []
    while any(t.is_alive() for t in threads):
        samples.append(rss_mib())
        deadline = time.monotonic() + 30
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
    print(f"soak {args.minutes:g} min, faults {args.faults}")
    for link, r in results.items():
        print(
            f"  {link:<9} sent {r['sent']:>7}  delivered {r['delivered']:>7}  "
            f"rejected {r['rejected'] or '{}'}  unaccounted {r['unaccounted']}  "
            f"(host CRC errors {r['crc_errors']}, {r['jobs']} jobs)"
        )
    mining = samples[1:] or samples
    half = mining[len(mining) // 2 :]
    print(
        f"RSS: {start_rss:.1f} MiB before the chains; while mining (every 30 s): first "
        f"{mining[0]:.1f}, second half {min(half):.1f}..{max(half):.1f}, last "
        f"{mining[-1]:.1f} MiB; {rss_mib():.1f} MiB at end"
    )
    return 0 if all(r["unaccounted"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
