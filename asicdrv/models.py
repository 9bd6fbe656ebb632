"""The model table: one row per Avalon module model, everything the host and the emulator
need to know about it (``docs/families.md`` and the cgminer drivers named there).  Adding a
model is adding a row; where the wire differs, the generation's
:class:`~asicdrv.generations.Generation` and :class:`~firmware_protocols.dialects.Dialect`
carry it.

A module says what it is in its ACKDETECT version string; :func:`model_for_version`
matches the longest model prefix ("910S" before "910"), as cgminer's drivers do.
"""

from __future__ import annotations

from firmware_protocols.records import field, record

from firmware_protocols.errors import LimitError
from firmware_protocols.tables import (
    A2_PLL,
    A3210_PLL,
    A3212_PLL,
    A4_PLL,
    A9_PLL,
    MM60_PLL,
    NANO_PLL,
    VOLTAGE_CODECS,
    PllTable,
    VoltageCodec,
)

from .errors import DeviceNotFound

PLL_COUNT = 4  # the Avalon 8's; a model's own count is ModelSpec.pll_count
MAX_MODULES = 6  # per AUC, ids 1..6
FAN_MIN_PERCENT = 5
FAN_MAX_PERCENT = 100
TEMP_TARGET_C = 90
OVERHEAT_C = 105
OVERHEAT_HYSTERESIS_C = 10  # work resumes at least this far below the cutoff ...
RESUME_MARGIN_C = 5  # ... and this far below the fan's target temperature
MIN_CUTOFF_S = 30.0  # ... and no sooner than this after the cutoff (fan at full meanwhile)
FAN_ADJUST_INTERVAL_S = 2.0
DETECT_INTERVAL_S = 30.0
POLLING_DELAY_S = 0.020
MAX_FAILED_POLLS = 10
MM_IDLE_TIMEOUT_S = 3.0  # an MM not polled this long reverts to address 0 (MM4 IDLE_TIME)
RECOVER_INTERVAL_S = 4.0  # re-detect this often while a module is lost or missing
STALE_ROUNDS_FAN = 3  # chip temperatures this many status rounds old: fan to 100 %
STALE_ROUNDS_CUTOFF = 6  # ... this many: PLLs off, as for an overheat
POLLING_DELAY_MAX_S = 65.535  # cgminer's pdelay: 1..65535 ms
CORES_PER_ASIC = 172  # A3210: what STATUS_PLL lock counts add up to per chip
DIFFMAX_AVALON8 = 2700  # AVA8_DRV_DIFFMAX (Canaan master; older forks used 1024): the
# TARGET cap of the Avalon 8 and later, and the default one

# How a generation reports chip temperatures (STATUS_PVT):
PVT_BY_ASIC = "by_asic"  # idx = chip; one (temperature, voltage) per miner (851, A9, LC3)
PVT_BY_CHIP = "by_chip"  # idx = miner * asic_count + chip (821, 831, 841)
PVT_BY_MODULE = "by_module"  # one frame, a hottest reading per miner (A7)


