"""Where a generation's packets differ from the Avalon 8's: per-type payload layouts.

Every MM generation from Avalon 7 on uses the same 40-byte frame and the same type codes
(spec section 5.2); a few payloads differ.  A :class:`Dialect` lists those, and
:func:`firmware_protocols.mm.decode_payload`/``encode_payload`` take one.  The Avalon 8
layouts in :mod:`.payloads` are the base; ``None`` means the A8 layout.

Sources (notes in ``docs/families.md`` and ``docs/protocol.md``): A7 cgminer ``driver-avalon7.c``
(``avalon7_set_freq``, ``decode_pkg``); A9 Canaan ``avalon911`` ``driver-avalon9.c``
(``avalon9_set_voltage_level``, ``avalon9_set_freq``, ``decode_pkg``); LC3 Canaan
``avalonlc3`` ``driver-avalonlc3.c``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from construct import (
    Array,
    BitsInteger,
    BitStruct,
    Bytes,
    Flag,
    Int8ub,
    Int16ub,
    Int32sb,
    Int32ub,
    Padding,
    Struct,
)

from .payloads import CompiledLayouts, Text
from .types import PacketType as T


@dataclass(frozen=True)
class Dialect:
    name: str
    overrides: Mapping[int, Struct] = field(default_factory=dict)
    # byte order of the CRC in frames from the MM
    device_crc_order: Literal["big", "little"] = "big"
    magic: bytes = b"CN"
    has_opt: bool = True  # the Avalon 2/3 "AV" frame has no OPT byte
    wire_codes: Mapping[int, int] = field(default_factory=dict)  # PacketType -> code
    names: Mapping[int, str] = field(default_factory=dict)  # code -> its own name
    compiled: Mapping[int, Any] = field(init=False, repr=False, compare=False)
    by_wire_code: Mapping[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        assert all(s.sizeof() == 32 for s in self.overrides.values()), self.name
        object.__setattr__(self, "compiled", CompiledLayouts(self.overrides))
        object.__setattr__(self, "by_wire_code", {code: t for t, code in self.wire_codes.items()})

    @property
    def frame_size(self) -> int:
        return len(self.magic) + (4 if self.has_opt else 3) + 32 + 2

    def wire_code(self, ptype: int) -> int:
        return self.wire_codes.get(ptype, ptype) if self.wire_codes else ptype


# A7: six PLLs; two ASIC timeout words ((0x2000000 / fmax) * 40 / 4 and ... * 98 / 100).
_A7_SET_PLL = Struct(
    "pll_words" / Array(6, Int32ub), "asic_timeout" / Int32ub, "asic_timeout_98" / Int32ub
)
_A7_STATUS_PLL = Struct("lock_counts" / Array(6, Int32ub), Padding(8))
# A7 STATUS_PVT: one frame for the module; per miner two bytes (cgminer keeps them as
# temp[0], temp[1]; their meaning is not given) and three sensor codes; cgminer drives the
# fan from the second code (its temp[3]), so we read that one as the miner's hottest.
_A7_STATUS_PVT = Struct(
    "miners" / Array(4, Struct("ids" / Array(2, Int8ub), "temp_codes" / Array(3, Int16ub)))
)
_A7_STATUS_ASIC = Struct(
    "spd_pass" / Int32ub,
    "spd_fail" / Int32ub,
    "sum_failed" / Int32ub,
    "sum_num" / Int32ub,
    "sum_xor" / Int32ub,
    "pll_counts" / Array(6, Int8ub),
    Padding(6),
)

# A9: six miners; SET_VOLT carries raw levels and the adjust_volt_freq flag word.
_A9_SET_VOLT = Struct("voltage_words" / Array(6, Int32ub), "adjust_volt_freq" / Int32ub, Padding(4))
_A9_SET_PLL = Struct(
    "pll_words" / Array(4, Int32ub),
    "pll_param" / Int32ub,
    "asic_timeout" / Int32ub,
    "miner_id" / Int32ub,
    "asic_id" / Int32ub,
)
_A9_STATUS_PVT = Struct(
    "sensors" / Array(6, Struct("temp_code" / Int16ub, "volt_code" / Int16ub)), Padding(8)
)
# A9 / LC3: STATUS_VOLT is one BE16 for the module; 0x48 is STATUS_POWER (six power
# supply readings, valid when d[12] is non-zero).
_SINGLE_VOLT = Struct("vout_raw" / Int16ub, Padding(30))
_STATUS_POWER = Struct("power_supply" / Array(6, Int16ub), "valid" / Int8ub, Padding(19))

# Avalon 4 / 4.1 / 5 / 6 (cgminer driver-avalon4.c; MM4 firmware main.c).  Device frames
# carry their CRC low byte first.  STATIC ends with the pool difficulty and number; JOB_ID is
# the job tag alone; the per-module SET carries the voltage word, three PLL frequencies in
# MHz (f0 | f1 << 10 | f2 << 20) and the nonce2 window; NONCE and STATUS have their own order.
_A4_STATIC = Struct(
    "coinbase_len" / Int32ub,
    "nonce2_offset" / Int32ub,
    "nonce2_size" / Int32ub,
    "merkle_offset" / Int32ub,
    "merkle_count" / Int32ub,
    "difficulty" / Int32ub,
    "pool" / Int32ub,
    Padding(4),
)
_A4_JOB_ID = Struct("job_crc" / Int16ub, Padding(30))
_A4_FREQUENCIES = BitStruct(
    Padding(2), "f2" / BitsInteger(10), "f1" / BitsInteger(10), "f0" / BitsInteger(10)
)
_A4_SET = Struct(
    "ntime_roll" / Int32ub,
    "voltage_word" / Int32ub,
    "frequencies" / _A4_FREQUENCIES,
    "nonce2_start" / Int32ub,
    "nonce2_range" / Int32ub,
    "flags" / BitStruct(Padding(6), "nonce_check" / Flag, "smart_speed" / Flag),
    "speed_bingo" / Int8ub,
    "speed_error" / Int8ub,
    Padding(9),
)
_A4_NONCE = Struct(
    "chip" / Int16ub,
    "miner" / Int16ub,
    "pool" / Int32ub,
    "nonce2" / Int32ub,
    "ntime_offset" / Int32ub,
    "nonce_raw" / Int32ub,
    "job_crc" / Int16ub,
    Padding(10),
)
_A4_STATUS = Struct(
    "temperature_mm" / Int32sb,
    "fan_rpm" / Int32ub,
    "frequency" / Int32ub,
    "voltage_word" / Int32ub,
    "local_works" / Int32ub,
    "hw_errors" / Int32ub,
    "power_good" / Int32ub,
    "error_code" / Int32ub,
)
# A4 0x48 is STATUS_M: six ADC readings (NTC 1-4, 12 V, 3.3 V), LED, PLL selection counts
_A4_STATUS_M = Struct(
    "adc" / Array(6, Int16ub), "led" / Int32ub, "pll_select" / Array(7, Int16ub), Padding(2)
)
# A4 SET_VOLT: one BE16 code per miner at permuted slots (OPT = save << 4 | mode)
_A4_SET_VOLT = Struct("codes" / Array(16, Int16ub))
# A4 SET_FREQ (MM avalon4 main.c, case AVA4_P_SET_FREQ; cgminer avalon4_set_freq): the
# three PLL (CPM) words for frequencies 0, 1, 2 (the firmware stores them as pll[2], pll[1],
# pll[0]), then the miner (1-based, 0 = all); OPT is the chip (0 = all).  Every chip gets
# the words with its next work.
_A4_SET_FREQ = Struct("pll_words" / Array(3, Int32ub), "miner" / Int8ub, Padding(19))
# A4 TEST (MM avalon4 main.c, case AVA4_P_TEST): cores to test per chip (0: the firmware's
# 64), the voltage word both regulators are switched to for the test, the three
# frequencies as in SET, and the three PLL (CPM) words every chip is given.  The MM
# switches the voltage off again when the test is done.  Every field is used: a frame of
# zeros runs the chips at the word 0x0000 (1.6 V on an NCP5392P) and 0 MHz.
_A4_TEST = Struct(
    "core_count" / Int32ub,
    "voltage_word" / Int32ub,
    "frequencies" / _A4_FREQUENCIES,
    "pll_words" / Array(3, Int32ub),
    Padding(8),
)
# A4 TEST_RET (api.c api_asic_testcores): per miner, one frame per four chips, d[0] the
# miner and then each chip's count of failed test works (BE32); then one summary frame,
# d[0..3] the works that passed and d[4..7] all works.  Which is which follows from the
# order, so the host reads the raw bytes (see a4_test_ret_chips/_summary).
_A4_TEST_RET = Struct("data" / Bytes(32))


def a4_test_ret_chips(data: bytes) -> tuple[int, list[int]]:
    """A per-miner TEST_RET of the MM4: (miner, failed-work counts of its four chips)."""
    return data[0], [int.from_bytes(data[1 + 4 * i : 5 + 4 * i], "big") for i in range(4)]


def a4_test_ret_summary(data: bytes) -> tuple[int, int]:
    """The MM4's last TEST_RET: (test works that passed, all test works)."""
    return int.from_bytes(data[0:4], "big"), int.from_bytes(data[4:8], "big")


