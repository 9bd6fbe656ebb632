"""The 40-byte Avalon MM packet: ``CN`` | type | opt | idx | cnt | data[32] | crc16(data).

Same layout in both directions (cgminer ``struct avalon8_pkg``, ``avalon8_init_pkg``).
"""

from __future__ import annotations

import struct

from .crc import crc16
from .dialects import AVALON8, DIALECTS, Dialect
from .fast import FAST_DECODERS
from .fast_dialects import FAST_BY_DIALECT
from .errors import BadHeaderError, CrcError, FrameLengthError, PayloadError, UnknownTypeError
from .fast_encode import fast_encoder
from .records import record
from .types import STATUS_MINER_EN, PacketType, packet_name

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any, Literal, Mapping

PACKET_SIZE = 40
DATA_SIZE = 32
HEADER = b"CN"

# payloads.FRAME is the definition; decode_packet reads the same fixed layout with one
# precompiled struct because for six header bytes and a CRC construct's parser costs ~30x
# more (benchmarks/bench_protocol.py).  tests/test_protocol_properties.py checks they agree.
_FRAME_STRUCT = struct.Struct(">2sBBBB32sH")
_KNOWN_TYPES = frozenset(int(t) for t in PacketType)


@record(frozen=True)
class MMPacket:
    """One decoded MM packet.  ``crc_ok`` is False only when decoded with
    ``verify_crc=False`` (a capture a technician wants to see anyway).  ``from_device``
    (True: MM -> host) settles type 0x50; None when the direction is not known."""

    type: int
    opt: int
    idx: int
    cnt: int
    data: bytes
    crc: int
    crc_ok: bool = True
    from_device: bool | None = None
    dialect: str = "avalon8"

    @property
    def name(self) -> str:
        return DIALECTS[self.dialect].names.get(self.type) or packet_name(
            self.type, self.from_device
        )

    def fields(self, *, per_chip_pvt: bool = False) -> dict[str, Any]:
        """The payload as a plain dict of named fields (see :mod:`.payloads`)."""
        return decode_payload(
            self.type,
            self.data,
            per_chip_pvt=per_chip_pvt,
            from_device=self.from_device,
            dialect=self.dialect,
        )

    def to_bytes(self) -> bytes:
        dialect = DIALECTS[self.dialect]
        order: Literal["big", "little"] = dialect.device_crc_order if self.from_device else "big"
        head = (dialect.wire_code(self.type),) + ((self.opt,) if dialect.has_opt else ())
        return (
            dialect.magic
            + bytes(head + (self.idx, self.cnt))
            + self.data
            + self.crc.to_bytes(2, order)
        )


def decode_packet(
    frame: bytes,
    *,
    verify_crc: bool = True,
    from_device: bool | None = None,
    dialect: str | Dialect = AVALON8,
) -> MMPacket:
    """Parse a 40-byte frame; raise a :class:`ProtocolError` subclass if it is not one.

    With ``verify_crc=False`` a CRC mismatch is reported in ``crc_ok`` instead of raised.
    ``from_device`` is the direction, when the caller knows it; with the generation's
    ``dialect`` it says the CRC's byte order (device frames of the Avalon 4 carry it low
    byte first) and how payloads read.
    """
    dialect = _dialect(dialect)
    if dialect.magic != HEADER:
        return _decode_other_frame(frame, verify_crc, from_device, dialect)
    if len(frame) != PACKET_SIZE:
        raise FrameLengthError(f"MM frame is {len(frame)} bytes, expected {PACKET_SIZE}")
    if frame[:2] != HEADER:
        raise BadHeaderError(f"MM frame starts with {bytes(frame[:2]).hex()}, expected 434e")
    _, ptype, opt, idx, cnt, data, crc = _FRAME_STRUCT.unpack(frame)
    if ptype not in _KNOWN_TYPES:
        raise UnknownTypeError(f"unknown MM packet type 0x{ptype:02x}")
    if from_device and dialect.device_crc_order == "little":
        crc = (crc >> 8) | (crc & 0xFF) << 8
    expected = crc16(data)
    if expected != crc and verify_crc:
        raise CrcError(
            f"CRC mismatch in {packet_name(ptype, from_device)}: frame says "
            f"0x{crc:04x}, data gives 0x{expected:04x}",
            expected,
            crc,
        )
    return MMPacket(ptype, opt, idx, cnt, data, crc, expected == crc, from_device, dialect.name)


def decode_device_frame(frame: bytes, dialects=("avalon8", "avalon4")) -> MMPacket:
    """A frame from a module whose generation is not known yet: tried in each dialect's
    CRC byte order in turn (on a CN link: high byte first from an Avalon 7 or later, low
    byte first from an Avalon 4, spec section 1).  The last CrcError is raised."""
    for i, dialect in enumerate(dialects):
        try:
            return decode_packet(frame, from_device=True, dialect=dialect)
        except CrcError:
            if i == len(dialects) - 1:
                raise
    raise ValueError("no dialect to decode with")


