"""The 32-byte ``data`` of every MM packet type, as named ``construct`` fields.

Layouts from cgminer ``driver-avalon8.c`` (the builder or parser is named beside each).
All integers are big-endian except the pool numbers, which cgminer writes low byte first.
TEST and TEST_RET have no builder or parser in cgminer; their layout here is ours
(see docs/protocol.md).
"""

from collections.abc import Mapping
from typing import Any

from construct import (
    Adapter,
    Array,
    BitStruct,
    BitsInteger,
    Bytes,
    Const,
    Container,
    Flag,
    Int8sb,
    Int8ub,
    Int16ub,
    Int16ul,
    Int24ub,
    Int32sb,
    Int32ub,
    Int32ul,
    ListContainer,
    Padding,
    Renamed,
    Struct,
)
from construct.core import ConstructError, Restreamed, Transformed

from .compiled import SOURCES, CompiledLayouts
from .types import PacketType as T


class Text(Adapter):
    """A fixed-width, NUL-padded device string (version, PMU version, log line).

    Decoded as latin-1, byte for byte, so that a stray high byte from firmware is shown
    rather than raised; trailing NULs are padding.
    """

    def __init__(self, length: int):
        super().__init__(Bytes(length))
        self.length = length

    def _decode(self, obj, context, path):
        return bytes(obj).rstrip(b"\0").decode("latin-1")

    def _encode(self, obj, context, path):
        raw = obj.encode("latin-1")
        if len(raw) > self.length:
            raise ValueError(f"text {obj!r} is longer than {self.length} bytes")
        return raw.ljust(self.length, b"\0")


EMPTY = Struct(Padding(32))

