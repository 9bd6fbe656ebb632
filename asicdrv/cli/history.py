"""asicdrv history [DNA] [--db FILE] [--json]

Every recorded self-test and burn-in, oldest first, for one module (by DNA) or all: when,
what, the verdict and which chips failed, so a chip failing again after a repair shows.
"""

from __future__ import annotations

import time

from ..bench.history import History, HistoryMissing, default_path
from .common import add_command, emit_json, table


def add_parser(sub) -> None:
    p = add_command(sub, "history", __doc__)
    p.add_argument("dna", nargs="?", default=None, help="a module's DNA (16 hex digits)")
    p.add_argument(
        "--db", default=None, metavar="FILE", help=f"history database (default {default_path()})"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args) -> int:
    try:
        history = History(args.db, create=False)
    except HistoryMissing as exc:  # nothing recorded yet (or a mistyped --db)
        print(exc)
        return 0
    with history:
        runs = history.runs(args.dna)
    if args.json:
        emit_json(runs)
        return 0
    if not runs:
        print(
            f"no recorded runs{' for ' + args.dna if args.dna else ''} in "
            f"{args.db or default_path()}"
        )
        return 0
    print(
        table(
            ["when", "DNA", "model", "test", "verdict", "failed chips (miner.chip)"],
            [
                [
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"])),
                    r["dna"],
                    r["model"],
                    r["kind"],
                    r["verdict"],
                    " ".join(f"{m}.{c}" for m, c in r["failed_chips"]) or "-",
                ]
                for r in runs
            ],
        )
    )
    return 0
