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


EXIT_NOT_RECORDED = 4  # the verdict was healthy, but the run is not in the history


def finish_report(args, report: dict) -> bool:
    """Record the run in the history, then write the reports asked for.  False when it
    could not be recorded (said on stderr; the verdict stands): the command then exits
    with :data:`EXIT_NOT_RECORDED` rather than 0, so a script notices."""
    recorded = True
    try:
        with History(args.db) as history:
            history.record(report)
    except HistoryError as exc:
        print(f"asicdrv {args.command}: {exc}", file=sys.stderr)
        recorded = False
    for path in args.report:
        write_report(path, report)
    return recorded