@record(frozen=True)
class ModelSpec:
    name: str  # the version-string prefix that names it
    generation: str  # asicdrv.generations / firmware_protocols.dialects key
    miner_count: int
    asic_count: int
    default_frequencies_mhz: tuple[int, ...]  # one per PLL
    default_voltage_level: int
    voltage_level_min: int
    voltage_level_max: int
    nonce_mask: int
    pll_table: PllTable = A3210_PLL
    voltage_codec: VoltageCodec = VOLTAGE_CODECS["signed"]
    diffmax: int = DIFFMAX_AVALON8  # the TARGET difficulty cap the MM is given
    # True: the module passes on only hashes with 32 leading zero bits (difficulty 1);
    # anything less is a hardware error to it (MM2/MM3 miner.c test_nonce, the sticks)
    diff1_results: bool = False
    cores_per_asic: int = CORES_PER_ASIC
    pvt_layout: str = PVT_BY_CHIP
    asic_frequencies: bool = False  # STATUS_ASIC carries each chip's PLL MHz
    pll_status_frequencies: bool = True  # STATUS_PLL carries the MHz the PLLs run
    vin_adc_ratio: int = 0  # STATUS_PMU input-voltage ratio (0: not reported)
    vout_adc_ratio: int = 0  # STATUS_VOLT per-miner ratio (0: one raw module reading)
    temp_target_c: float = TEMP_TARGET_C
    overheat_c: float = OVERHEAT_C  # this model's cutoff (the chain's may be lower)
    nonce_correction: int = 0  # the host subtracts this from a NONCE's nonce
    per_miner_settings: bool = True  # False: frequency and voltage are module-wide
    lock_counts: bool = True  # STATUS_PLL reports locked cores (hash rate)
    has_fan: bool = True  # False: a USB stick, cooled by its heatsink
    takes_settings: bool = True  # False: it runs its own clock and voltage
    fan_min_percent: int = FAN_MIN_PERCENT  # cgminer's default floor; protects the board
    fan_max_percent: int = FAN_MAX_PERCENT
    # SET (avalonX_init_setting) and SET_SS defaults
    freq_sel: int = 3
    mux_l2h: int = 0
    mux_h2l: int = 1
    h2ltime0_spd: int = 3
    spdlow: int = 0
    spdhigh: int = 3
    th_pass: int = 0
    th_fail: int = 0
    th_init: int = 32767
    th_ms: int = 5
    th_timeout: int = 0
    th_add: int = 1
    prefix: str = ""  # the version-string prefix, when not the name ("40" = MM40)
    # where the chip test (TEST) carries settings of its own (the Avalon 4's does): the
    # voltage level and frequency it runs at; None: the generation's TEST carries none
    chip_test_voltage_level: int | None = None
    chip_test_frequency_mhz: int | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def version_prefix(self) -> str:
        return self.prefix or self.name

    @property
    def total_asics(self) -> int:
        return self.miner_count * self.asic_count

    @property
    def warn_c(self) -> float:
        """The warning temperature: halfway from the fan's target to the cutoff, where the
        fan no longer holds the chips (an Avalon 8: 97.5 degC)."""
        return (self.temp_target_c + self.overheat_c) / 2

    @property
    def pvt_frames(self) -> int:
        """STATUS_PVT frames in a full round: one per ASIC index, per chip, or one."""
        return {PVT_BY_ASIC: self.asic_count, PVT_BY_CHIP: self.total_asics, PVT_BY_MODULE: 1}[
            self.pvt_layout
        ]

    @property
    def pll_count(self) -> int:
        return len(self.default_frequencies_mhz)

    @property
    def frequency_max_mhz(self) -> int:
        return self.pll_table.highest_mhz

    @property
    def idle_frequencies(self) -> list[int]:
        """What a cutoff or idle() sets: every PLL off, or at its lowest where the
        generation has no off word (A7)."""
        return [self.pll_table.idle_mhz] * self.pll_count

    def check_frequencies(self, mhz) -> list[int]:
        """One frequency for every PLL, or one per PLL, each a value this model's PLL table
        holds; a LimitError naming the model otherwise."""
        if isinstance(mhz, (list, tuple)):
            plls = list(mhz)
            if len(plls) != self.pll_count:
                raise LimitError(
                    f"the {self.name} has {self.pll_count} PLLs: give one "
                    f"frequency or {self.pll_count}, got {len(plls)}"
                )
        else:
            plls = [mhz] * self.pll_count
        for f in plls:
            if isinstance(f, bool) or not isinstance(f, int):
                raise LimitError(f"frequency {f!r} is not a whole number of MHz")
            try:
                self.pll_table.word(f)
            except LimitError as exc:
                raise LimitError(f"{self.name}: {exc}") from None
        return plls

    def check_voltage_level(self, level) -> int:
        if isinstance(level, bool) or not isinstance(level, int):
            raise LimitError(
                f"voltage level {level!r} is not a whole number (the "
                f"{self.name} takes {self.voltage_level_min}.."
                f"{self.voltage_level_max})"
            )
        if not self.voltage_level_min <= level <= self.voltage_level_max:
            raise LimitError(
                f"voltage level {level} out of range {self.voltage_level_min}.."
                f"{self.voltage_level_max} for the {self.name}"
            )
        self.voltage_codec.encode(level)
        return level

    def voltage_word(self, level: int | None) -> int:
        """The word a frame carries for ``level``: None or 0 is the regulator's off word
        (or the lowest level where the codec has none); anything else must be in this
        model's range.  Every frame builder takes its voltage words from here."""
        if level is None or level == 0:
            return self.voltage_codec.encode(0)
        return self.voltage_codec.encode(self.check_voltage_level(level))

    def check_voltage_word(self, word: int) -> int:
        """The level a voltage word in an outgoing frame stands for, if this model may be
        sent it (its range, or 0 = off); a LimitError otherwise.  The last check before a
        frame leaves the host: a word our codec would read as 1.6 V never goes out."""
        try:
            level = self.voltage_codec.decode(word)
        except ValueError:
            raise LimitError(
                f"refused: voltage word 0x{word:04x} is not a {self.name} voltage"
            ) from None
        if level != 0 and not self.voltage_level_min <= level <= self.voltage_level_max:
            raise LimitError(
                f"refused: voltage word 0x{word:04x} stands for level {level}, "
                f"outside the {self.name}'s {self.voltage_level_min}.."
                f"{self.voltage_level_max}"
            )
        return level


