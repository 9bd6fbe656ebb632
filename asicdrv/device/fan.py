"""Automatic fan control: cgminer's incremental PID on a module's hottest temperature.

    e(k) = t(k) - target
    u(k) = u(k-1) + P*(e(k) - e(k-1)) + I/100 * e(k) + D*(e(k) - 2e(k-1) + e(k-2))

Above 100 degC the fan goes to max, below 50 degC to min; the first reading in between
starts u at the temperature itself.  Output is clamped to [min, max] percent.
"""

from __future__ import annotations

from ..models import FAN_MAX_PERCENT, FAN_MIN_PERCENT, TEMP_TARGET_C

PID_P, PID_I, PID_D = 2, 5, 0
PID_TEMP_MIN_C, PID_TEMP_MAX_C = 50, 100


class FanPid:
    def __init__(
        self,
        target_c: float = TEMP_TARGET_C,
        fan_min: int = FAN_MIN_PERCENT,
        fan_max: int = FAN_MAX_PERCENT,
    ):
        self.target_c = target_c
        self.fan_min = fan_min
        self.fan_max = fan_max
        self.errors = [0.0, 0.0, 0.0]  # e(k), e(k-1), e(k-2)
        self.u: float = fan_min
        self.started = False

    def update(self, hottest_c: float) -> int:
        """One step (cgminer runs it every 2 s); returns the fan percent to set."""
        self.errors = [hottest_c - self.target_c, self.errors[0], self.errors[1]]
        e0, e1, e2 = self.errors
        if hottest_c > PID_TEMP_MAX_C:
            self.u = self.fan_max
        elif hottest_c < PID_TEMP_MIN_C:
            self.u = self.fan_min
        elif not self.started:
            self.started = True
            self.u = hottest_c
        else:
            self.u += PID_P * (e0 - e1) + PID_I * e0 / 100 + PID_D * (e0 - 2 * e1 + e2)
        self.u = min(max(self.u, self.fan_min), self.fan_max)
        return int(self.u + 0.5)
