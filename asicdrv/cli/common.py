"""What every reporting command shares: --device / --json, opening the chain, findings,
and plain-text tables."""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import time

from ..errors import DeviceNotFound
from .commands import HELP
from ..models import MODELS
from ..device.findings import module_findings as findings  # noqa: F401 (the commands')

AUTO = "auto"
EMULATOR_URL = "emu://"


def add_command(sub, name: str, doc: str):
    """A subcommand whose --help shows its whole docstring, as written."""
    return sub.add_parser(
        name, help=HELP[name], description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def positive_number(text: str) -> float:
    """argparse type: a finite number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number above 0")
    return value


def whole_number(text: str, low: int | None = None) -> int:
    """A whole number written in ASCII digits (int() would take other scripts' digits)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    value = int(text)
    if low is not None and value < low:
        raise argparse.ArgumentTypeError(f"{text!r}: give {low} or more")
    return value


def count_type(text: str) -> int:
    return whole_number(text, low=1)


def terminal_width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


def add_device_args(parser, json_flag: bool = True) -> None:
    parser.add_argument(
        "--device",
        default=AUTO,
        metavar="URL",
        help="usb://, usb://BUS:ADDR, serial:///dev/ttyUSB0 or emu://... "
        "(default: the first AUC; the built-in emulator if none)",
    )
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def open_chain(args, **options):
    """Open ``args.device``; with ``auto``, fall back to the emulator when no AUC answers
    and say so on stderr (a technician must never mistake it for a board)."""
    from .. import connect  # the device layer loads when a command opens a device

    if args.device != AUTO:
        return connect.open(args.device, **options)
    try:
        return connect.open("usb://", **options)
    except DeviceNotFound as exc:
        print(
            f"note: {exc} -> using the built-in EMULATOR (emu://); pass --device to choose",
            file=sys.stderr,
        )
        return connect.open(EMULATOR_URL, **options)


def emit_json(obj) -> None:
    print(json.dumps(obj, default=str))


def missing_findings(status) -> list[str]:
    return [f"address {address}: {why}" for address, why in sorted(status.missing.items())]


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths))
        for r in cells
    ]
    return "\n".join(out)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("-", "", 1).isdigit()


SENSOR_WAIT_S = 3.0  # how long a just-powered board may take to read its sensors


def first_readings(chain, status, wait_s: float = SENSOR_WAIT_S):
    """A board just powered may not have read its sensor yet (the nano reports 0 until its
    TMP102's first read, a second after power-on): give it ``wait_s`` before showing or
    judging its temperature."""
    deadline = time.monotonic() + wait_s
    while any(m.temperature_c is None for m in status.modules) and time.monotonic() < deadline:
        time.sleep(0.1)
        status = chain.status()
    return status


def fan_text(m) -> str:
    """A module's fan for a table: its duty and mode, or "none" for a model without a fan
    of its own (the sticks), rather than a duty nobody sends."""
    spec = MODELS.get(m.model)
    if spec is not None and not spec.has_fan:
        return "none"
    if m.fan_sent is None:  # a passive command: never send, never claim, a duty
        return "-"
    return f"{m.fan_sent}%{' auto' if m.auto_fan else ''}"
