"""asicdrv decode: captured MM frames and AUC packets, as text or JSON lines.

Input: one hex frame per argument, or lines on stdin.  A stdin line may be a traffic-log
line ("SECONDS > HEX" / "SECONDS < HEX", what the emulator's log writes); "#" starts a
comment.  A traffic-log line's direction names type 0x50 (SET_ASIC_OTP from the host,
STATUS_MINER_EN from the module).  Exit status: 0 every frame decoded with a good CRC, 1 a
CRC mismatch was seen (still printed), 2 some input was not a frame.
"""

from __future__ import annotations

import json
import sys

from firmware_protocols import ProtocolError, describe_frame, parse_hex
from .common import add_command

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Iterable, Iterator

DIRECTIONS = {">": "host->device", "<": "device->host"}
_FROM_DEVICE = {"host->device": False, "device->host": True}


def add_parser(sub) -> None:
    p = add_command(sub, "decode", __doc__)
    p.add_argument("frames", nargs="*", metavar="HEX", help="frames in hex (default: stdin)")
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.frames:  # an argument is one frame, even an empty one (an error, said so)
        frames = [
            (None, text) if not text.strip() else next(_frames([text]), (None, ""))
            for text in args.frames
        ]
    else:
        frames = list(_frames(sys.stdin))
        if not frames:
            print("asicdrv decode: no frames on stdin", file=sys.stderr)
            return 2
    status = 0
    for number, (direction, text) in enumerate(frames, 1):
        try:
            frame = parse_hex(text)
            if not frame:
                raise ProtocolError("empty frame: give the frame's bytes in hex")
            described = describe_frame(frame, _FROM_DEVICE.get(direction or ""))
        except ProtocolError as exc:
            print(f"asicdrv decode: frame {number}: {exc}", file=sys.stderr)
            status = 2
            continue
        if direction:
            described = {"direction": direction, **described}
        if not _crc_ok(described):
            status = max(status, 1)
        if args.json:
            print(json.dumps(described))
        else:
            print(format_frame(number, described))
    return status


def _frames(lines: Iterable[str]) -> Iterator[tuple[str | None, str]]:
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        if len(tokens) >= 3 and tokens[1] in DIRECTIONS and _is_number(tokens[0]):
            yield DIRECTIONS[tokens[1]], "".join(tokens[2:])
        else:
            yield None, line


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _crc_ok(described: dict) -> bool:
    inner = described.get("packet")
    return described.get("crc_ok", True) and (inner is None or inner.get("crc_ok", True))


_HEADER_KEYS = ("direction", "type", "type_code", "opt", "idx", "cnt", "crc", "crc_ok")


def format_frame(number: int, d: dict, indent: str = "") -> str:
    """A readable dump: a header line, then one line per field."""
    if "type_code" in d:
        head = (
            f"{indent}[{number}] {d['type']} (0x{d['type_code']:02x})  idx {d['idx']}  "
            f"cnt {d['cnt']}  opt {d['opt']}  crc 0x{d['crc']:04x} "
            f"{'ok' if d['crc_ok'] else 'MISMATCH'}"
        )
    else:
        head = f"{indent}[{number}] {d['type']}"
    if d.get("direction"):
        head += f"  ({d['direction']})"
    lines = [head]
    for key, value in d.items():
        if key in _HEADER_KEYS:
            continue
        if key == "packet" and isinstance(value, dict):
            lines.append(format_frame(number, value, indent + "    "))
            continue
        lines.append(f"{indent}    {key:<18} {_show(value)}")
    return "\n".join(lines)


def _show(value) -> str:
    if isinstance(value, dict):
        return "  ".join(f"{k}={_show(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