def encode_packet(
    ptype: int,
    fields: Mapping[str, Any] | None = None,
    *,
    data: bytes | None = None,
    idx: int = 1,
    cnt: int = 1,
    opt: int = 0,
    dialect: str | Dialect = AVALON8,
    from_device: bool = False,
) -> bytes:
    """Build a 40-byte frame from named payload ``fields`` or from raw ``data``
    (``from_device``: as the MM sends it, with the generation's CRC byte order)."""
    dialect = _dialect(dialect)
    if data is None:
        data = encode_payload(ptype, fields or {}, dialect=dialect)
    elif len(data) > DATA_SIZE:
        raise PayloadError(f"payload is {len(data)} bytes, at most {DATA_SIZE} fit")
    else:
        data = bytes(data).ljust(DATA_SIZE, b"\0")
    for name, value in (("type", ptype), ("opt", opt), ("idx", idx), ("cnt", cnt)):
        if not 0 <= value <= 0xFF:
            raise PayloadError(f"{name} {value} does not fit in one byte")
    order: Literal["big", "little"] = dialect.device_crc_order if from_device else "big"
    if dialect.magic != HEADER:  # AV: no OPT, the generation's type codes
        return (
            dialect.magic
            + bytes((dialect.wire_code(ptype), idx, cnt))
            + data
            + crc16(data).to_bytes(2, order)
        )
    return bytes((0x43, 0x4E, ptype, opt, idx, cnt)) + data + crc16(data).to_bytes(2, order)


def _decode_other_frame(
    frame: bytes, verify_crc: bool, from_device: bool | None, dialect: Dialect
) -> MMPacket:
    """A frame of a dialect with another magic and header (the Avalon 2/3 "AV" frame)."""
    size = dialect.frame_size
    if len(frame) != size:
        raise FrameLengthError(f"{dialect.name} frame is {len(frame)} bytes, expected {size}")
    magic = bytes(frame[: len(dialect.magic)])
    if magic != dialect.magic:
        raise BadHeaderError(
            f"{dialect.name} frame starts with {magic.hex()}, expected {dialect.magic.hex()}"
        )
    code, idx, cnt = frame[2], frame[3], frame[4]
    ptype = dialect.by_wire_code.get(code)
    if ptype is None:
        raise UnknownTypeError(f"unknown {dialect.name} packet type {code}")
    data = bytes(frame[5:37])
    crc = int.from_bytes(frame[37:39], dialect.device_crc_order if from_device else "big")
    expected = crc16(data)
    if expected != crc and verify_crc:
        raise CrcError(
            f"CRC mismatch in {dialect.name} {PacketType(ptype).name}: frame says "
            f"0x{crc:04x}, data gives 0x{expected:04x}",
            expected,
            crc,
        )
    return MMPacket(ptype, 0, idx, cnt, data, crc, expected == crc, from_device, dialect.name)


def _dialect(dialect: str | Dialect) -> Dialect:
    if isinstance(dialect, Dialect):
        return dialect
    try:
        return DIALECTS[dialect]
    except KeyError:
        raise UnknownTypeError(
            f"unknown generation {dialect!r}; known: {', '.join(DIALECTS)}"
        ) from None


def encode_payload(
    ptype: int, fields: Mapping[str, Any], *, dialect: str | Dialect = AVALON8
) -> bytes:
    """The 32 data bytes for ``ptype`` from its named fields (missing fields are 0)."""
    dialect = _dialect(dialect)
    fast = fast_encoder(dialect, ptype)
    try:
        if fast is not None:
            return fast(fields)  # same bytes as the layout, precompiled struct
        from . import payloads  # construct, for the layouts a host rarely builds

        try:
            layout = dialect.compiled.get(ptype) or payloads.COMPILED[PacketType(ptype)]
        except ValueError:
            raise UnknownTypeError(f"unknown MM packet type 0x{ptype:02x}") from None
        return payloads.build(layout, fields)
    except UnknownTypeError:
        raise
    except (struct.error, TypeError, ValueError, OverflowError) as exc:
        raise PayloadError(f"cannot encode {_type_name(ptype)}: {exc}") from exc


def decode_payload(
    ptype: int,
    data: bytes,
    *,
    per_chip_pvt: bool = False,
    from_device: bool | None = None,
    dialect: str | Dialect = AVALON8,
) -> dict[str, Any]:
    """Named fields of a payload.  ``per_chip_pvt`` selects the pre-851 STATUS_PVT layout;
    ``from_device`` reads 0x50 as STATUS_MINER_EN; ``dialect`` names the generation."""
    dialect = _dialect(dialect)
    fast = FAST_BY_DIALECT.get(dialect.name, {}).get(ptype)
    if fast is not None and len(data) == DATA_SIZE:
        return fast(data)  # same result, precompiled struct
    special = (ptype == PacketType.STATUS_PVT and per_chip_pvt) or (
        ptype == STATUS_MINER_EN and from_device
    )
    if (
        not special
        and ptype not in dialect.compiled
        and ptype in FAST_DECODERS
        and len(data) == DATA_SIZE
    ):
        return FAST_DECODERS[ptype](data)  # same result, precompiled struct
    from . import payloads  # construct, for the layouts a host rarely reads

    if ptype in dialect.compiled:
        layout = dialect.compiled[ptype]
    elif ptype == PacketType.STATUS_PVT and per_chip_pvt:
        layout = payloads.compiled_pvt_per_chip()
    elif ptype == STATUS_MINER_EN and from_device:
        layout = payloads.compiled_miner_en()
    else:
        try:
            layout = payloads.COMPILED[PacketType(ptype)]
        except ValueError:
            raise UnknownTypeError(f"unknown MM packet type 0x{ptype:02x}") from None
    try:
        return payloads.parse(layout, data)
    except (struct.error, UnicodeError, ValueError) as exc:
        raise PayloadError(f"cannot decode {packet_name(ptype, from_device)}: {exc}") from exc


def _type_name(ptype: int) -> str:
    try:
        return PacketType(ptype).name
    except ValueError:
        return f"0x{ptype:02x}"


def __getattr__(name: str):
    if name == "FRAME":  # the frame's construct definition, loaded when asked for
        from .payloads import FRAME

        return FRAME
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
