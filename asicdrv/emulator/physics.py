"""The physical model of one module: PLLs, voltage, fan, temperatures, hash rate.

No wire handling here.  Numbers are plausible rather than measured: at the 851 defaults
(850 MHz, level 5) and 25 degC ambient the hottest chip settles near 65 degC at full fan,
77 degC at 50 % and 95 degC at the 5 % minimum (so the PID, not the cutoff, handles a cold
start); a hotter room, more MHz or more volts push it past the 105 degC cutoff.
"""

from __future__ import annotations

import math

from ..models import ModelSpec

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    import random

FAN_MAX_RPM = 6000
RISE_AT_FULL_FAN_C = 40.0  # hottest-chip rise over ambient at nominal power, fan 100 %
IDLE_POWER = 0.05  # share of nominal power a chip draws with its PLLs off
VOLTS_AT_LEVEL_0 = 0.36  # per-chip core voltage
VOLTS_PER_LEVEL = 0.005
VIN_VOLTS = 12.0
COOLING_STILL_AIR = 0.55  # share of full-fan cooling the heatsinks manage with no airflow


ABSOLUTE_VOLTAGE_CODECS = ("adp3208d", "ncp5392p", "nano")  # the level is 0.1 mV


def chip_volts(level: int, spec: ModelSpec | None = None) -> float:
    """Per-chip core volts at a voltage level.  An Avalon 4 level is the voltage itself
    (0.1 mV); elsewhere levels count from the model's default, which runs at the 851's
    level-5 voltage (every model's scale is its own)."""
    if spec is not None and spec.voltage_codec.name in ABSOLUTE_VOLTAGE_CODECS:
        return level / 10000
    offset = 0 if spec is None else spec.default_voltage_level - 5
    return VOLTS_AT_LEVEL_0 + VOLTS_PER_LEVEL * (level - offset)


class ModulePhysics:
    def __init__(
        self,
        spec: ModelSpec,
        rng: random.Random,
        *,
        ambient_c: float = 25.0,
        dead_chips: frozenset[tuple[int, int]] | set[tuple[int, int]] = frozenset(),
        fan_stall: bool = False,
        overheat_c: float = 0.0,
        thermal_tau_s: float = 2.0,
    ):
        self.spec = spec
        self.ambient_c = ambient_c
        self.dead_chips = set(dead_chips)
        self.fan_stall = fan_stall
        self.overheat_c = overheat_c
        self.thermal_tau_s = thermal_tau_s
        # chip-to-chip spread of thermal resistance, fixed per board (seeded)
        self.spread = [
            [rng.uniform(0.85, 1.0) for _ in range(spec.asic_count)]
            for _ in range(spec.miner_count)
        ]
        self.reset()
        self.temps = [[self.ambient_c] * spec.asic_count for _ in range(spec.miner_count)]
        self._last: float | None = None

    def reset(self) -> None:
        """Power-on state: PLLs off until the host sets them, default voltage, fan at full
        until the host says otherwise."""
        self.frequencies = [[0] * self.spec.pll_count for _ in range(self.spec.miner_count)]
        self.voltage_levels = [self.spec.default_voltage_level] * self.spec.miner_count
        self.fan_percent = 100

    # --- state the firmware reports --------------------------------------------------------
    def fan_rpm(self) -> int:
        return 0 if self.fan_stall else FAN_MAX_RPM * self.fan_percent // 100

    def chip_alive(self, miner: int, chip: int) -> bool:
        return (miner, chip) not in self.dead_chips

    def working_chips(self, miner: int) -> int:
        return sum(self.chip_alive(miner, c) for c in range(self.spec.asic_count))

    def chip_lock_counts(self, miner: int) -> list[int]:
        """One working chip's cores locked per PLL (STATUS_ASIC): split over running PLLs."""
        running = [f > 0 for f in self.frequencies[miner]]
        if not any(running) or chip_volts(self.voltage_levels[miner], self.spec) <= 0:
            return [0] * self.spec.pll_count
        per_pll = self.spec.cores_per_asic // sum(running)
        return [per_pll if r else 0 for r in running]

    def lock_counts(self, miner: int) -> list[int]:
        """Cores locked per PLL over the miner's working chips (what STATUS_PLL reports)."""
        working = self.working_chips(miner)
        return [count * working for count in self.chip_lock_counts(miner)]

    def ghs(self) -> float:
        """Hash rate the way cgminer computes it: sum(locked cores x MHz) / 1000."""
        return (
            sum(
                count * freq
                for m in range(self.spec.miner_count)
                for count, freq in zip(self.lock_counts(m), self.frequencies[m])
            )
            / 1000.0
        )

    def nominal_ghs(self) -> float:
        top = max(self.spec.default_frequencies_mhz)
        return self.spec.cores_per_asic * self.spec.total_asics * top / 1000.0

    @property
    def clock(self) -> float | None:
        """The emulator time the board was last brought up to (None: not yet)."""
        return self._last

    def mm_temp_c(self) -> float:
        hottest = max(max(row) for row in self.temps)
        return self.ambient_c + 0.35 * (hottest - self.ambient_c)

    # --- time ------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Move temperatures toward equilibrium for the time since the last call."""
        if self._last is None:
            self._last = now
            return
        dt, self._last = now - self._last, now
        if dt <= 0:
            return
        alpha = 1.0 - math.exp(-dt / self.thermal_tau_s)
        airflow = 0.0 if self.fan_stall else self.fan_percent / 100.0
        cooling = COOLING_STILL_AIR + (1 - COOLING_STILL_AIR) * airflow
        for m in range(self.spec.miner_count):
            power = self._chip_power(m)
            for c in range(self.spec.asic_count):
                p = power if self.chip_alive(m, c) else IDLE_POWER
                target = (
                    self.ambient_c
                    + self.overheat_c
                    + RISE_AT_FULL_FAN_C * p * self.spread[m][c] / cooling
                )
                self.temps[m][c] += (target - self.temps[m][c]) * alpha

    def _chip_power(self, miner: int) -> float:
        """Power relative to nominal (default frequency, level 5): f x V^2."""
        top = max(self.frequencies[miner])
        nominal_f = max(self.spec.default_frequencies_mhz) or self.spec.frequency_max_mhz
        v = chip_volts(self.voltage_levels[miner], self.spec)
        v0 = chip_volts(self.spec.default_voltage_level, self.spec)
        return IDLE_POWER + (1 - IDLE_POWER) * (top / nominal_f) * (v / v0) ** 2