AVALON4 = Dialect(
    "avalon4",
    {
        T.STATIC: _A4_STATIC,
        T.JOB_ID: _A4_JOB_ID,
        T.SET: _A4_SET,
        T.NONCE: _A4_NONCE,
        T.STATUS: _A4_STATUS,
        T.STATUS_PMU: _A4_STATUS_M,
        T.SET_VOLT: _A4_SET_VOLT,
        T.SET_FREQ: _A4_SET_FREQ,
        T.TEST: _A4_TEST,
        T.TEST_RET: _A4_TEST_RET,
    },
    device_crc_order="little",
)
AVALON7 = Dialect(
    "avalon7",
    {
        T.SET_PLL: _A7_SET_PLL,
        T.STATUS_PLL: _A7_STATUS_PLL,
        T.STATUS_PVT: _A7_STATUS_PVT,
        T.STATUS_ASIC: _A7_STATUS_ASIC,
    },
)
AVALON8 = Dialect("avalon8")
# A9 SET_ADJUST_VOLT / SET_ADJUST_FREQ (cgminer avalon911 driver-avalon9.c
# avalon9_set_adjust_{volt,freq}_option): up init, factor, threshold, down init, factor,
# threshold, time, each BE32 (the inits signed)
_A9_ADJUST = Struct(
    "up_init" / Int32sb,
    "up_factor" / Int32ub,
    "up_threshold" / Int32ub,
    "down_init" / Int32sb,
    "down_factor" / Int32ub,
    "down_threshold" / Int32ub,
    "time" / Int32ub,
    Padding(4),
)
AVALON9 = Dialect(
    "avalon9",
    {
        T.SET_ADJUST_VOLT: _A9_ADJUST,
        T.SET_ADJUST_FREQ: _A9_ADJUST,
        T.SET_VOLT: _A9_SET_VOLT,
        T.SET_PLL: _A9_SET_PLL,
        T.STATUS_PVT: _A9_STATUS_PVT,
        T.STATUS_VOLT: _SINGLE_VOLT,
        T.STATUS_PMU: _STATUS_POWER,
    },
)
AVALONLC3 = Dialect("avalonlc3", {T.STATUS_VOLT: _SINGLE_VOLT, T.STATUS_PMU: _STATUS_POWER})

