"""Where a generation's packets differ from the Avalon 8's: per-type payload layouts.

Every MM generation from Avalon 7 on uses the same 40-byte frame and the same type codes
(spec section 5.2); a few payloads differ.  A :class:`Dialect` lists those, and
:func:`firmware_protocols.mm.decode_payload`/``encode_payload`` take one.  The Avalon 8
layouts in :mod:`.payloads` are the base; a dialect names its own layouts, which live in
:mod:`.dialect_layouts`.

Sources (notes in ``docs/families.md`` and ``docs/protocol.md``): A7 cgminer ``driver-avalon7.c``
(``avalon7_set_freq``, ``decode_pkg``); A9 Canaan ``avalon911`` ``driver-avalon9.c``
(``avalon9_set_voltage_level``, ``avalon9_set_freq``, ``decode_pkg``); LC3 Canaan
``avalonlc3`` ``driver-avalonlc3.c``.
"""

from __future__ import annotations

from .compiled import CompiledLayouts
from .records import field, record
from .types import PacketType as T

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any, Literal, Mapping


@record(frozen=True)
class Dialect:
    name: str
    # the types whose payload differs from the Avalon 8's -> the name of its layout in
    # :mod:`.dialect_layouts` (loaded, with construct, only when one is needed)
    overrides: Mapping[int, str] = field(default_factory=dict)
    # byte order of the CRC in frames from the MM
    device_crc_order: Literal["big", "little"] = "big"
    magic: bytes = b"CN"
    has_opt: bool = True  # the Avalon 2/3 "AV" frame has no OPT byte
    wire_codes: Mapping[int, int] = field(default_factory=dict)  # PacketType -> code
    names: Mapping[int, str] = field(default_factory=dict)  # code -> its own name
    compiled: Mapping[int, Any] = field(init=False, repr=False, compare=False)
    by_wire_code: Mapping[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "compiled", CompiledLayouts(self.overrides, _layout_named))
        object.__setattr__(self, "by_wire_code", {code: t for t, code in self.wire_codes.items()})

    @property
    def frame_size(self) -> int:
        return len(self.magic) + (4 if self.has_opt else 3) + 32 + 2

    def wire_code(self, ptype: int) -> int:
        return self.wire_codes.get(ptype, ptype) if self.wire_codes else ptype


def _layout_named(name: str):
    from . import dialect_layouts  # construct, loaded with the first layout a host needs

    return getattr(dialect_layouts, name)


def a4_test_ret_chips(data: bytes) -> tuple[int, list[int]]:
    """A per-miner TEST_RET of the MM4: (miner, failed-work counts of its four chips)."""
    return data[0], [int.from_bytes(data[1 + 4 * i : 5 + 4 * i], "big") for i in range(4)]


def a4_test_ret_summary(data: bytes) -> tuple[int, int]:
    """The MM4's last TEST_RET: (test works that passed, all test works)."""
    return int.from_bytes(data[0:4], "big"), int.from_bytes(data[4:8], "big")


AVALON4 = Dialect(
    "avalon4",
    {
        T.STATIC: "A4_STATIC",
        T.JOB_ID: "A4_JOB_ID",
        T.SET: "A4_SET",
        T.NONCE: "A4_NONCE",
        T.STATUS: "A4_STATUS",
        T.STATUS_PMU: "A4_STATUS_M",
        T.SET_VOLT: "A4_SET_VOLT",
        T.SET_FREQ: "A4_SET_FREQ",
        T.TEST: "A4_TEST",
        T.TEST_RET: "A4_TEST_RET",
    },
    device_crc_order="little",
)

AVALON7 = Dialect(
    "avalon7",
    {
        T.SET_PLL: "A7_SET_PLL",
        T.STATUS_PLL: "A7_STATUS_PLL",
        T.STATUS_PVT: "A7_STATUS_PVT",
        T.STATUS_ASIC: "A7_STATUS_ASIC",
    },
)

AVALON8 = Dialect("avalon8")

AVALON9 = Dialect(
    "avalon9",
    {
        T.SET_ADJUST_VOLT: "A9_ADJUST",
        T.SET_ADJUST_FREQ: "A9_ADJUST",
        T.SET_VOLT: "A9_SET_VOLT",
        T.SET_PLL: "A9_SET_PLL",
        T.STATUS_PVT: "A9_STATUS_PVT",
        T.STATUS_VOLT: "SINGLE_VOLT",
        T.STATUS_PMU: "STATUS_POWER",
    },
)

AVALONLC3 = Dialect("avalonlc3", {T.STATUS_VOLT: "SINGLE_VOLT", T.STATUS_PMU: "STATUS_POWER"})

AV_CODES: dict[int, int] = {
    T.DETECT: 10,
    T.STATIC: 11,
    T.JOB_ID: 12,
    T.COINBASE: 13,
    T.MERKLES: 14,
    T.HEADER: 15,
    T.POLLING: 16,
    T.TARGET: 17,
    T.SYNC: 18,
    T.SET: 19,
    T.TEST: 20,
    T.NONCE: 23,
    T.STATUS: 24,
    T.ACKDETECT: 25,
    T.TEST_RET: 26,
}

AVALON2 = Dialect(
    "avalon2",
    {
        T.ACKDETECT: "AV_ACKDETECT",
        T.POLLING: "AV_POLLING",
        T.SET: "AV_SET",
        T.TEST: "AV_TEST",
        T.TEST_RET: "AV_TEST_RET",
        T.SYNC: "AV_SYNC",
        T.NONCE: "AV_NONCE",
        T.STATUS: "AV_STATUS",
        T.STATIC: "A4_STATIC",
        T.JOB_ID: "A4_JOB_ID",
    },
    device_crc_order="little",
    magic=b"AV",
    has_opt=False,
    wire_codes=AV_CODES,
)

AVALON_NANO = Dialect(
    "avalon_nano",
    {
        T.DETECT: "NANO_DETECT",
        T.SET_VOLT: "NANO_SET_VOLT",
        T.SET_FREQ: "NANO_SET_FREQ",
        T.SET_PMU: "NANO_WORK",  # 0x24 WORK
        T.SET_PLL: "NANO_SETM",  # 0x25 SETM
        T.POLLING: "NANO_POLLING",
        T.RSTMMTX: "NANO_GET_FREQ",  # 0x33 GET_FREQ
        T.STATUS: "NANO_STATUS_M",  # 0x41 STATUS_M
        T.NONCE: "NANO_NONCE_M",  # 0x42 NONCE_M
        T.STATUS_LW: "NANO_STATUS_FREQ",  # 0x44 STATUS_FREQ
        # 0x32 TEST (4-mini hid_main.c, case AVAM_P_TEST): works per chip (0: its own 16),
        # the voltage code the chips are switched to (low byte), then three PLL words in
        # SET_FREQ's order; the stick switches the chips off when the test is done
        T.TEST: "NANO_TEST",
        # 0x43 TEST_RET (testcores): d[0] 0, then failed-work counts (BE32) of chips 0-3;
        # then chip 4 (its other three slots keep chips 1-3's counts); then d[0..3] the
        # works that passed and d[4..7] all works
        T.TEST_RET: "NANO_TEST_RET",
    },
    names={
        0x24: "WORK",
        0x25: "SETM",
        0x33: "GET_FREQ",
        0x41: "STATUS_M",
        0x42: "NONCE_M",
        0x44: "STATUS_FREQ",
    },
)

DIALECTS = {
    d.name: d for d in (AVALON2, AVALON4, AVALON7, AVALON8, AVALON9, AVALONLC3, AVALON_NANO)
}
