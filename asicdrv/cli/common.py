"""What every reporting command shares: --device / --json, opening the chain, findings,
and plain-text tables."""
from __future__ import annotations

import json
import sys

from .. import connect
from ..errors import DeviceNotFound
from ..status import STATE_OK, ModuleStatus

AUTO = "auto"
EMULATOR_URL = "emu://"


def add_device_args(parser, json_flag: bool = True) -> None:
    parser.add_argument("--device", default=AUTO, metavar="URL",
                        help="usb://, usb://BUS:ADDR, serial:///dev/ttyUSB0 or emu://... "
                             "(default: the first AUC; the built-in emulator if none)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def open_chain(args, **options):
    """Open ``args.device``; with ``auto``, fall back to the emulator when no AUC answers
    and say so on stderr (a technician must never mistake it for a board)."""
    if args.device != AUTO:
        return connect.open(args.device, **options)
    try:
        return connect.open("usb://", **options)
    except DeviceNotFound as exc:
        print(f"note: {exc} -> using the built-in EMULATOR (emu://); pass --device to "
              f"choose", file=sys.stderr)
        return connect.open(EMULATOR_URL, **options)


def emit_json(obj) -> None:
    print(json.dumps(obj, default=str))


def findings(m: ModuleStatus) -> list[str]:
    """What a technician must look at on this module (empty = healthy)."""
    out = []
    if m.state != STATE_OK:
        out.append({"cutoff": "overheat cutoff", "lost": "module lost"}.get(m.state, m.state))
    if m.fan_failed:
        out.append("fan stalled (0 RPM)")
    if m.power_good is False:
        out.append("power not good")
    silent = sum(t is None for row in m.chip_temperatures_c for t in row)
    if m.state == STATE_OK and silent and m.hottest_chip_c is not None:
        out.append(f"{silent} chip sensor(s) silent")
    for miner, chips in m.chip_test.items():
        if chips:
            out.append(f"miner {miner}: chip(s) {', '.join(map(str, chips))} failed the test")
    return out


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths))
            for r in cells]
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