# Avalon 2 / 3 (MM2/MM3 firmware; cgminer driver-avalon2.c, BFGMiner driver-avalonmm.c):
# 39-byte "AV" frames without OPT, decimal type codes, device CRC low byte first, the
# module id in the last data word of DETECT, POLLING and every device frame.
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
_AV_ACKDETECT = Struct("version" / Text(15), Padding(13), "module_id" / Int32ub)
_AV_POLLING = Struct(
    "fan_pwm" / Int32ub,
    "voltage_word" / Int32ub,
    "frequency" / Int32ub,
    "led" / Int32ub,
    Padding(8),
    "apply" / Int32ub,
    "module_id" / Int32ub,
)
_AV_SET = Struct(
    "fan_pwm" / Int32ub,
    "voltage_word" / Int32ub,
    "frequency" / Int32ub,
    "nonce2_start" / Int32ub,
    "nonce2_range" / Int32ub,
    Padding(12),
)
_AV_TEST = Struct("miner" / Int8ub, Padding(27), "module_id" / Int32ub)
# MM firmware alink.c alink_asic_test: one frame per miner, IDX always 1; d[0] the miner
# number from 1, d[1..10] each chip's count of failed cores (ASIC_COUNT chips: 10 on the
# MM3, 7 on the MM2), d[28..31] the module id
_AV_TEST_RET = Struct(
    "miner_number" / Int8ub, "failed_cores" / Array(10, Int8ub), Padding(17), "module_id" / Int32ub
)
_AV_SYNC = Struct(Padding(28), "module_id" / Int32ub)
_AV_NONCE = Struct(
    "miner" / Int32ub,
    "pool" / Int32ub,
    "nonce2" / Int32ub,
    "ntime_offset" / Int32ub,
    "nonce_raw" / Int32ub,
    "job_crc" / Int16ub,
    Padding(6),
    "module_id" / Int32ub,
)
_AV_STATUS = Struct(
    "temperatures" / Array(2, Int16ub),
    "fans_rpm" / Array(2, Int16ub),
    "frequency" / Int32ub,
    "voltage_word" / Int32ub,
    "local_works" / Int32ub,
    "hw_errors" / Int32ub,
    "power_good" / Int32ub,
    "module_id" / Int32ub,
)
AVALON2 = Dialect(
    "avalon2",
    {
        T.ACKDETECT: _AV_ACKDETECT,
        T.POLLING: _AV_POLLING,
        T.SET: _AV_SET,
        T.TEST: _AV_TEST,
        T.TEST_RET: _AV_TEST_RET,
        T.SYNC: _AV_SYNC,
        T.NONCE: _AV_NONCE,
        T.STATUS: _AV_STATUS,
        T.STATIC: _A4_STATIC,
        T.JOB_ID: _A4_JOB_ID,
    },
    device_crc_order="little",
    magic=b"AV",
    has_opt=False,
    wire_codes=AV_CODES,
)

