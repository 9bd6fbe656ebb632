"""AUC (Avalon USB Converter, USB -> I2C bridge) packets: at most 64 bytes, one USB transfer
each.

Request: [0] length (4 + payload), [1] transaction id, [2] session id, [3] command, then the
payload (cgminer ``avalon8_auc_init_pkg``).  cgminer writes RESET/DEINIT/INIT/INFO as full
64-byte packets and an XFER as only its ``length`` bytes (48 for a 40-byte MM packet, 8 for a
read-again).  The AUC firmware (``cdc_i2c.c``, AUC-20151208) never reads the length byte: it
works from the command, the XFER header and its 64-byte slot.  Our builders write the length
right and :func:`decode_request` (for captured traffic) checks it.

Reply: ``[0]`` = 4 + the bytes returned; [1] and [2] echo the request's ids, [3] is the I2C
status (:class:`AucStatus`), data from [4] (LPCUSBSIO, ``lpcusbsio_i2c.h``).  Once a module
acknowledges the read, the firmware reads all ``rlen`` bytes (0xFF past what the module
sends); an MM4 acknowledges only with a reply ready, else the reply is the header alone with
SLAVE_NAK.  cgminer reads nothing of a reply but [0] and [4:].
"""

from __future__ import annotations

import struct
from enum import IntEnum

from .errors import FrameLengthError, PayloadError, UnknownTypeError
from .records import record

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any

AUC_PACKET_SIZE = 64
AUC_HEADER_SIZE = 4
XFER_HEADER_SIZE = 8
MAX_XFER_WRITE = AUC_PACKET_SIZE - XFER_HEADER_SIZE  # 56
VERSION_LENGTH = 12  # "AUC-YYYYMMDD"
INFO_LENGTH = 7
QUEUE_SLOTS = 4  # request and response queues of the AUC firmware, 64 bytes a slot
DEFAULT_I2C_CLOCK_HZ = 400_000
DEFAULT_XFER_DELAY = 19_200  # AUC ticks; 4800 = 1 ms
XFER_DELAY_TICKS_PER_S = 4_800_000  # cgminer: "4800 = 1ms in AUC"

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


class AucStatus(IntEnum):
    """Byte 3 of a reply (LPCUSBSIO response codes)."""

    OK = 0x00
    ERROR = 0x01
    NAK = 0x02
    BUS_ERROR = 0x03
    SLAVE_NAK = 0x04
    ARBLOST = 0x05
    TIMEOUT = 0x10
    INVALID_CMD = 0x11
    INVALID_PARAM = 0x12
    PARTIAL_DATA = 0x13


_COMMANDS = frozenset(int(c) for c in AucCommand)
_XFER = int(AucCommand.XFER)

# Plain ``struct`` layouts (the AUC's few fixed records need nothing more, and the host
# opening an AUC then loads no parser library)
INIT_PAYLOAD = struct.Struct("<II")  # clock_hz, xfer_delay
XFER_HEADER = struct.Struct("BBBB")  # wlen, rlen, options, slave
# cgminer logs bytes 2 and 3 as "reqcnt" and "respcnt": the depths of the two queues.
INFO_REPLY = struct.Struct("<HBBHB")
INFO_FIELDS = ("temp_adc", "request_queue", "response_queue", "tx_flags", "state")


def _packet(length: int, command: int, payload: bytes = b"", trans_id: int = 0) -> bytes:
    """A full 64-byte request, as cgminer writes every command but XFER."""
    return bytes((length, trans_id & 0xFF, 0, command)) + payload.ljust(AUC_PACKET_SIZE - 4, b"\0")


def build_reset(trans_id: int = 0) -> bytes:
    return _packet(4, AucCommand.RESET, trans_id=trans_id)


def build_deinit(trans_id: int = 0) -> bytes:
    return _packet(4, AucCommand.DEINIT, trans_id=trans_id)


def build_info(trans_id: int = 0) -> bytes:
    return _packet(4, AucCommand.INFO, trans_id=trans_id)


def build_init(
    clock_hz: int = DEFAULT_I2C_CLOCK_HZ, xfer_delay: int = DEFAULT_XFER_DELAY, trans_id: int = 0
) -> bytes:
    return _packet(12, AucCommand.INIT, _pack(INIT_PAYLOAD, "INIT", clock_hz, xfer_delay), trans_id)


def build_xfer(slave: int, write: bytes = b"", rlen: int = 0, trans_id: int = 0) -> bytes:
    """XFER: write ``write`` (an MM packet, or nothing to just read) to I2C ``slave``
    (0 = broadcast) and read ``rlen`` bytes back.  Only the packet's own length is
    returned (8 + len(write)), as cgminer writes it."""
    if len(write) > MAX_XFER_WRITE:
        raise PayloadError(f"XFER write of {len(write)} bytes; at most {MAX_XFER_WRITE} fit")
    if not 0 <= slave <= 0x7F:
        raise PayloadError(f"I2C address {slave} out of range 0..127")
    if not 0 <= rlen <= AUC_PACKET_SIZE - AUC_HEADER_SIZE:
        raise PayloadError(f"XFER read length {rlen} out of range 0..60")
    wlen = len(write)
    head = (XFER_HEADER_SIZE + wlen, trans_id & 0xFF, 0, _XFER, wlen, rlen, 0, slave)
    return bytes(head) + bytes(write)