_A8_VIN = int(3.3 / 4095.0 * 25.62 / 5.62 * 1000.0 * 100.0)  # 367
_A8_VOUT_8X1 = int(3.3 / 4095.0 * 63.0 / 20.0 * 10000.0 * 100.0)  # 2538
_A8_VOUT_851 = int(3.3 / 4095.0 * 72.3 / 20.0 * 10000.0 * 100.0)  # 2913
_A7_VIN = int(3.3 / 1024.0 * 27.15 / 7.15 * 1000.0 * 100.0)  # 1223
_A7_VIN_761 = int(3.3 / 1024.0 * 26.0 / 6.0 * 1000.0 * 100.0)  # 1396
_A7_VOUT = {"711": 9368, "721": 9368, "741": 10151, "761": 13964}


def _nano(name: str, prefix: str, asics: int) -> ModelSpec:
    # driver-avalon-miner.c: 3 PLLs at 200 MHz (100..400), 0.65 V (5000..9000, 0.1 mV),
    # nonce - 0x4000, the device returns diff-1 nonces (cgminer's test_nonce): the TARGET
    # cap is 1.  No fan of its own.  Both sticks' firmware (Avalon-nano, master b22b4ec)
    # slows or powers its chips off by itself at 65 degC (the nano's TMP102; the mini's
    # copper NTC at ADC 200, about 66 degC): our cutoff, 70 degC, is the backstop above it.
    # The nano takes no settings at all: its firmware has no SET_VOLT or SET_FREQ handler
    # (nano/code/src/hid_main.c); it runs a fixed core voltage and its own clock loop.
    return ModelSpec(
        name,
        "avalon_nano",
        1,
        asics,
        (200, 200, 200),
        6500,
        5000,
        9000,
        32,
        pll_table=NANO_PLL,
        voltage_codec=VOLTAGE_CODECS["nano"],
        diffmax=1,
        pvt_layout=PVT_BY_MODULE,
        pll_status_frequencies=False,
        temp_target_c=65,
        overheat_c=70,
        nonce_correction=0x4000,
        per_miner_settings=False,
        lock_counts=False,
        fan_min_percent=0,
        has_fan=False,
        prefix=prefix,
        takes_settings=name != "nano",
        # the 4-mini's own power-on core test point (mini defines.h: ASIC_CORETEST_VOLT
        # 0x93 = 0.7 V, ASIC_CORETEST_FREQ = 200 MHz); the nano has no chip test
        chip_test_voltage_level=7000 if name == "4-mini" else None,
        chip_test_frequency_mhz=200 if name == "4-mini" else None,
    )


