"""Soak against a pool with ckpool's ways and a hostile one's, checking the books share for
share.

Run: python benchmarks/soak_pool.py [--minutes 10] [--chains 2] [--ways ckpool,hostile]

One controller mines on emulated chains for the test pool (which checks every share with
hashlib alone).  The pool never answers ``mining.extranonce.subscribe``, and in rotation
(one step every --step-seconds, 15 s) it plays, with ``ckpool``: pings every client,
re-sends the current work under a new job id, rejects for a few seconds with ckpool's
``reject-reason`` field, stops reading submits for a few seconds and then sends an empty
``client.reconnect``, sends a clean job; with ``hostile``: a difficulty of 1e-300 for a few
seconds, a ``client.reconnect`` to a dead port with a 3600 s wait, a notify whose job id is
a lone surrogate.  At the end it prints what the pool and the controller each counted:
accepted must agree exactly, no share may be a duplicate, mining must go on to the end, the
controller's books must balance (found = submitted + stale, submitted = accepted +
rejected + unknown), and no request may have waited longer than the reply timeout.
"""

import argparse
import json
import os
import socket
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from asicdrv import Emulator  # noqa: E402
from asicdrv.mining.controller import Controller, DeviceConfig  # noqa: E402
from asicdrv.mining.pool import PoolConfig  # noqa: E402
from asicdrv.testing import EASY_NONCE_MASK, TestPool, easy_difficulty  # noqa: E402

REPLY_TIMEOUT_S = 10.0


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hostile_step(pool: TestPool, n: int, seconds: float) -> str:
    kind = n % 3
    if kind == 0:
        difficulty = pool.difficulty
        pool.set_difficulty(1e-300)
        time.sleep(min(3.0, seconds / 3))
        pool.set_difficulty(difficulty)
        return "difficulty 1e-300"
    if kind == 1:
        pool.reconnect(port=dead_port(), wait=3600)
        return "reconnect to a dead port, wait 3600 s"
    params = pool.job.notify_params()
    line = '{"id": null, "method": "mining.notify", "params": ["\\ud800", '
    pool.send_raw((line + ", ".join(json.dumps(p) for p in params[1:]) + "]}\n").encode())
    return "notify with a lone surrogate job id"


def ckpool_step(pool: TestPool, n: int, seconds: float) -> str:
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
    ap.add_argument("--ways", default="ckpool,hostile", help="ckpool, hostile or both")
    args = ap.parse_args()
    plays = {"ckpool": ckpool_step, "hostile": hostile_step}
    try:
        ways = [plays[w.strip()] for w in args.ways.split(",")]
    except KeyError as exc:
        ap.error(f"--ways: {exc} is neither ckpool nor hostile")
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
                play = ways[n % len(ways)]
                steps[play(pool, n // len(ways), args.step_seconds)] += 1
                n += 1
                client = controller.pools[0].client
                if client is not None:
                    waits = [age for _, age in client.pending_requests()]
                    oldest_request = max([oldest_request, *waits])
            before = pool.counts["accepted"]  # after the last step: still mining?
            time.sleep(min(10.0, args.step_seconds))
            still_mining = pool.counts["accepted"] > before
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
        "still mining after the last step": still_mining,
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
