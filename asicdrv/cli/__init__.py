"""The ``asicdrv`` command: one subcommand per module in this package."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import AsicError
from . import decode, emulate, mine, monitor, scan, selftest, set, status

COMMANDS = [scan, status, set, selftest, monitor, mine, decode, emulate]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asicdrv", description="Avalon hash-board driver and bench diagnostics.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except AsicError as exc:
        print(f"asicdrv {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
