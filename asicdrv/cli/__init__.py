"""The ``asicdrv`` command: one subcommand per module in this package."""

from __future__ import annotations

import argparse
import sys

from importlib import import_module

from ..errors import AsicError
from .commands import HELP
from .common import AUTO

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Sequence


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (given ``argv``) one with only the named command's options:
    the others are placeholders, so their modules (the controller, the emulator, the farm
    side) are not loaded for nothing."""
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
    chosen = None if argv is None else _command_in(argv)
    for name, help_text in HELP.items():
        if argv is None or name == chosen:
            import_module(f".{name}", __name__).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text)
    parser.set_defaults(commands=sub.choices)  # each command's parser, for its own usage
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is one, past --device URL)."""
    words = iter(argv)
    for word in words:
        if word == "--device":
            next(words, None)
        elif word in HELP:
            return word
        elif not word.startswith("-"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _command_in(argv) == "run":  # a cgminer command line works as it is
        from .cgminer_args import translate

        at = argv.index("run") + 1
        try:
            rest, notes = translate(argv[at:])
        except (AsicError, OSError) as exc:
            print(f"asicdrv run: {exc}", file=sys.stderr)
            return 2
        argv[at:] = rest
        for note in notes:
            print(note, file=sys.stderr)
    parser = build_parser(argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said with the command's own usage, not the top level's
        command = args.commands[args.command]
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
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
