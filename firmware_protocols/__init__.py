"""Avalon MM and AUC wire formats as ``construct`` definitions.  Pure: bytes in, objects out.

The names below load their module on first use (PEP 562), so importing the package (or
only its errors) does not pay for the ``construct`` layouts until a frame is built or read.
"""

from .crc import crc16
from .errors import (
    AsicError,
    BadHeaderError,
    CrcError,
    FrameLengthError,
    LimitError,
    PayloadError,
    ProtocolError,
    UnknownTypeError,
)
from .lazy import lazy_attributes
from .types import BROADCAST, PacketType

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from .auc import AucCommand
    from .describe import describe_frame, parse_hex
    from .mm import (
        DATA_SIZE,
        PACKET_SIZE,
        MMPacket,
        decode_packet,
        decode_payload,
        encode_packet,
        encode_payload,
    )

_LAZY = {
    "AucCommand": ".auc",
    "describe_frame": ".describe",
    "parse_hex": ".describe",
    **dict.fromkeys(
        (
            "DATA_SIZE",
            "PACKET_SIZE",
            "MMPacket",
            "decode_packet",
            "decode_payload",
            "encode_packet",
            "encode_payload",
        ),
        ".mm",
    ),
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "AsicError",
    "AucCommand",
    "BROADCAST",
    "BadHeaderError",
    "CrcError",
    "DATA_SIZE",
    "FrameLengthError",
    "LimitError",
    "MMPacket",
    "PACKET_SIZE",
    "PacketType",
    "PayloadError",
    "ProtocolError",
    "UnknownTypeError",
    "crc16",
    "decode_packet",
    "decode_payload",
    "describe_frame",
    "encode_packet",
    "encode_payload",
    "parse_hex",
]
