"""Avalon MM and AUC wire formats as ``construct`` definitions.  Pure: bytes in, objects out."""

from .auc import AucCommand
from .crc import crc16
from .describe import describe_frame, parse_hex
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
from .mm import (
    DATA_SIZE,
    PACKET_SIZE,
    MMPacket,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)
from .types import BROADCAST, PacketType

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