@record(frozen=True)
class AucRequest:
    command: AucCommand
    length: int
    fields: dict[str, Any]
    trans_id: int = 0
    session_id: int = 0


def decode_request(frame: bytes) -> AucRequest:
    """Parse a host -> AUC packet of 4..64 bytes; bytes past its length byte are padding."""
    if not AUC_HEADER_SIZE <= len(frame) <= AUC_PACKET_SIZE:
        raise FrameLengthError(
            f"AUC packet is {len(frame)} bytes, expected {AUC_HEADER_SIZE}..{AUC_PACKET_SIZE}"
        )
    length, command = frame[0], frame[3]
    try:
        command = AucCommand(command)
    except ValueError:
        raise UnknownTypeError(f"unknown AUC command 0x{command:02x}") from None
    if not AUC_HEADER_SIZE <= length <= len(frame):
        raise FrameLengthError(f"AUC length byte {length} does not fit a {len(frame)}-byte packet")
    fields: dict[str, Any] = {}
    if command is AucCommand.INIT:
        if length < 12:
            raise PayloadError(f"AUC INIT length byte {length}, expected 12")
        fields = dict(zip(("clock_hz", "xfer_delay"), INIT_PAYLOAD.unpack_from(frame, 4)))
    elif command is AucCommand.XFER:
        if length < XFER_HEADER_SIZE:
            raise PayloadError(f"AUC XFER length byte {length} is shorter than its header")
        wlen, rlen, options, slave = XFER_HEADER.unpack_from(frame, 4)
        if wlen > MAX_XFER_WRITE or length != XFER_HEADER_SIZE + wlen:
            raise PayloadError(f"XFER length byte {length} does not match wlen {wlen}")
        fields = {
            "wlen": wlen,
            "rlen": rlen,
            "options": options,
            "slave": slave,
            "write": bytes(frame[8 : 8 + wlen]),
        }
    return AucRequest(command, length, fields, frame[1], frame[2])


def build_reply(
    data: bytes = b"", trans_id: int = 0, session_id: int = 0, status: int = AucStatus.OK
) -> bytes:
    """AUC -> host: exactly ``4 + len(data)`` bytes."""
    if len(data) > AUC_PACKET_SIZE - AUC_HEADER_SIZE:
        raise PayloadError(f"AUC reply data of {len(data)} bytes does not fit")
    return bytes((AUC_HEADER_SIZE + len(data), trans_id & 0xFF, session_id & 0xFF, status)) + bytes(
        data
    )


def reply_data(frame: bytes) -> bytes:
    """The data an AUC reply carries (``frame[4 : frame[0]]``)."""
    if len(frame) < AUC_HEADER_SIZE:
        raise FrameLengthError(f"AUC reply is {len(frame)} bytes, shorter than its header")
    length = frame[0]
    if not AUC_HEADER_SIZE <= length <= min(len(frame), AUC_PACKET_SIZE):
        raise FrameLengthError(
            f"AUC reply length byte {length} does not fit a {len(frame)}-byte reply"
        )
    return bytes(frame[AUC_HEADER_SIZE:length])


def is_request(frame: bytes) -> bool:
    """True when an AUC packet is host -> AUC: byte 3 is a command (0xA0..), where a
    reply carries a status code (0x00..0x13)."""
    return AUC_HEADER_SIZE <= len(frame) <= AUC_PACKET_SIZE and frame[3] in _COMMANDS


def looks_like_auc(frame: bytes) -> bool:
    """A packet whose length byte fits its size (what ``decode`` takes as AUC)."""
    return AUC_HEADER_SIZE <= len(frame) <= AUC_PACKET_SIZE and AUC_HEADER_SIZE <= frame[0] <= len(
        frame
    )


def decode_info(data: bytes) -> dict[str, int]:
    if len(data) < INFO_LENGTH:
        raise FrameLengthError(f"AUC INFO reply is {len(data)} bytes, expected {INFO_LENGTH}")
    return dict(zip(INFO_FIELDS, INFO_REPLY.unpack_from(data)))


def build_info_data(
    temp_adc: int,
    request_queue: int = 0,
    response_queue: int = 0,
    tx_flags: int = 0,
    state: int = 0,
) -> bytes:
    return _pack(INFO_REPLY, "INFO", temp_adc, request_queue, response_queue, tx_flags, state)


def _pack(layout: struct.Struct, what: str, *values: int) -> bytes:
    try:
        return layout.pack(*values)
    except struct.error as exc:
        raise PayloadError(f"AUC {what}: {exc}") from None
