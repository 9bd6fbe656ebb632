"""What selftest and burnin share: --report FILE and the repair history (--db)."""

from __future__ import annotations

import sys

from ..bench.history import History, HistoryError, default_path
from ..bench.report import check_report_path, write_report


def add_report_args(parser) -> None:
    parser.add_argument(
        "--report",
        metavar="FILE.html|FILE.json",
        action="append",
        default=[],
        help="write a self-contained report (HTML) or its data (JSON); give it twice for both",
    )
    parser.add_argument(
        "--db",
        default=None,
        metavar="FILE",
        help=f"repair history database (default {default_path()})",
    )


def check_report_args(args) -> None:
    """Before the test: every --report name usable (a typo must not cost a burn-in)."""
    for path in args.report:
        check_report_path(path)


def finish_report(args, report: dict) -> None:
    """Record the run in the history (one that cannot be used is said on stderr; the
    verdict stands), then write the reports asked for."""
    try:
        with History(args.db) as history:
            history.record(report)
    except HistoryError as exc:
        print(f"asicdrv {args.command}: {exc}", file=sys.stderr)
    for path in args.report:
        write_report(path, report)
