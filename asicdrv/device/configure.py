"""A module's settings on the wire: the configuration burst for a new board (or adopting
what a running board runs), PLL and voltage frames when they change, idle."""

from __future__ import annotations


from .runtime import ModuleRuntime
from .status import STATE_LOST

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from .chain import Chain


class Configurator:
    """Sends each module the settings it should run now (its generation builds the
    frames; cutoff and idle give its model's idle setting)."""

    def __init__(self, chain: "Chain"):
        self.chain = chain

    def configure_new(self, rt: ModuleRuntime) -> None:
        """A module seen for the first time: apply settings to a board that was just
        powered (or when asked); adopt what a running board runs."""
        self.configure_settings(rt)
        if self.chain._idle_fan is not None:  # found while the chain idles
            self.hold_idle(rt, self.chain._idle_fan)

    def configure_settings(self, rt: ModuleRuntime) -> None:
        explicit = self.chain._frequency is not None or self.chain._voltage_level is not None
        if self.chain.apply_settings or (explicit and self.chain.apply_settings is None):
            self.settings_round(rt)
            return
        if rt.generation.status_carries_settings:  # the Avalon 2/3's STATUS says it all
            self.adopt_from_status(rt)
            return
        # a model whose status does not carry its PLLs cannot say whether it runs
        running = self.read_running_plls(rt) if rt.spec.pll_status_frequencies else None
        if running is None or not any(f for plls in running for f in plls):
            if self.chain.apply_settings is None:
                self.settings_round(rt)  # just powered (or silent): the requested setup
            else:  # left as it is: nothing we know of runs, and nothing of ours
                rt.settings_source = "unset"
                rt.voltage_levels = [None] * rt.spec.miner_count
            return
        rt.frequencies = [list(p) for p in running]
        rt.voltage_levels = [None] * rt.spec.miner_count
        rt.settings_source = "board"
        rt.fan_pending = False  # leave its fan alone until the PID's first step

    def adopt_from_status(self, rt: ModuleRuntime) -> None:
        """A module whose STATUS carries its clock and voltage word (MM2/MM3): a powered
        board keeps what it runs (an earlier ``asicdrv set``), an unpowered one gets the
        requested setup."""
        pending, rt.fan_pending = rt.fan_pending, False  # plain polls: they must not set
        try:
            for _ in range(5):
                if rt.readings.seen_status() or rt.state == STATE_LOST:
                    break
                self.chain._poller.poll(rt, adjust_fan=False)
        finally:
            rt.fan_pending = pending
        running = rt.readings.running_settings()
        if running is None:
            if self.chain.apply_settings is None:
                self.settings_round(rt)
            else:
                rt.settings_source = "unset"
            return
        rt.fan_pending = False  # its fan too, until the fan control's first step
        mhz, level = running
        plls = len(rt.spec.default_frequencies_mhz)
        rt.frequencies = [[mhz] * plls for _ in range(rt.spec.miner_count)]
        rt.voltage_levels = [level] * rt.spec.miner_count
        rt.settings_source = "board"

    def read_running_plls(self, rt: ModuleRuntime) -> list[list[int]] | None:
        """Poll the module until every miner's STATUS_PLL has come (SYNC restarts the MM's
        status round, so they are among the first replies)."""
        pending, rt.fan_pending = rt.fan_pending, False
        try:
            for _ in range(4 * rt.spec.miner_count + 8):
                if all(f is not None for f in rt.readings.reported_frequencies):
                    break
                self.chain._poller.poll(rt, adjust_fan=False)
                if rt.state == STATE_LOST:
                    return None
        finally:
            rt.fan_pending = pending
        reported = rt.readings.reported_frequencies
        known = [f for f in reported if f is not None]
        return known if len(known) == len(reported) else None

    def settings_later(self, rt: ModuleRuntime) -> bool:
        """Generations whose settings travel with the next poll (Avalon 2/3): mark it."""
        if rt.generation.settings_ride_on_poll:
            rt.generation.resend_settings(rt)
            return True
        return False

    def settings_round(self, rt: ModuleRuntime) -> None:
        """The generation's configuration burst (cgminer's order: SET, SET_VOLT,
        SET_ASIC_OTP, SET_PLL per miner, SET_SS, SET_FIN), every frame built before the
        first is sent."""
        spec = rt.spec
        if self.settings_later(rt):
            return
        frames = rt.generation.settings_burst(rt)
        for m in range(spec.miner_count):
            rt.readings.forget_pll(m)
        for frame in frames:
            self.chain._send(rt.id, frame)

    def send_plls(self, rt: ModuleRuntime, miners=None) -> None:
        """The PLL frames for ``miners`` (all by default) as the module should run now:
        its model's idle setting while cut off or idled."""
        miners = range(rt.spec.miner_count) if miners is None else miners
        if self.settings_later(rt):
            return
        frames = rt.generation.pll_frames(rt, miners)
        for m in miners:
            rt.readings.forget_pll(m)
        for frame in frames:
            self.chain._send(rt.id, frame)

    def send_volt(self, rt: ModuleRuntime) -> None:
        if any(level is None for level in rt.voltage_levels):
            return  # adopted from a running board: its levels are not known
        if self.settings_later(rt):
            return
        for frame in rt.generation.volt_frames(rt):
            self.chain._send(rt.id, frame)

    def hold_idle(self, rt: ModuleRuntime, fan_percent: int) -> None:
        if not rt.idle:
            rt.saved_fan = (rt.auto_fan, rt.manual_fan)
        rt.idle, rt.auto_fan, rt.manual_fan, rt.fan_pending = True, False, fan_percent, True
        rt.fan_asked = True
        self.send_plls(rt)
