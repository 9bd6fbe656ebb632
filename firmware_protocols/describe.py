"""Captured frames -> plain dicts for people and JSON (what ``asicdrv decode`` prints).

Pure like the rest of the package.  Bytes become hex strings; a CRC mismatch is shown
(``crc_ok: False``) with the fields still decoded.
"""

from __future__ import annotations


from . import auc
from .errors import FrameLengthError, ProtocolError
from .mm import PACKET_SIZE, decode_packet

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any


def describe_frame(frame: bytes, from_device: bool | None = None) -> dict[str, Any]:
    """Decode a 40-byte MM frame or an AUC packet (4..64 bytes, its length byte first) into
    a JSON-ready dict.  ``from_device`` is the direction when known (a traffic log says)."""
    if len(frame) == PACKET_SIZE and frame[:2] == b"CN":
        return describe_mm(frame, from_device)
    if auc.looks_like_auc(frame):
        return describe_auc(frame)
    if len(frame) == PACKET_SIZE:
        return describe_mm(frame, from_device)  # raises BadHeaderError, with the reason
    raise FrameLengthError(
        f"frame is {len(frame)} bytes: expected {PACKET_SIZE} (MM) or an AUC packet of "
        f"{auc.AUC_HEADER_SIZE}..{auc.AUC_PACKET_SIZE} bytes whose first byte is its length"
    )


def describe_mm(frame: bytes, from_device: bool | None = None) -> dict[str, Any]:
    pkt = decode_packet(frame, verify_crc=False, from_device=from_device)
    out: dict[str, Any] = {
        "type": pkt.name,
        "type_code": pkt.type,
        "opt": pkt.opt,
        "idx": pkt.idx,
        "cnt": pkt.cnt,
        "crc": pkt.crc,
        "crc_ok": pkt.crc_ok,
    }
    for name, value in pkt.fields().items():
        out[name] = _jsonable(value)
    return out


def describe_auc(frame: bytes) -> dict[str, Any]:
    if auc.is_request(frame):
        req = auc.decode_request(frame)
        out: dict[str, Any] = {
            "type": f"AUC_{req.command.name}",
            "length": req.length,
            "trans_id": req.trans_id,
        }
        fields = dict(req.fields)
        write = fields.pop("write", None)
        out.update(fields)
        if req.command is auc.AucCommand.XFER:
            out["packet"] = describe_mm(write, False) if len(write) == PACKET_SIZE else None
            if write and len(write) != PACKET_SIZE:
                out["write"] = write.hex()
        return out
    data = auc.reply_data(frame)
    try:
        status = auc.AucStatus(frame[3]).name
    except ValueError:
        status = f"0x{frame[3]:02x}"
    out = {
        "type": "AUC_REPLY",
        "length": frame[0],
        "trans_id": frame[1],
        "status": status,
        "data": data.hex(),
    }
    if len(data) == PACKET_SIZE and data[:2] == b"CN":
        try:
            out["packet"] = describe_mm(data, True)
        except ProtocolError as exc:
            out["packet_error"] = str(exc)
    elif len(data) == auc.VERSION_LENGTH and data.startswith(b"AUC-"):
        out["version"] = data.decode("ascii", "replace")
    return out


def _jsonable(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def parse_hex(text: str) -> bytes:
    """Hex text -> bytes, accepting spaces, colons and an optional 0x prefix."""
    cleaned = "".join(text.split()).replace(":", "")
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise ProtocolError(f"not hex: {text.strip()[:60]!r}") from None


__all__ = ["describe_frame", "describe_mm", "describe_auc", "parse_hex"]