def _a2(name: str, prefix: str, miners: int, mhz: int, voltage: int) -> ModelSpec:
    # driver-avalon2.c/.h, BFG driver-avalonmm.c: one clock (300..2000 MHz) and one ADP3208D
    # voltage (6000..11000, 0.1 mV) per module; nonce - 0x180; no TARGET cap; the MM2
    # reports per miner (10 on an Avalon 2, 5 on an Avalon 3), not per chip; fan 10..100 %
    # aiming at 70 degC (cgminer: linear from 60 to 80).  cgminer cuts voltage at 98 degC,
    # but the MM firmware ignores SET from 90 degC and idles itself at 90 on both sensors
    # (main.c IDLE_TEMP): the host cuts off first, at 85 degC.  The A3
    # default 0.6660 V is not a VID step: cgminer's encode sends 0.6625 V, as BFG sets.
    return ModelSpec(
        name,
        "avalon2",
        miners,
        1,
        (mhz,),
        voltage,
        6000,
        11000,
        24,
        pll_table=A2_PLL,
        voltage_codec=VOLTAGE_CODECS["adp3208d"],
        diffmax=1 << 32,
        pvt_layout=PVT_BY_MODULE,
        pll_status_frequencies=False,
        temp_target_c=70,
        overheat_c=85,
        diff1_results=True,
        nonce_correction=0x180,
        per_miner_settings=False,
        lock_counts=False,
        fan_min_percent=10,
        prefix=prefix,
    )


def _a4(name: str, miners: int, asics: int) -> ModelSpec:
    # driver-avalon4.c: 3 PLLs at 200 MHz, 0.6875 V (in 0.1 mV, steps of 12.5 mV), DIFFMAX
    # 1024, nonce - 0x4000 except on the MM60; target/overheat clamped to 42/65 degC (65/85
    # on the MM60); fan 10..100 %; voltage and frequency per module in SET.  No nonce_mask
    # goes to an MM4: 24 is what the emulated chips report at.  The chip test runs at the
    # firmware's own power-on test point (MM avalon4 system_config.h: ASIC_CORETEST_VOLT
    # 0.7875 V, ASIC_FREQUENCY 200 MHz, 100 on the MM50); the MM60's firmware is not
    # public, so it gets no TEST.
    mm60 = name == "60"
    return ModelSpec(
        f"MM{name}",
        "avalon4",
        miners,
        asics,
        (200, 200, 200),
        6875,
        4000,
        9000,
        24,
        pll_table=MM60_PLL if mm60 else A4_PLL,
        voltage_codec=VOLTAGE_CODECS["adp3208d" if name == "40" else "ncp5392p"],
        diffmax=1024,
        # MM avalon4 miner.c test_nonce: a hash without 32 leading zero bits is a
        # hardware error (the MM60's firmware is not public)
        diff1_results=not mm60,
        pvt_layout=PVT_BY_MODULE,
        pll_status_frequencies=False,
        temp_target_c=65 if mm60 else 42,
        overheat_c=85 if mm60 else 65,
        nonce_correction=0 if mm60 else 0x4000,
        per_miner_settings=False,
        lock_counts=False,
        fan_min_percent=10,
        prefix=name,
        chip_test_voltage_level=None if mm60 else 7875,
        chip_test_frequency_mhz=None if mm60 else 100 if name == "50" else 200,
    )


def _a7(name: str, asics: int, level: int) -> ModelSpec:
    # driver-avalon7.c/.h: 4 miners, 6 PLLs 600..780 MHz, mV = 3889 + 78 * level
    # (4981 mV = level 14 on 711/721, 4825 mV = level 12 on 741/761), DIFFMAX 500,
    # SET freq_sel 0, nonce_mask 29, the rest of SET zero; SET_SS without th_add.
    return ModelSpec(
        name,
        "avalon7",
        4,
        asics,
        (600, 636, 672, 708, 744, 780),
        level,
        0,
        15,
        29,
        pll_table=A3212_PLL,
        voltage_codec=VOLTAGE_CODECS["a7"],
        diffmax=500,
        cores_per_asic=128,
        pvt_layout=PVT_BY_MODULE,
        pll_status_frequencies=False,
        vin_adc_ratio=_A7_VIN_761 if name == "761" else _A7_VIN,
        vout_adc_ratio=_A7_VOUT[name],
        freq_sel=0,
        mux_h2l=0,
        h2ltime0_spd=0,
        spdhigh=0,
        th_pass=162,
        th_fail=10921,
        th_ms=1,
        th_timeout=0,
        th_add=0,
    )


