"""Value encodings used inside MM payloads, each with its inverse.

Facts from cgminer ``driver-avalon8.c``/``.h`` (``encode_voltage``, ``get_fan_pwm``,
``cpm_table``/``api_get_cpm``, ``decode_pvt_temp``, ``decode_pvt_volt``,
``decode_auc_temp``, ``decode_voltage``).  Functions raise :class:`LimitError` for values
the encoding cannot represent, never clamp silently.
"""

from __future__ import annotations

import math

from .errors import LimitError, PayloadError

# --- voltage level <-> SET_VOLT word --------------------------------------------------
VOLTAGE_LEVEL_MIN = -15
VOLTAGE_LEVEL_MAX = 15


def voltage_level_to_word(level: int) -> int:
    """``0x8000 | level`` for level >= 0, ``0x8080 | -level`` below zero."""
    if not VOLTAGE_LEVEL_MIN <= level <= VOLTAGE_LEVEL_MAX:
        raise LimitError(
            f"voltage level {level} out of range {VOLTAGE_LEVEL_MIN}..{VOLTAGE_LEVEL_MAX}"
        )
    return 0x8080 | -level if level < 0 else 0x8000 | level


def word_to_voltage_level(word: int) -> int:
    """Inverse of :func:`voltage_level_to_word`."""
    if word & ~0x80FF or not word & 0x8000:
        raise PayloadError(f"0x{word:08x} is not a voltage level word")
    magnitude = word & 0x7F
    level = -magnitude if word & 0x80 else magnitude
    if not VOLTAGE_LEVEL_MIN <= level <= VOLTAGE_LEVEL_MAX:
        raise PayloadError(f"0x{word:08x} encodes level {level}, outside the legal range")
    return level


# --- fan percent <-> PWM register -----------------------------------------------------
PWM_MAX = 0x3FF


def fan_percent_to_pwm(percent: int) -> int:
    """``0x3FF - percent * 0x3FF // 100``: 0 % -> 0x3FF (off), 100 % -> 0."""
    if not 0 <= percent <= 100:
        raise LimitError(f"fan {percent}% out of range 0..100")
    return PWM_MAX - percent * PWM_MAX // 100