# Avalon nano 2 ("3U") and Avalon4 mini (cgminer driver-avalon-miner.c; Avalon-nano
# firmware): the "CN" frame, CRC high byte first both ways, over 40-byte HID reports.  The
# host sends work (midstates), not stratum jobs; several codes mean other things here.
_NANO_REPORT = Struct(
    "work_id" / Int32ub,
    Padding(2),
    "chip" / Int8ub,
    "ntime" / Int8ub,
    "nonce_raw" / Int32ub,
    Padding(1),
    "usb_fifo" / Int8ub,
    "work_fifo" / Int8ub,
    "nonce_fifo" / Int8ub,
)
AVALON_NANO = Dialect(
    "avalon_nano",
    {
        T.DETECT: Struct(Padding(32)),
        T.SET_VOLT: Struct("voltage_code" / Int16ub, Padding(30)),
        T.SET_FREQ: Struct("pll_words" / Array(3, Int32ub), Padding(20)),
        T.SET_PMU: Struct("chunk" / Bytes(32)),  # 0x24 WORK
        T.SET_PLL: Struct("spi" / Int32ub, Padding(28)),  # 0x25 SETM
        T.POLLING: Struct(Padding(32)),
        T.RSTMMTX: Struct(Padding(32)),  # 0x33 GET_FREQ
        T.STATUS: Struct("words" / Array(8, Int32ub)),  # 0x41 STATUS_M
        T.NONCE: Struct("reports" / Array(2, _NANO_REPORT)),  # 0x42 NONCE_M
        T.STATUS_LW: Struct("pll_words" / Array(3, Int32ub), Padding(20)),  # 0x44 STATUS_FREQ
        # 0x32 TEST (4-mini hid_main.c, case AVAM_P_TEST): works per chip (0: its own 16),
        # the voltage code the chips are switched to (low byte), then three PLL words in
        # SET_FREQ's order; the stick switches the chips off when the test is done
        T.TEST: Struct(
            "core_count" / Int32ub,
            "voltage_code" / Int32ub,
            Padding(4),
            "pll_words" / Array(3, Int32ub),
            Padding(8),
        ),
        # 0x43 TEST_RET (testcores): d[0] 0, then failed-work counts (BE32) of chips 0-3;
        # then chip 4 (its other three slots keep chips 1-3's counts); then d[0..3] the
        # works that passed and d[4..7] all works
        T.TEST_RET: Struct("data" / Bytes(32)),
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
