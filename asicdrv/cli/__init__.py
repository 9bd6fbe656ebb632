"""The ``asicdrv`` command: one subcommand per module in this package."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import AsicError
from .common import AUTO
from . import burnin, decode, emulate, history, mine, monitor, run, scan, selftest, set, status

COMMANDS = [run, scan, status, set, selftest, burnin, history, monitor, mine, decode, emulate]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asicdrv", description="Avalon hash-board driver and bench diagnostics."
    )
    parser.add_argument(
        "--device",
        dest="global_device",
        default=None,
        metavar="URL",
        help="the device, for any command (also accepted after it)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.global_device is not None and hasattr(args, "device"):
        if args.device not in (AUTO, args.global_device):
            parser.error("--device given twice with different URLs")
        args.device = args.global_device
    try:
        return args.run(args)
    except AsicError as exc:
        print(f"asicdrv {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head and the like
        return 0
    except OSError as exc:  # a file or port the command was pointed at
        print(
            f"asicdrv {args.command}: {exc.strerror or exc}"
            f"{': ' + str(exc.filename) if exc.filename else ''}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a technician gets one line, never a traceback
        print(
            f"asicdrv {args.command}: internal error ({type(exc).__name__}: {exc}); "
            f"please report it",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