def pwm_to_fan_percent(pwm: int) -> int:
    """Inverse of :func:`fan_percent_to_pwm`; exact for every PWM it produces."""
    if not 0 <= pwm <= PWM_MAX:
        raise PayloadError(f"PWM 0x{pwm:x} out of range 0..0x3FF")
    duty = PWM_MAX - pwm
    return -(-duty * 100 // PWM_MAX)  # ceil: undoes the floor in the forward direction


# --- frequency <-> PLL (cpm) word -------------------------------------------------------
PLL_STEP_MHZ = 25
# cgminer's cpm_table: index = MHz // 25.  49 entries, so 1200 MHz is the last one
# (AVA8_DEFAULT_FREQUENCY_MAX); index 0 switches the PLL off.
CPM_TABLE = (
    0x04400000,
    0x04000000,
    0x008FFBE1,
    0x0097FDE1,
    0x009FFFE1,
    0x009DDF61,
    0x009DCF61,
    0x009F47C1,
    0x009FBFE1,
    0x009F37C1,
    0x009DAF61,
    0x009B26C1,
    0x009DA761,
    0x00999E61,
    0x009B9EE1,
    0x009D9F61,
    0x009F9FE1,
    0x00991641,
    0x009A96A1,
    0x009C1701,
    0x009D9761,
    0x009F17C1,
    0x00958D61,
    0x00968DA1,
    0x00978DE1,
    0x00988E21,
    0x00998E61,
    0x009A8EA1,
    0x009B8EE1,
    0x009C8F21,
    0x009D8F61,
    0x009E8FA1,
    0x009F8FE1,
    0x00900401,
    0x00908421,
    0x00910441,
    0x00918461,
    0x00920481,
    0x009284A1,
    0x009304C1,
    0x009384E1,
    0x00940501,
    0x00948521,
    0x00950541,
    0x00958561,
    0x00960581,
    0x009685A1,
    0x009705C1,
    0x009785E1,
)
PLL_MAX_MHZ = (len(CPM_TABLE) - 1) * PLL_STEP_MHZ  # 1200
_MHZ_BY_WORD = {word: i * PLL_STEP_MHZ for i, word in enumerate(CPM_TABLE)}


def mhz_to_pll_word(mhz: int) -> int:
    """The cpm word for ``mhz`` (a multiple of 25 from 0 to 1200; 0 = PLL off).

    cgminer indexes with ``mhz // 25`` and so silently rounds 860 down to 850; we refuse.
    """
    if not 0 <= mhz <= PLL_MAX_MHZ:
        raise LimitError(f"frequency {mhz} MHz out of range 0..{PLL_MAX_MHZ}")
    if mhz % PLL_STEP_MHZ:
        raise LimitError(f"frequency {mhz} MHz is not a multiple of {PLL_STEP_MHZ} MHz")
    return CPM_TABLE[mhz // PLL_STEP_MHZ]


def pll_word_to_mhz(word: int) -> int:
    """Inverse of :func:`mhz_to_pll_word`."""
    try:
        return _MHZ_BY_WORD[word]
    except KeyError:
        raise PayloadError(f"0x{word:08x} is not in the cpm table") from None


def asic_timeout(frequencies_mhz) -> int:
    """SET_PLL's ASIC timeout word: ``419430400 // max(freq) * 83 // 100`` (max 0 -> 1)."""
    top = max(frequencies_mhz) or 1
    return 419430400 // top * 83 // 100


# --- PVT sensor codes ---------------------------------------------------------------------
_PVT_G, _PVT_H, _PVT_CAL5, _PVT_J, _PVT_FCLKM = 60.0, 200.0, 4094.0, -0.1, 6.25


def pvt_code_to_celsius(code: int) -> float:
    """Chip temperature from a PVT code (mode-2 equation)."""
    return _PVT_G + _PVT_H * (code / _PVT_CAL5 - 0.5) + _PVT_J * _PVT_FCLKM


def celsius_to_pvt_code(celsius: float) -> int:
    """Nearest PVT code for a temperature (what a chip's sensor would report)."""
    code = round(((celsius - _PVT_G - _PVT_J * _PVT_FCLKM) / _PVT_H + 0.5) * _PVT_CAL5)
    return min(max(code, 0), 0xFFFF)


def pvt_code_to_millivolts(code: int) -> int:
    """Core voltage in mV from a PVT voltage code (``decode_pvt_volt``)."""
    c = 1.20 / 5.0 * (6 * (code - 0.5) / 16384.0 - 1.0)
    return int(max(c, 0.0) * 1000)


def millivolts_to_pvt_code(mv: float) -> int:
    """Inverse of :func:`pvt_code_to_millivolts` (nearest code)."""
    return min(max(round(((mv / 1000) * 5.0 / 1.20 + 1.0) * 16384.0 / 6 + 0.5), 0), 0xFFFF)


# --- AUC temperature sensor ----------------------------------------------------------------
_SERIES_R, _NTC_NOMINAL_R, _NTC_B, _NTC_NOMINAL_C = 10000.0, 10000.0, 3500.0, 25.0


def auc_adc_to_celsius(adc: int) -> float:
    """AUC board temperature from its INFO ADC reading (10 kOhm NTC, B = 3500).

    cgminer first scales the ADC to ``int(3.3 * adc * 10000 / 1023)`` and reports -273
    for a reading outside 1..32999 (no sensor); we do the same.
    """
    value = int(3.3 * adc * 10000 / 1023)
    if not 0 < value < 33000:
        return -273.0
    resistance = _SERIES_R / (3.3 * 10000 / value - 1)
    inv_t = math.log(resistance / _NTC_NOMINAL_R) / _NTC_B + 1.0 / (_NTC_NOMINAL_C + 273.15)
    return 1.0 / inv_t - 273.15


def celsius_to_auc_adc(celsius: float) -> int:
    """The ADC value an AUC at ``celsius`` reports (inverse of :func:`auc_adc_to_celsius`)."""
    inv_t = 1.0 / (celsius + 273.15)
    resistance = _NTC_NOMINAL_R * math.exp((inv_t - 1.0 / (_NTC_NOMINAL_C + 273.15)) * _NTC_B)
    value = 3.3 * 10000 / (_SERIES_R / resistance + 1)
    return round(value * 1023 / (3.3 * 10000))


# --- STATUS_VOLT / STATUS_PMU ADC readings --------------------------------------------------
def vout_raw_to_chip_volts(raw: int, vout_adc_ratio: int, asic_count: int) -> float:
    """Per-chip core voltage from a STATUS_VOLT reading.

    cgminer's ``decode_voltage`` is ``raw * ratio / asic_count / 100`` in integers; the
    ratio carries a factor 10**6, so the result is in units of 0.1 mV per chip.
    """
    return (raw * vout_adc_ratio // asic_count // 100) / 10000.0


def chip_volts_to_vout_raw(volts: float, vout_adc_ratio: int, asic_count: int) -> int:
    """The STATUS_VOLT reading a miner at ``volts`` per chip produces (rounded up, so
    that :func:`vout_raw_to_chip_volts` gives back the value to 0.1 mV)."""
    units = round(volts * 10000)
    return -(-units * 100 * asic_count // vout_adc_ratio)


def vin_raw_to_volts(raw: int, vin_adc_ratio: int) -> float:
    """Input voltage from STATUS_PMU: ``raw * ratio / 1000`` gives centivolts."""
    return (raw * vin_adc_ratio // 1000) / 100.0


# Avalon 4 and the sticks (cgminer driver-avalon4.c): byte swap and the 10 k NTC
NTC_B = 3450  # driver-avalon4.c default B value (option --avalon4-ntc-b)


def bswap32(value: int) -> int:
    return int.from_bytes((value & 0xFFFFFFFF).to_bytes(4, "big"), "little")


def ntc_adc_to_celsius(adc: int) -> float | None:
    """driver-avalon4.c: R = 10000 / (1023 / adc - 1), B = 3450, 25 degC nominal."""
    if not 0 < adc < 1023:
        return None
    resistance = 10000.0 / (1023.0 / adc - 1)
    return 1.0 / (math.log(resistance / 10000.0) / NTC_B + 1.0 / 298.15) - 273.15


def celsius_to_ntc_adc(celsius: float) -> int:
    resistance = 10000.0 * math.exp(NTC_B * (1.0 / (celsius + 273.15) - 1.0 / 298.15))
    return round(1023.0 / (1 + 10000.0 / resistance))
