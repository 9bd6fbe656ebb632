"""AUC (Avalon USB Converter, USB -> I2C bridge) packets: always 64 bytes.

Request: [0] length (4 + payload), [1] transaction id 0, [2] session id 0, [3] command,
then the payload, zero-padded (cgminer ``avalon8_auc_init_pkg``).  Reply: [0] = 4 + the
number of bytes returned, data from [4].  cgminer reads nothing of a reply but [0] and [4:];
the bridge (and our emulator) leaves [1:4] zero, which is how a capture tells the two apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from construct import Int8ub, Int16ul, Int32ul, Struct

from .errors import FrameLengthError, PayloadError, UnknownTypeError

AUC_PACKET_SIZE = 64
AUC_HEADER_SIZE = 4
XFER_HEADER_SIZE = 8
MAX_XFER_WRITE = AUC_PACKET_SIZE - XFER_HEADER_SIZE  # 56
VERSION_LENGTH = 12  # "AUC-YYYYMMDD"
INFO_LENGTH = 7
DEFAULT_I2C_CLOCK_HZ = 400_000
DEFAULT_XFER_DELAY = 19_200  # AUC ticks; 4800 = 1 ms

USB_VENDOR_ID = 0x29F1
USB_PRODUCT_ID = 0x33F2
USB_MANUFACTURER = "CANAAN"
USB_PRODUCT = "USB2IIC Converter"
USB_CONFIGURATION = 1
USB_INTERFACE = 1
EP_OUT = 0x01
EP_IN = 0x81
USB_TIMEOUT_MS = 200


class AucCommand(IntEnum):
    RESET = 0xA0
    INIT = 0xA1
    DEINIT = 0xA2
    XFER = 0xA5
    INFO = 0xA6


INIT_PAYLOAD = Struct("clock_hz" / Int32ul, "xfer_delay" / Int32ul).compile()
XFER_HEADER = Struct("wlen" / Int8ub, "rlen" / Int8ub, "options" / Int8ub,
                     "slave" / Int8ub).compile()
INFO_REPLY = Struct("temp_adc" / Int16ul, "request_index" / Int8ub, "response_index" / Int8ub,
                    "tx_flags" / Int16ul, "state" / Int8ub).compile()


def _packet(length: int, command: int, payload: bytes = b"") -> bytes:
    return bytes((length, 0, 0, command)) + payload.ljust(AUC_PACKET_SIZE - 4, b"\0")


def build_reset() -> bytes:
    return _packet(4, AucCommand.RESET)


def build_deinit() -> bytes:
    return _packet(4, AucCommand.DEINIT)


def build_info() -> bytes:
    return _packet(4, AucCommand.INFO)


def build_init(clock_hz: int = DEFAULT_I2C_CLOCK_HZ, xfer_delay: int = DEFAULT_XFER_DELAY) -> bytes:
    return _packet(12, AucCommand.INIT,
                   INIT_PAYLOAD.build({"clock_hz": clock_hz, "xfer_delay": xfer_delay}))


def build_xfer(slave: int, write: bytes = b"", rlen: int = 0) -> bytes:
    """XFER: write ``write`` (an MM packet, or nothing to just read) to I2C ``slave``
    (0 = broadcast) and read ``rlen`` bytes back."""
    if len(write) > MAX_XFER_WRITE:
        raise PayloadError(f"XFER write of {len(write)} bytes; at most {MAX_XFER_WRITE} fit")
    if not 0 <= slave <= 0x7F:
        raise PayloadError(f"I2C address {slave} out of range 0..127")
    if not 0 <= rlen <= AUC_PACKET_SIZE - AUC_HEADER_SIZE:
        raise PayloadError(f"XFER read length {rlen} out of range 0..60")
    header = XFER_HEADER.build({"wlen": len(write), "rlen": rlen, "options": 0, "slave": slave})
    return _packet(XFER_HEADER_SIZE + len(write), AucCommand.XFER, header + write)


@dataclass(frozen=True, slots=True)
class AucRequest:
    command: AucCommand
    length: int
    fields: dict[str, Any]


def decode_request(frame: bytes) -> AucRequest:
    """Parse a host -> AUC packet."""
    _check_size(frame)
    length, command = frame[0], frame[3]
    try:
        command = AucCommand(command)
    except ValueError:
        raise UnknownTypeError(f"unknown AUC command 0x{command:02x}") from None
    fields: dict[str, Any] = {}
    if command is AucCommand.INIT:
        fields = dict(INIT_PAYLOAD.parse(frame[4:12]))
    elif command is AucCommand.XFER:
        header = XFER_HEADER.parse(frame[4:8])
        wlen = header.wlen
        if wlen > MAX_XFER_WRITE or length != XFER_HEADER_SIZE + wlen:
            raise PayloadError(f"XFER length byte {length} does not match wlen {wlen}")
        fields = {"wlen": wlen, "rlen": header.rlen, "options": header.options,
                  "slave": header.slave, "write": bytes(frame[8:8 + wlen])}
    fields.pop("_io", None)
    return AucRequest(command, length, fields)


def build_reply(data: bytes = b"") -> bytes:
    """AUC -> host: ``[0] = 4 + len(data)``, data from byte 4."""
    if len(data) > AUC_PACKET_SIZE - AUC_HEADER_SIZE:
        raise PayloadError(f"AUC reply data of {len(data)} bytes does not fit")
    return _packet(AUC_HEADER_SIZE + len(data), 0, data)[:AUC_PACKET_SIZE]


def reply_data(frame: bytes) -> bytes:
    """The data an AUC reply carries (``frame[4 : frame[0]]``)."""
    if len(frame) < AUC_HEADER_SIZE:
        raise FrameLengthError(f"AUC reply is {len(frame)} bytes, shorter than its header")
    length = frame[0]
    if not AUC_HEADER_SIZE <= length <= min(len(frame), AUC_PACKET_SIZE):
        raise FrameLengthError(f"AUC reply length byte {length} does not fit a "
                               f"{len(frame)}-byte reply")
    return bytes(frame[AUC_HEADER_SIZE:length])


def is_request(frame: bytes) -> bool:
    """True when a 64-byte frame is host -> AUC (its command byte is set)."""
    return len(frame) == AUC_PACKET_SIZE and frame[3] != 0


def decode_info(data: bytes) -> dict[str, int]:
    if len(data) < INFO_LENGTH:
        raise FrameLengthError(f"AUC INFO reply is {len(data)} bytes, expected {INFO_LENGTH}")
    info = dict(INFO_REPLY.parse(data[:INFO_LENGTH]))
    info.pop("_io", None)
    return info


def build_info_data(temp_adc: int, request_index: int = 0, response_index: int = 0,
                    tx_flags: int = 0, state: int = 0) -> bytes:
    return INFO_REPLY.build(dict(temp_adc=temp_adc, request_index=request_index,
                                 response_index=response_index, tx_flags=tx_flags, state=state))


def _check_size(frame: bytes) -> None:
    if len(frame) != AUC_PACKET_SIZE:
        raise FrameLengthError(f"AUC packet is {len(frame)} bytes, expected {AUC_PACKET_SIZE}")