def _a8(name: str, freq: int, nonce_mask: int, vout: int, spdlow: int, ss: tuple) -> ModelSpec:
    th_pass, th_fail, th_timeout = ss
    return ModelSpec(
        name,
        "avalon8",
        4,
        26,
        (0, 0, 0, freq),
        5,
        -15,
        15,
        nonce_mask,
        pvt_layout=PVT_BY_ASIC if name == "851" else PVT_BY_CHIP,
        asic_frequencies=name == "851",
        vin_adc_ratio=_A8_VIN,
        vout_adc_ratio=vout,
        spdlow=spdlow,
        th_pass=th_pass,
        th_fail=th_fail,
        th_timeout=th_timeout,
    )


def _a9(name: str, freqs: tuple) -> ModelSpec:
    # Canaan avalon911 driver-avalon9.c: 6 miners x 34, raw level 0..35 (26), target 87 degC
    return ModelSpec(
        name,
        "avalon9",
        6,
        34,
        freqs,
        26,
        0,
        35,
        24,
        pll_table=A9_PLL,
        voltage_codec=VOLTAGE_CODECS["raw"],
        pvt_layout=PVT_BY_ASIC,
        asic_frequencies=True,
        temp_target_c=87,
        spdlow=1,
        th_pass=10,
        th_fail=1000,
        th_ms=2,
        th_timeout=1550000,
        th_add=0,
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _a2("MM2", "20", 10, 1500, 10000),
        _a2("MM3", "33", 5, 450, 6625),
        _a4("40", 10, 4),
        _a4("41", 10, 4),
        _a4("50", 2, 16),
        _a4("60", 2, 40),
        _a7("711", 18, 14),
        _a7("721", 18, 14),
        _a7("741", 22, 12),
        _a7("761", 26, 12),
        _a8("821", 650, 24, _A8_VOUT_8X1, 0, (160, 8000, 20000)),
        _a8("831", 725, 27, _A8_VOUT_8X1, 2, (200, 7000, 16000)),
        _a8("841", 775, 24, _A8_VOUT_8X1, 0, (160, 8000, 20000)),
        _a8("851", 850, 27, _A8_VOUT_851, 2, (200, 7000, 16000)),
        _a9("910", (0, 475, 525, 575)),
        _a9("911", (0, 462, 512, 562)),
        _a9("910S", (0, 462, 512, 562)),
        # Canaan avalonlc3 driver-avalonlc3.c: 4 x 34, raw level 0..31 (5), 500 MHz
        ModelSpec(
            "LC3",
            "avalonlc3",
            4,
            34,
            (0, 0, 0, 500),
            5,
            0,
            31,
            27,
            voltage_codec=VOLTAGE_CODECS["raw"],
            pvt_layout=PVT_BY_ASIC,
            asic_frequencies=True,
            spdlow=2,
            th_pass=200,
            th_fail=7000,
            th_timeout=16000,
        ),
        # Avalon nano 2 (one A3233; firmware "3U...") and Avalon4 mini (five A3222)
        _nano("nano", "3U", 1),
        _nano("4-mini", "4M", 5),
    )
}
_BY_PREFIX = sorted(MODELS.values(), key=lambda s: len(s.version_prefix), reverse=True)


def model_named(name: str) -> str | None:
    """The model table's name for ``name``, whatever its case (``lc3`` is the LC3, ``mm41``
    the MM41); None when no model has that name."""
    if not isinstance(name, str):
        return None
    if name in MODELS:
        return name
    return next((key for key in MODELS if key.lower() == name.lower()), None)


def model_for_version(version: str) -> ModelSpec:
    """The model an ACKDETECT version string names by its prefix (MM4: "40", "41", "50",
    "60" then the build date, e.g. ``411507-bcf9f610``)."""
    for spec in _BY_PREFIX:
        if version.startswith(spec.version_prefix):
            return spec
    raise DeviceNotFound(
        f"module firmware {version!r} is not a supported model ({', '.join(MODELS)})"
    )


def check_voltage_level_any(level) -> int:
    """A voltage level some model takes (before the model is known); its own range is
    checked once the module is detected.  LimitError naming the ranges otherwise."""
    ranges = sorted({(m.voltage_level_min, m.voltage_level_max) for m in MODELS.values()})
    for spec in MODELS.values():
        try:
            return spec.check_voltage_level(level)
        except LimitError:
            continue
    raise LimitError(
        f"voltage level {level!r} suits no supported model (ranges: "
        + ", ".join(f"{lo}..{hi}" for lo, hi in ranges)
        + ")"
    )