PAYLOADS = {
    # avalon8 detect_modules(): module id in the last word.
    T.DETECT: Struct(Padding(28), "module_id" / Int32ub),
    # decode of ACKDETECT in detect_modules(): DNA, 15-char version, total ASICs.
    T.ACKDETECT: Struct("dna" / Bytes(8), "version" / Text(15), "asic_count" / Int32ub, Padding(5)),
    # detect_modules(): SYNC carries the DNA of the module just detected.
    T.SYNC: Struct("dna" / Bytes(8), Padding(24)),
    # polling(): LED word, fan word (bit 31 = change the fan), reboot byte.
    T.POLLING: Struct(
        "led" / Int32ub,
        "fan" / BitStruct("change" / Flag, Padding(21), "pwm" / BitsInteger(10)),
        "reboot" / Int8ub,
        Padding(23),
    ),
    T.RSTMMTX: EMPTY,
    T.GET_VOLT: EMPTY,
    # avalon8_init_setting()
    T.SET: Struct(
        Padding(4),
        "freq_sel" / Int32ub,
        "flags"
        / BitStruct(Padding(5), "roll_enable" / Flag, "nonce_check" / Flag, "smart_speed" / Flag),
        "nonce_mask" / Int8ub,
        "mux_l2h" / Int32ub,
        "mux_h2l" / Int32ub,
        "h2ltime0_spd" / Int32ub,
        "spdlow" / Int32ub,
        "spdhigh" / Int32ub,
        Padding(2),
    ),
    T.SET_FIN: EMPTY,
    # avalon8_set_voltage_level(): one word per miner (up to 8).
    T.SET_VOLT: Struct("voltage_words" / Array(8, Int32ub)),
    # Avalon 4 only (driver-avalon4.c avalon4_set_freq): three PLL words, the miner (1-based,
    # 0 = all); OPT carries the chip.  Layout here; asicdrv sets frequencies with SET.
    T.SET_FREQ: Struct("pll_words" / Array(3, Int32ub), "miner" / Int8ub, Padding(19)),
    # SET_PMU: no builder in the avalon8 driver; carried raw.
    T.SET_PMU: Struct("raw" / Bytes(32)),
    # avalon8_set_freq(): four cpm words, the constant 100, the ASIC timeout.
    T.SET_PLL: Struct(
        "pll_words" / Array(4, Int32ub), "pll_param" / Int32ub, "asic_timeout" / Int32ub, Padding(8)
    ),
    # avalon8_set_ss_param()
    T.SET_SS: Struct(
        "th_pass" / Int32ub,
        "th_fail" / Int32ub,
        "th_init" / Int32ub,
        "th_ms" / Int32ub,
        "th_timeout" / Int32ub,
        "th_add" / Int32ub,
        Padding(8),
    ),
    # avalon8_set_factory_info(): signed level byte then three type chars.
    T.SET_FAC: Struct("factory" / Int8sb, "factory_type" / Bytes(3), Padding(28)),
    # avalon8_set_overclocking_info()
    T.SET_OC: Struct("overclock" / Int8ub, Padding(31)),
    # avalon8_set_asic_otp(): one ASIC index per miner (0x50 on master, 0x2a on the
    # avalon8 branch, same layout).
    T.SET_ASIC_OTP: Struct("asics" / Array(8, Int32ub)),
    T.SET_ASIC_OTP_2A: Struct("asics" / Array(8, Int32ub)),
    # avalon8 branch types whose builders are not in the sources we read: the first word
    # (the value the API command passes) named, the rest carried raw.
    T.SET_ADJ_FAC_UP: Struct("value" / Int32ub, "rest" / Bytes(28)),
    T.SET_ADJ_FAC_DOWN: Struct("value" / Int32ub, "rest" / Bytes(28)),
    T.SET_ADJ_CONTROL: Struct("value" / Int32ub, "rest" / Bytes(28)),
    T.SET_POWER_MODE: Struct("mode" / Int32ub, "rest" / Bytes(28)),
    T.SET_MINER_EN: Struct("mask" / Int32ub, "rest" / Bytes(28)),
    # Avalon 9 auto-tuning options; the avalon9 dialect gives their seven words
    T.SET_ADJUST_VOLT: Struct("data" / Bytes(32)),
    T.SET_ADJUST_FREQ: Struct("data" / Bytes(32)),
    # Ours: which miner to test (0xFF = all).
    T.TEST: Struct("miner" / Int8ub, Padding(31)),
    # avalon8_stratum_pkgs(): STATIC.
    T.STATIC: Struct(
        "coinbase_len" / Int32ub,
        "nonce2_offset" / Int32ub,
        "nonce2_size" / Int32ub,
        "merkle_offset" / Int32ub,
        "merkle_count" / Int32ub,
        "nonce2_start" / Int32ub,
        "nonce2_range" / Int32ub,
        "clean" / Int32ub,
    ),
    # 256-bit share target, cgminer's set_target(): little-endian (lowest byte first).
    T.TARGET: Struct("target" / Bytes(32)),
    T.JOB_ID: Struct("job_crc" / Int16ub, "pool" / Int16ul, Padding(28)),
    # first packet: SHA-256 midstate; then 32-byte coinbase chunks.
    T.COINBASE: Struct("chunk" / Bytes(32)),
    T.MERKLES: Struct("merkle" / Bytes(32)),
    T.HEADER: Struct("chunk" / Bytes(32)),
    T.JOB_FIN: EMPTY,
    # decode_pkg() AVA8_P_STATUS
    T.STATUS: Struct(
        "temperature_mm" / Int32sb,
        "fan_rpm" / Int32ub,
        "local_works" / Int32ub,
        "hw_errors" / Int32ub,
        "miner_error_code" / Int32ub,
        "module_error_code" / Int32ub,
        "crc_errors" / Int32ub,
        Padding(4),
    ),
    # decode_pkg() AVA8_P_NONCE: chip in the high half of the first word.  The nonce bytes
    # are header bytes 76..79 as they stand (cgminer: be32toh, then htole32 into its
    # word-swapped work and flip80), i.e. Bitcoin's nNonce little-endian: genesis 1d ac 2b 7c.
    T.NONCE: Struct(
        "chip" / Int16ub,
        "miner" / Int16ub,
        "nonce2" / Int32ub,
        "ntime_offset" / Int32ub,
        "nonce" / Int32ul,
        "job_crc" / Int16ub,
        "pool" / Int16ul,
        Padding(12),
    ),
    # Ours: bitmap of chips that passed (bit k = chip k), how many were tested, and the
    # bitmap of chips 32..63 (Avalon 9 and LC3 miners have 34 chips).
    T.TEST_RET: Struct(
        "pass_bitmap" / Int32ub, "chips_tested" / Int32ub, "pass_bitmap_high" / Int32ub, Padding(20)
    ),
    # Avalon 4 decode_pkg(): STATUS_LW / STATUS_HW, a 24-bit count per miner (up to 10);
    # STATUS_MA, one moving-average error byte per ASIC (OPT = miner).
    T.STATUS_LW: Struct("counts" / Array(10, Int24ub), Padding(2)),
    T.STATUS_HW: Struct("counts" / Array(10, Int24ub), Padding(2)),
    T.STATUS_MA: Struct("errors" / Bytes(32)),
    # decode_pkg() AVA8_P_STATUS_VOLT: raw ADC per miner.
    T.STATUS_VOLT: Struct("vout_raw" / Array(8, Int32ub)),
    # decode_pkg() AVA8_P_STATUS_PMU
    T.STATUS_PMU: Struct(
        Padding(8),
        "vin_raw" / Array(4, Int16ub),
        "power_good" / Int8ub,
        Padding(7),
        "pmu_versions" / Array(2, Text(4)),
    ),
    # decode_pkg() AVA8_P_STATUS_PLL: cores locked per PLL, frequencies set.
    T.STATUS_PLL: Struct("lock_counts" / Array(4, Int32ub), "frequencies_mhz" / Array(4, Int32ub)),
    T.STATUS_LOG: Struct("text" / Text(32)),
    # decode_pkg() AVA8_P_STATUS_ASIC: idx = miner * asic_count + asic.
    T.STATUS_ASIC: Struct(
        "works" / Int32ub,
        "errors" / Int32ub,
        "pll_counts" / Array(4, Int8ub),
        "frequencies_mhz" / Array(4, Int16ub),
        Padding(12),
    ),
    # decode_pkg() AVA8_P_STATUS_PVT, 851 layout: idx = asic, one (temp, volt) per miner.
    T.STATUS_PVT: Struct(
        "sensors" / Array(4, Struct("temp_code" / Int16ub, "volt_code" / Int16ub)), Padding(16)
    ),
    T.STATUS_FAC: Struct("factory" / Int8sb, Padding(31)),
    T.STATUS_OC: Struct("overclock" / Int8ub, Padding(31)),
    # decode_pkg() AVA8_P_STATUS_OTP: bytes 0..14 OTP text, 15 read step, 17 cycle hit.
    T.STATUS_OTP: Struct(
        "otp" / Bytes(15), "step" / Int8ub, "asic" / Int8ub, "cycle_hit" / Int8ub, Padding(14)
    ),
}

