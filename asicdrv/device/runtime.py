"""What the host keeps for one detected module: its identity and model, the settings it
should run, its readings, its fan controller and its protection state."""

from __future__ import annotations

import time
from collections import Counter

from ..generations import generation_of
from ..models import FAN_MAX_PERCENT, ModelSpec
from .fan import FanPid
from .status import STATE_OK, Module


class ModuleRuntime:
    """Everything the host keeps for one detected module."""

    def __init__(
        self,
        info: Module,
        spec: ModelSpec,
        temp_target: float,
        voltage_level: int | None,
        frequencies: list[int] | None,
        options,
    ):
        self.info = info
        self.spec = spec
        self.options = options  # the chain: nonce_mask, smart_speed, ...
        self.generation = generation_of(spec)
        self.readings = self.generation.readings_class(spec)
        self.wire = self.generation.new_state()  # the generation's own state
        self.frequencies = [
            list(frequencies or spec.default_frequencies_mhz) for _ in range(spec.miner_count)
        ]
        level = spec.default_voltage_level if voltage_level is None else voltage_level
        self.voltage_levels: list[int | None] = [level] * spec.miner_count
        self.settings_source = "host"
        if not spec.takes_settings:  # the nano: its firmware sets its own
            self.voltage_levels = [None] * spec.miner_count
            self.settings_source = "firmware"
        self.pid = FanPid(temp_target, spec.fan_min_percent, spec.fan_max_percent)
        self.auto_fan = True
        self.manual_fan = FAN_MAX_PERCENT
        self.fan_percent = spec.fan_min_percent  # cgminer starts at the minimum
        self.fan_pending = not getattr(options, "passive", False)  # a first duty, unless passive
        self.fan_sent: int | None = None  # the duty this process last sent (None: never)
        self.fan_asked = False  # the caller set the fan (a passive chain's fan control)
        self.state = STATE_OK
        self.cutoff = False
        self.idle = False  # idled by the host (PLLs off on purpose)
        self.saved_fan: tuple[bool, int] | None = None  # fan mode before idle()
        self.cutoff_reason = ""
        self.cutoff_at = 0.0  # monotonic time of the last cutoff
        self.cutoffs = 0  # times a cutoff tripped
        self.fan_failed = False
        self.stale = False  # chip temperatures too old to trust
        self.failed_polls = 0
        self.testing_until = 0.0  # monotonic end of a chip test: the module may not answer
        self.bad_replies = 0
        self.reboot_pending = False
        self.led = False  # identify LED, sent with every poll
        self.detected_at = time.monotonic()
        self.host_hw_errors: Counter = Counter()  # (miner, chip) -> count
        self.rejected: Counter = Counter()
        self.shares = 0
        self.redetections = 0

    @property
    def id(self) -> int:
        return self.info.id
