"""Soak against a pool that behaves as ckpool does, and check the books share for share.

Run: python benchmarks/soak_ckpool.py [--minutes 10] [--chains 2]

One controller mines on emulated chains for the test pool (which checks every share with
hashlib alone).  The pool never answers ``mining.extranonce.subscribe``, and in rotation
(one step every --step-seconds, 15 s): pings every client, re-sends the current work under
a new job id, rejects for a few seconds with ckpool's ``reject-reason`` field, stops
reading submits for a few seconds and then sends an empty ``client.reconnect``, sends a
clean job.  At the end it prints what the pool and the controller each counted: accepted
must agree exactly, no share may be a duplicate, the controller's books must balance
(found = submitted + stale, submitted = accepted + rejected + unknown), and no request may
have waited longer than the reply timeout.
"""

import argparse
import os
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from asicdrv import Emulator  # noqa: E402
from asicdrv.mining.controller import Controller, DeviceConfig  # noqa: E402
from asicdrv.mining.pool import PoolConfig  # noqa: E402
from asicdrv.testing import EASY_NONCE_MASK, TestPool, easy_difficulty  # noqa: E402

REPLY_TIMEOUT_S = 10.0


def step(pool: TestPool, n: int, seconds: float) -> str:
    kind = n % 5
    if kind == 0:
        pool.ping()
        return "ping"
    if kind == 1:
        pool.resend_job()
        return "same work, new job id"
    if kind == 2:
        pool.reject_reason_field, pool.reject = True, (23, "Above target")
        time.sleep(min(3.0, seconds / 3))
        pool.reject = None
        return "rejects with reject-reason"
    if kind == 3:
        pool.deaf = True
        time.sleep(min(3.0, seconds / 3))
        pool.deaf = False
        pool.reconnect(empty=True)
        return "deaf, then empty client.reconnect"
    pool.new_job(clean=True)
    return "clean job"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--step-seconds", type=float, default=15.0)
    args = ap.parse_args()
    emus = [
        Emulator(modules=3, nonce_mask=EASY_NONCE_MASK, seed=20 + n) for n in range(args.chains)
    ]
    devices = [DeviceConfig(url="emu://", options={"emulator": emu}) for emu in emus]
    steps: Counter = Counter()
    oldest_request = 0.0
    with TestPool(difficulty=easy_difficulty(), keep=200_000) as pool:
        pool.answer_extranonce_subscribe = False
        controller = Controller(
            [PoolConfig(pool.url, "soak.1")],
            devices,
            retry_min=0.05,
            retry_max=1.0,
            reply_timeout=REPLY_TIMEOUT_S,
        ).start()
        end = time.monotonic() + args.minutes * 60
        n = 0
        try:
            while time.monotonic() < end:
                time.sleep(args.step_seconds)
                steps[step(pool, n, args.step_seconds)] += 1
                n += 1
                client = controller.pools[0].client
                if client is not None:
                    waits = [age for _, age in client.pending_requests()]
                    oldest_request = max([oldest_request, *waits])
        finally:
            controller.stop()
        pool_accepted = pool.counts["accepted"]
        duplicates = pool.counts["Duplicate share"]
        pool_rejected = sum(n for k, n in pool.counts.items() if k != "accepted")
        shares = list(pool.shares)
    counts = controller.status()["pools"][0]["counts"]
    rejected, unknown = sum(counts["rejected"].values()), sum(counts["unknown"].values())
    stale = sum(counts["stale"].values())
    keys = [(s.extranonce2, s.ntime, s.nonce) for s in shares]
    print(f"soak: {args.minutes:g} min, {args.chains} chain(s) of 3; steps: {dict(steps)}")
    print(
        f"pool:       accepted {pool_accepted}, rejected {pool_rejected}, "
        f"duplicates {duplicates}, never read {pool.unheard}"
    )
    print(
        f"controller: found {counts['found']}, submitted {counts['submitted']}, "
        f"accepted {counts['accepted']}, rejected {rejected} {dict(counts['rejected'])}, "
        f"unknown {unknown} {dict(counts['unknown'])}, stale {stale}"
    )
    checks = {
        "accepted agrees with the pool": counts["accepted"] == pool_accepted,
        "no duplicate share": duplicates == 0 and len(keys) == len(set(keys)),
        "found = submitted + stale": counts["found"] == counts["submitted"] + stale,
        "submitted = accepted + rejected + unknown": counts["submitted"]
        == counts["accepted"] + rejected + unknown,
        f"no request older than {REPLY_TIMEOUT_S:g} s (+ one step)": oldest_request
        <= REPLY_TIMEOUT_S + args.step_seconds,
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    print(f"oldest pending request seen: {oldest_request:.1f} s")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
