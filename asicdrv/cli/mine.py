"""``asicdrv mine --job FILE | --notify JSON --seconds N``: dispatch one stratum job and list
the verified shares.  The job is a JSON object::

    {"params": [job_id, prevhash, coinb1, coinb2, [branch...], version, nbits, ntime, clean],
     "extranonce1": "hex", "extranonce2_size": 4, "difficulty": 1.0}

Exit 1 when the module returned nonces that failed verification (hardware errors).
"""
from __future__ import annotations

import json
import time

from ..errors import JobError
from ..stratum import StratumJob
from .common import add_device_args, emit_json, open_chain, table

HW_REASONS = ("bad_hash", "unknown_job")


def add_parser(sub) -> None:
    p = sub.add_parser("mine", help="dispatch one job and list verified shares",
                       description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--job", metavar="FILE", help="job JSON file")
    source.add_argument("--notify", metavar="JSON", help="the same JSON, inline")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--difficulty", type=float, default=None, help="override the job's")
    p.add_argument("--extranonce2-start", type=int, default=0)
    add_device_args(p)
    p.set_defaults(run=run)


def load_job(text: str, difficulty: float | None) -> StratumJob:
    try:
        spec = json.loads(text)
        params = spec["params"]
        extranonce1, size = spec["extranonce1"], int(spec["extranonce2_size"])
    except (ValueError, KeyError, TypeError) as exc:
        raise JobError(f"job JSON needs params, extranonce1, extranonce2_size ({exc})") from None
    return StratumJob.from_notify(params, extranonce1=extranonce1, extranonce2_size=size,
                                  difficulty=difficulty or float(spec.get("difficulty", 1.0)))


def run(args) -> int:
    if args.job:
        try:
            with open(args.job) as f:
                text = f.read()
        except OSError as exc:
            raise JobError(f"cannot read job file: {exc}") from None
    else:
        text = args.notify
    job = load_job(text, args.difficulty)
    shares = []
    with open_chain(args) as chain:
        chain.submit(job, extranonce2_start=args.extranonce2_start)
        deadline = time.monotonic() + args.seconds
        while (left := deadline - time.monotonic()) > 0:
            share = chain.next_share(timeout=min(left, 0.5))
            if share is not None:
                shares.append(share)
        status = chain.status()
    rejected: dict = {}
    for m in status.modules:
        for reason, count in m.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + count
    if args.json:
        emit_json({"job_id": job.job_id, "difficulty": job.difficulty,
                   "shares": [s.__dict__ for s in shares], "rejected": rejected})
    else:
        rows = [[s.module, s.miner, s.chip, s.extranonce2, f"{s.ntime:08x}", f"{s.nonce:08x}",
                 f"{s.difficulty:.4g}", s.hash[:24] + "...", "BLOCK" if s.is_block else ""]
                for s in shares]
        print(table(["module", "miner", "chip", "extranonce2", "ntime", "nonce", "diff",
                     "hash", ""], rows))
        print(f"{len(shares)} verified share(s) in {args.seconds:g} s for job {job.job_id}; "
              f"rejected: {rejected or 'none'}")
    return 1 if any(rejected.get(r) for r in HW_REASONS) else 0
