"""One place for each MM model's limits and defaults (cgminer ``driver-avalon8.h``)."""
from __future__ import annotations

from dataclasses import dataclass

from firmware_protocols.encodings import PLL_MAX_MHZ, VOLTAGE_LEVEL_MAX, VOLTAGE_LEVEL_MIN

from .errors import DeviceNotFound

PLL_COUNT = 4
MAX_MODULES = 6          # per AUC, ids 1..6
FAN_MIN_PERCENT = 5
FAN_MAX_PERCENT = 100
TEMP_TARGET_C = 90
OVERHEAT_C = 105
OVERHEAT_HYSTERESIS_C = 10   # work resumes this far below the cutoff
FAN_ADJUST_INTERVAL_S = 2.0
DETECT_INTERVAL_S = 30.0
POLLING_DELAY_S = 0.020
MAX_FAILED_POLLS = 10
MM_IDLE_TIMEOUT_S = 3.0  # an MM not polled this long reverts to address 0 (MM4 IDLE_TIME)
RECOVER_INTERVAL_S = 4.0  # re-detect this often while a module is lost or missing
STALE_ROUNDS_FAN = 3     # chip temperatures this many status rounds old: fan to 100 %
STALE_ROUNDS_CUTOFF = 6  # ... this many: PLLs off, as for an overheat
POLLING_DELAY_MAX_S = 65.535   # cgminer's pdelay: 1..65535 ms
CORES_PER_ASIC = 172     # what STATUS_PLL lock counts add up to per chip (GHSmm / Freq)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    miner_count: int
    asic_count: int
    default_frequencies_mhz: tuple[int, int, int, int]
    default_voltage_level: int
    nonce_mask: int
    vin_adc_ratio: int      # cgminer stores both ratios as uint16_t
    vout_adc_ratio: int
    spdlow: int
    th_pass: int
    th_fail: int
    th_timeout: int
    # limits, identical across Avalon 8 models today but kept per model on purpose
    frequency_max_mhz: int = PLL_MAX_MHZ
    voltage_level_min: int = VOLTAGE_LEVEL_MIN
    voltage_level_max: int = VOLTAGE_LEVEL_MAX
    fan_min_percent: int = FAN_MIN_PERCENT   # cgminer's default floor; protects the board
    fan_max_percent: int = FAN_MAX_PERCENT
    # SET defaults (avalon8_init_setting)
    freq_sel: int = 3
    mux_l2h: int = 0
    mux_h2l: int = 1
    h2ltime0_spd: int = 3
    spdhigh: int = 3
    th_init: int = 32767
    th_ms: int = 5
    th_add: int = 1

    @property
    def total_asics(self) -> int:
        return self.miner_count * self.asic_count


_VIN_RATIO = int(3.3 / 4095.0 * 25.62 / 5.62 * 1000.0 * 100.0)
_VOUT_RATIO_8X1 = int(3.3 / 4095.0 * 63.0 / 20.0 * 10000.0 * 100.0)
_VOUT_RATIO_851 = int(3.3 / 4095.0 * 72.3 / 20.0 * 10000.0 * 100.0)

MODELS: dict[str, ModelSpec] = {
    "821": ModelSpec("821", 4, 26, (0, 0, 0, 650), 5, 24, _VIN_RATIO, _VOUT_RATIO_8X1,
                     0, 160, 8000, 20000),
    "831": ModelSpec("831", 4, 26, (0, 0, 0, 725), 5, 24, _VIN_RATIO, _VOUT_RATIO_8X1,
                     0, 160, 8000, 20000),
    "841": ModelSpec("841", 4, 26, (0, 0, 0, 775), 5, 24, _VIN_RATIO, _VOUT_RATIO_8X1,
                     0, 160, 8000, 20000),
    "851": ModelSpec("851", 4, 26, (0, 0, 0, 850), 5, 27, _VIN_RATIO, _VOUT_RATIO_851,
                     2, 200, 7000, 16000),
}


def model_for_version(version: str) -> ModelSpec:
    """The model a firmware version string names in its first three characters."""
    try:
        return MODELS[version[:3]]
    except KeyError:
        raise DeviceNotFound(f"module firmware {version!r} is not a supported model "
                             f"({', '.join(MODELS)})") from None