# STATUS_MINER_EN (0x50 from the MM, avalon8 branch): layout not in our sources.
STATUS_MINER_EN_PAYLOAD = Struct("mask" / Int32ub, "rest" / Bytes(28))

# STATUS_PVT as models other than 851 send it: idx = miner * asic_count + asic,
# one temperature code and eight core-voltage codes.
STATUS_PVT_PER_CHIP = Struct("temp_code" / Int16ub, "volt_codes" / Array(8, Int16ub), Padding(14))

assert set(PAYLOADS) == set(T), "every packet type needs a payload layout"
assert all(s.sizeof() == 32 for s in PAYLOADS.values())


COMPILED = CompiledLayouts(PAYLOADS)
_OTHERS = CompiledLayouts({"pvt": STATUS_PVT_PER_CHIP, "miner_en": STATUS_MINER_EN_PAYLOAD})


def compiled_pvt_per_chip():
    return _OTHERS["pvt"]


def compiled_miner_en():
    return _OTHERS["miner_en"]


# The 40-byte frame (mm.decode_packet reads it with one precompiled struct).
FRAME = Struct(
    "head" / Const(b"CN"),
    "type" / Int8ub,
    "opt" / Int8ub,
    "idx" / Int8ub,
    "cnt" / Int8ub,
    "data" / Bytes(32),
    "crc" / Int16ub,  # over data only, high byte first
)


def build(layout, fields: Mapping[str, Any]) -> bytes:
    """``layout`` (a compiled one) built from ``fields``, missing fields zero; what does not
    fit is a ValueError (construct's own errors included)."""
    try:
        return layout.build(with_defaults(layout, fields))
    except ConstructError as exc:
        raise ValueError(str(exc)) from exc


def parse(layout, data: bytes) -> dict[str, Any]:
    """``data`` read by ``layout``; what it cannot read is a ValueError."""
    try:
        return plain(layout.parse(data))
    except ConstructError as exc:
        raise ValueError(str(exc)) from exc


def plain(value):
    """construct containers -> plain dicts and lists (no private ``_io`` keys)."""
    if isinstance(value, Container):
        return {k: plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, ListContainer):
        return [plain(v) for v in value]
    return value


def with_defaults(layout, fields: Mapping[str, Any]) -> dict:
    defaults = _DEFAULTS.get(id(layout))
    if defaults is None:
        defaults = _DEFAULTS[id(layout)] = defaults_for(SOURCES[id(layout)])
    unknown = set(fields) - set(defaults)
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}")
    merged = dict(defaults)
    for name, value in fields.items():
        if isinstance(defaults[name], dict) and isinstance(value, Mapping):
            value = {**defaults[name], **value}  # e.g. POLLING's fan: {"change": True}
        merged[name] = value
    return merged


def defaults_for(struct: Struct) -> dict:
    """Zero values for every named field of ``struct`` (so callers may leave fields out)."""
    return {sc.name: _default_value(sc) for sc in struct.subcons if sc.name}


def _default_value(sc):
    if isinstance(sc, Renamed):
        return _default_value(sc.subcon)
    if isinstance(sc, Struct):
        return defaults_for(sc)
    if isinstance(sc, (Transformed, Restreamed)):  # a BitStruct wraps a Struct
        return _default_value(sc.subcon)
    if isinstance(sc, Array):
        return [_default_value(sc.subcon) for _ in range(sc.count)]
    if isinstance(sc, Text):
        return ""
    if isinstance(sc, Bytes):
        return bytes(sc.length)
    if sc is Flag:
        return False
    return 0


_DEFAULTS: dict[int, dict] = {}  # id(compiled layout) -> its fields' zero values
