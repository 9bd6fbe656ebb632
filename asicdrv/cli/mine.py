"""asicdrv mine --job FILE | --notify JSON [--seconds N]: dispatch one stratum job and list
the verified shares.  The job is a JSON object:

    {"params": [job_id, prevhash, coinb1, coinb2, [branch...], version, nbits, ntime, clean],
     "extranonce1": "hex", "extranonce2_size": 4, "difficulty": 1.0}

Exit status: 0 done, 1 the module returned nonces that failed verification (hardware
errors), 2 an error.  If the device goes away mid-run the shares found so far are printed
first, then the error.
"""

from __future__ import annotations

import json
import time

from ..errors import AsicError, JobError
from ..device.shares import HW_ERROR_REASONS
from ..mining.stratum import StratumJob
from .common import add_command, add_device_args, emit_json, open_chain, positive_number, table


def add_parser(sub) -> None:
    p = add_command(sub, "mine", __doc__)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--job", metavar="FILE", help="job JSON file")
    source.add_argument("--notify", metavar="JSON", help="the same JSON, inline")
    p.add_argument(
        "--seconds",
        type=positive_number,
        default=10.0,
        help="how long to collect shares (default 10)",
    )
    p.add_argument(
        "--difficulty",
        type=positive_number,
        default=None,
        help="share difficulty, overriding the job's",
    )
    p.add_argument("--extranonce2-start", type=int, default=0)
    add_device_args(p)
    p.set_defaults(run=run)


def load_job(text: str, difficulty: float | None) -> StratumJob:
    try:
        spec = json.loads(text)
        params = spec["params"]
        extranonce1, size = spec["extranonce1"], spec["extranonce2_size"]
        if difficulty is None:
            difficulty = spec.get("difficulty", 1.0)
    except (ValueError, KeyError, TypeError) as exc:
        raise JobError(f"job JSON needs params, extranonce1, extranonce2_size ({exc})") from None
    return StratumJob.from_notify(
        params, extranonce1=extranonce1, extranonce2_size=size, difficulty=difficulty
    )


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
    shares: list = []
    failure: AsicError | None = None
    with open_chain(args) as chain:
        try:
            chain.submit(job, extranonce2_start=args.extranonce2_start)
            deadline = time.monotonic() + args.seconds
            while (left := deadline - time.monotonic()) > 0:
                share = chain.next_share(timeout=min(left, 0.5))
                if share is not None:
                    shares.append(share)
        except AsicError as exc:  # keep what was found; say what happened after
            failure = exc
        status = chain.status()
    rejected: dict = {}
    for m in status.modules:
        for reason, count in m.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + count
    report(args, job, shares, rejected, failure)
    if failure is not None:
        raise failure
    return 1 if any(rejected.get(r) for r in HW_ERROR_REASONS) else 0


def report(args, job, shares, rejected, failure) -> None:
    if args.json:
        emit_json(
            {
                "job_id": job.job_id,
                "difficulty": job.difficulty,
                "shares": [s.__dict__ for s in shares],
                "rejected": rejected,
                "error": None if failure is None else str(failure),
            }
        )
    else:
        rows = [
            [
                s.module,
                s.miner,
                s.chip,
                s.extranonce2,
                f"{s.ntime:08x}",
                f"{s.nonce:08x}",
                f"{s.difficulty:.4g}",
                s.hash[:24] + "...",
                "BLOCK" if s.is_block else "",
            ]
            for s in shares
        ]
        print(
            table(
                ["module", "miner", "chip", "extranonce2", "ntime", "nonce", "diff", "hash", ""],
                rows,
            )
        )
        print(
            f"{len(shares)} verified share(s) in {args.seconds:g} s for job {job.job_id}; "
            f"rejected: {rejected or 'none'}"
        )
