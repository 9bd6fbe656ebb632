"""A chain of MM modules behind one link: what controller software imports.

:class:`Chain` is the façade; each of its parts has one job and a module of its own:

- :mod:`.detection` finds the modules (DETECT, identity, model, refusals) and re-finds
  them when they come back;
- :mod:`.configure` sends each module the settings it should run now (a board that was just
  powered gets the requested settings, model defaults unless given; a running board keeps
  what it runs unless ``apply_settings=True`` or explicit ``frequency``/``voltage_level``);
- :mod:`.poller` polls on its own thread, folds replies, verifies nonces into shares;
- :mod:`.protection` judges overheat, stale readings and stalled fans after every poll;
- :mod:`.snapshot` builds the :class:`ModuleStatus` callers read.

API calls validate every value against the model's limits (:mod:`.limits`) before a frame is
built, then send under the same link lock; every frame that carries a voltage word is checked
once more just before it reaches the link.
"""

from __future__ import annotations

import threading
import time

from ..errors import AsicError, ChainClosed, DeviceGone, DeviceNotFound, JobError, LimitError
from ..errors import ModuleLost, PollerStopped
from ..generations import generation_named
from ..mining.stratum import StratumJob
from ..models import (
    DETECT_INTERVAL_S,
    FAN_ADJUST_INTERVAL_S,
    MIN_CUTOFF_S,
    OVERHEAT_C,
    POLLING_DELAY_MAX_S,
    POLLING_DELAY_S,
    DIFFMAX_AVALON8,
    check_voltage_level_any,
)
from .configure import Configurator
from .detection import Detector
from .fan import FanPid
from .limits import miners_for, number, pll_frequencies, settable, whole
from .poller import ChainLock, Poller
from .runtime import ModuleRuntime
from .shares import NonceVerifier, Share, ShareQueue
from .snapshot import module_status
from .status import STATE_LOST, ChainStatus, Module

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Iterator, Sequence

IDLE_FAN_PERCENT = 50  # idle(): PLLs off, chips near ambient; air for the DC-DC stage

__all__ = ["Chain", "IDLE_FAN_PERCENT", "pll_frequencies"]


class Chain:
    def __init__(
        self,
        link,
        *,
        emulator=None,
        owns_emulator: bool = False,
        url: str | None = None,
        polling_delay: float = POLLING_DELAY_S,
        nonce_mask: int | None = None,
        detect_interval: float = DETECT_INTERVAL_S,
        fan_interval: float = FAN_ADJUST_INTERVAL_S,
        temp_target: float | None = None,
        overheat_c: float = OVERHEAT_C,
        min_cutoff_s: float = MIN_CUTOFF_S,
        smart_speed: bool = True,
        roll_enable: bool = True,
        voltage_level: int | None = None,
        frequency=None,
        apply_settings: bool | None = None,
        passive: bool = False,
        start: bool = True,
    ):
        try:
            self.polling_delay = number("polling_delay", polling_delay, 0.001, POLLING_DELAY_MAX_S)
            self.detect_interval = number("detect_interval", detect_interval, 0.01, 86400)
            self.fan_interval = number("fan_interval", fan_interval, 0.01, 3600)
            self.overheat_c = number("overheat_c", overheat_c, 60, OVERHEAT_C)
            # a cut-off module stays off at least this long (and until it has cooled)
            self.min_cutoff_s = number("min_cutoff_s", min_cutoff_s, 0, 3600)
            # None: each model's own target (Avalon 8: 90 degC, Avalon 9: 87)
            self.temp_target = (
                None
                if temp_target is None
                else number("temp_target", temp_target, 50, self.overheat_c - 5)
            )
            if nonce_mask is not None:
                whole("nonce_mask", nonce_mask, 1, 32)
            if voltage_level is not None:  # its model's range is checked once it is known
                check_voltage_level_any(voltage_level)
            self._frequency = pll_frequencies(frequency) if frequency is not None else None
            if apply_settings not in (None, True, False):
                raise LimitError(
                    f"apply_settings must be true, false or unset, got {apply_settings!r}"
                )
            if passive and (apply_settings or frequency is not None or voltage_level is not None):
                raise LimitError(
                    "a passive chain sends no settings of its own: leave out apply_settings, "
                    "frequency and voltage_level, and set them through its methods"
                )
        except LimitError:
            link.close()
            raise
        self.link = link
        # the generation a line speaks before any module is known: "AV" serial lines
        # name theirs (family=avalon2); AUC and I2C buses start with the "CN" frames
        self._line_generation = generation_named(getattr(link, "family", None) or "avalon8")
        self.emulator = emulator
        self._owns_emulator = owns_emulator
        self.url = url or link.name
        self.smart_speed = bool(smart_speed)
        self.roll_enable = bool(roll_enable)
        # passive: nothing sent on the chain's own account (no settings to a found board,
        # no fan control, no settings re-sent to a stick); what the caller asks through the
        # methods is sent, and overheat / stalled-fan protection still acts
        self.passive = bool(passive)
        self.apply_settings = False if passive else apply_settings
        self._nonce_mask = nonce_mask
        self._voltage_level = voltage_level
        self._lock = ChainLock()
        self._modules: dict[int, ModuleRuntime] = {}  # address -> module
        self._by_dna: dict[str, ModuleRuntime] = {}  # every module ever found
        self._missing: dict[int, str] = {}  # address -> why unknown
        self._refused: set[int] = set()  # ... answered but not driven
        self._shares = ShareQueue()
        self._stop = threading.Event()
        self._gone: AsicError | None = None
        self._closed = False
        self._last_job_key: tuple[int, int] | None = None
        self._idle_fan: int | None = None  # set while idle() holds
        self._last_job: tuple[str, int] | None = None  # (prevhash, pool)
        # the job being mined (job, extranonce2 start and range, pool): a module that comes
        # back after it was lost gets it at once
        self._current_work: tuple[StratumJob, int, int | None, int, int] | None = None
        self.verifier = NonceVerifier()
        self.poll_count = 0
        self._auc_info: dict = {}
        self._detector = Detector(self)
        self._config = Configurator(self)
        self._poller = Poller(self)
        try:
            with self._lock:
                self._detector.open_detection()
        except BaseException:
            self._release()
            raise
        if not self._active():
            self._release()
            late = getattr(self.link, "late_summary", str)()  # an AUC says when it was slow
            raise DeviceNotFound(
                f"{self.link.name}: the link is up but no module answered DETECT "
                + (f"in time: {late}" if late else "(power, cabling, or all ids taken?)")
            )
        if start:
            self.start()

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._poller.start()

    def close(self) -> None:
        """Stop polling and release the link (once; closing again does nothing).  The
        boards keep running as they are."""
        already, self._closed = self._closed, True
        self._stop.set()
        self._shares.wake()
        thread = self._poller.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if not already:
            with self._lock:
                self._release()

    def _release(self) -> None:
        self.link.close()
        if self._owns_emulator and self.emulator is not None:
            self.emulator.close()

    def __enter__(self) -> "Chain":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def nonce_mask(self) -> int | None:
        """The SET nonce_mask option (None: each model's default)."""
        return self._nonce_mask

    @property
    def modules(self) -> list[Module]:
        with self._lock:
            return [rt.info for rt in self._active()]

    # --- settings --------------------------------------------------------------------------------
    def set_fan(self, percent: int, module: int | None = None) -> None:
        """Fixed fan speed (turns the PID off for those modules).  Overheat and fan-stall
        protection still force 100 %."""
        self._check_open()
        with self._lock:
            targets = self._select(module)
            for rt in targets:
                whole("fan percent", percent, rt.spec.fan_min_percent, rt.spec.fan_max_percent)
            for rt in targets:
                rt.auto_fan, rt.manual_fan, rt.fan_pending = False, percent, True
                rt.fan_asked = True

    def set_auto_fan(self, target_c: float | None = None, module: int | None = None) -> None:
        """cgminer's PID on the hottest chip (the default), aiming at ``target_c`` (None:
        the model's own target)."""
        self._check_open()
        if target_c is not None:
            number("fan target degC", target_c, 50, self.overheat_c - 5)
        with self._lock:
            for rt in self._select(module):
                target = rt.spec.temp_target_c if target_c is None else target_c
                rt.pid = FanPid(
                    min(target, self.overheat_c - 5),
                    rt.spec.fan_min_percent,
                    rt.spec.fan_max_percent,
                )
                rt.auto_fan, rt.fan_pending, rt.fan_asked = True, True, True

    def set_frequency(
        self, mhz: int | Sequence[int], module: int | None = None, miner: int | None = None
    ) -> None:
        """One frequency for every PLL, or one per PLL, in MHz the model's PLL table holds
        (Avalon 8: 0 = off or 25 MHz steps to 1200; Avalon 7: six PLLs, 12 MHz steps from
        24 to 1404; see ``asicdrv.MODELS``).  Every target module is checked first."""
        self._check_open()
        with self._lock:
            targets = [
                (rt, miners_for(rt.spec, rt.id, miner), pll_frequencies(mhz, settable(rt.spec)))
                for rt in self._select(module)
            ]
            for rt, miners, plls in targets:
                for m in miners:
                    rt.frequencies[m] = list(plls)
                if not (rt.cutoff or rt.idle):
                    self._config.send_plls(rt, miners)

    def set_voltage_level(
        self, level: int, module: int | None = None, miner: int | None = None
    ) -> None:
        self._check_open()
        with self._lock:
            targets = [(rt, miners_for(rt.spec, rt.id, miner)) for rt in self._select(module)]
            for rt, miners in targets:
                settable(rt.spec).check_voltage_level(level)
                others = [m for m in range(rt.spec.miner_count) if m not in miners]
                if any(rt.voltage_levels[m] is None for m in others):
                    raise LimitError(
                        f"module {rt.id} was configured before this host opened it and a "
                        f"board does not report its voltage levels: set every miner at once "
                        f"(leave out --miner)"
                    )
            for rt, miners in targets:
                for m in miners:
                    rt.voltage_levels[m] = level
                self._config.send_volt(rt)

    def settings(self) -> dict[int, dict]:
        """What the host set or adopted per module: {module: {"frequencies_mhz": [[4 PLLs]
        per miner], "voltage_levels": [level or None (not known) per miner], "source":
        "host" or "board"}}."""
        with self._lock:
            return {
                rt.id: {
                    "frequencies_mhz": [list(f) for f in rt.frequencies],
                    "voltage_levels": list(rt.voltage_levels),
                    "source": rt.settings_source,
                }
                for rt in self._active()
            }

    def idle(self, fan_percent: int = IDLE_FAN_PERCENT, timeout: float = 2.0) -> None:
        """Stop hashing and leave the boards safe: every PLL off (sent before this returns)
        and the fan at ``fan_percent`` (sent with the next poll; this waits up to
        ``timeout`` seconds for it).  Protection stays on; :meth:`resume` undoes it."""
        self._check_open()
        timeout = number("timeout", timeout, 0, 1e6)
        with self._lock:
            targets = self._active()
            for rt in targets:
                whole("fan percent", fan_percent, rt.spec.fan_min_percent, rt.spec.fan_max_percent)
            self._idle_fan = fan_percent
            for rt in targets:
                self._config.hold_idle(rt, fan_percent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            with self._lock:
                if not any(rt.fan_pending for rt in targets if rt.state != STATE_LOST):
                    return
            time.sleep(self.polling_delay)
        self._raise_if_gone()

    def resume(self) -> None:
        """Undo :meth:`idle`: the frequencies and fan mode from before (a cutoff still
        holds its PLLs off until the board has cooled)."""
        self._check_open()
        with self._lock:
            self._idle_fan = None
            for rt in self._by_dna.values():
                if not rt.idle:
                    continue
                rt.idle, rt.fan_pending = False, True
                if rt.saved_fan is not None:
                    rt.auto_fan, rt.manual_fan = rt.saved_fan
                if rt.state != STATE_LOST and not rt.cutoff:
                    self._config.send_plls(rt)

    @property
    def idled(self) -> bool:
        """True while :meth:`idle` holds the boards."""
        return self._idle_fan is not None

    def set_led(self, on: bool, module: int | None = None) -> None:
        """The identify LED (cgminer's fault light): it rides on every poll, as cgminer
        sends it."""
        self._check_open()
        if not isinstance(on, bool):
            raise LimitError(f"led takes True or False, got {on!r}")
        with self._lock:
            for rt in self._select(module):
                rt.led = on

    def set_polling_delay(self, seconds: float) -> None:
        """Time between polls (cgminer's pdelay: 1..65535 ms)."""
        self.polling_delay = number("polling_delay", seconds, 0.001, POLLING_DELAY_MAX_S)

    def reboot(self, module: int) -> None:
        self._check_open()
        with self._lock:
            for rt in self._select(module):
                rt.reboot_pending = True

    # --- work -------------------------------------------------------------------------------------
    def submit(
        self,
        job: StratumJob,
        extranonce2_start: int = 0,
        extranonce2_range: int | None = None,
        pool: int = 0,
        restart: bool | None = None,
    ) -> None:
        """Send a job to every module (broadcast).  Its nonces verify for the next three
        jobs too.  ``restart`` is the STATIC work-restart word: the MMs drop what they have
        queued and the host counts late nonces of earlier jobs as stale.  By default it is
        set as cgminer sets it: cgminer.c ``test_work_current`` turns every ``clean_jobs``
        notify of the current pool into ``restart_threads()`` (new block or not), and a job
        from another pool restarts work too."""
        self._check_open()
        if not isinstance(job, StratumJob):
            raise JobError(f"submit() takes a StratumJob, not {type(job).__name__}")
        job.validate()
        pool = whole("pool", pool, 0, 0xFFFF)
        limit = 1 << (8 * job.mm_nonce2_size)
        whole("extranonce2_start", extranonce2_start, 0, limit - 1)
        if extranonce2_range is not None:
            whole("extranonce2_range", extranonce2_range, 0, limit - 1)
        if restart is None:
            restart = job.clean or (self._last_job is not None and self._last_job[1] != pool)
        with self._lock:
            key = (job.job_crc, pool)
            active = self._active()
            cap = min((rt.spec.diffmax for rt in active), default=DIFFMAX_AVALON8)
            generation = active[0].generation if active else generation_named("avalon8")
            frames = generation.job_frames(
                job,
                active,
                nonce2_start=extranonce2_start,
                nonce2_range=extranonce2_range,
                clean=bool(restart),
                pool=pool,
                send_job_id=key != self._last_job_key,
                difficulty_cap=cap,
            )
            self.verifier.add_job(job, pool, restart=bool(restart), difficulty_cap=cap)
            for address, frame in frames:
                self._send(address, frame)
            self._last_job_key = key
            self._last_job = (job.prevhash, pool)
            self._current_work = (job, extranonce2_start, extranonce2_range, pool, cap)

    def next_share(self, timeout: float | None = None) -> Share | None:
        """The next verified share, or None after ``timeout`` s or a :meth:`wake`; with
        none left, a closed chain raises ChainClosed, a lost one why it was lost."""
        share = self._shares.get(None if timeout is None else number("timeout", timeout, 0, 1e9))
        if share is None and self._shares.empty():
            self._raise_if_gone()
            if self._closed:
                raise ChainClosed("the chain is closed")
        return share

    def wake(self) -> None:
        """End one wait in :meth:`next_share` now (closing and a lost device do too)."""
        self._shares.wake()

    def shares(self, timeout: float = 0.5) -> Iterator[Share]:
        """Shares as they come, until the chain is closed."""
        while not self._closed:
            try:
                share = self.next_share(timeout)
            except ChainClosed:
                if self._gone is not None:
                    raise
                return
            if share is not None:
                yield share

    # --- status and diagnostics -----------------------------------------------------------------
    def status(self) -> ChainStatus:
        with self._lock:
            modules = sorted(
                (module_status(rt) for rt in self._by_dna.values()), key=lambda m: m.id
            )
            missing = dict(self._missing)
        return ChainStatus(
            self.url,
            self._gone is None and not self._closed,
            modules,
            dict(self._auc_info),
            missing,
        )

    def refresh(self, timeout: float = 5.0) -> ChainStatus:
        """Wait until every module has sent a full round of status since this call."""
        timeout = number("timeout", timeout, 0, 1e6)
        with self._lock:
            marks = {rt.id: dict(rt.readings.seen) for rt in self._active()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._raise_if_gone()
            with self._lock:
                done = all(
                    rt.readings.round_complete(marks.get(rt.id, {})) for rt in self._active()
                )
            if done:
                break
            time.sleep(0.02)
        self._raise_if_gone()
        return self.status()

    def test_chips(self, module: int | None = None, timeout: float | None = None) -> dict:
        """Run the chip test (TEST / TEST_RET); {module: {miner: [failing chips]}}.  A miner
        whose result never arrived is left out (a link fault, not a chip fault); a module
        whose generation has no chip test (sticks, the MM60) is left out altogether.
        ``timeout``: how long to wait for results (None: as long as the slowest
        generation's test takes)."""
        self._check_open()
        if timeout is not None:
            timeout = number("timeout", timeout, 0, 1e6)
        from .chiptest import run_chip_test  # the bench's: a controller never loads it

        return run_chip_test(self, self._select(module), timeout)

    def auc_info(self) -> dict:
        self._check_open()
        with self._lock:
            try:
                self._auc_info = self.link.info()
            except DeviceGone as exc:
                self._mark_gone(exc)
                raise
        return dict(self._auc_info)

    # --- internals: the link ---------------------------------------------------------------------
    def _send(self, address: int, frame: bytes) -> None:
        """A frame with no reply; then the pause its module needs before the next one
        (an MM4 switching its regulators on reads nothing for 130 ms)."""
        self._xfer(address, frame, read=False)
        rt = self._modules.get(address)
        generation = rt.generation if rt is not None else self._line_generation
        pause = generation.pause_after(rt, frame)
        if pause:
            time.sleep(pause)

    def _xfer(
        self, address: int, frame: bytes, read: bool, patience: float | None = None
    ) -> bytes | None:
        self._raise_if_gone()
        self._check_voltage(address, frame)
        try:
            return self.link.xfer(address, frame, read, patience=patience)
        except DeviceGone as exc:
            self._mark_gone(exc)
            raise

    def _check_voltage(self, address: int, frame: bytes) -> None:
        """The last check before the link: every module the frame reaches (all of them for
        a broadcast) must be allowed the voltage words it carries (LimitError if not)."""
        if address:
            rt = self._modules.get(address)
            if rt is not None:
                rt.generation.check_frame(rt.spec, frame)
            return
        for rt in self._active():
            rt.generation.check_frame(rt.spec, frame)

    def _mark_gone(self, exc: AsicError) -> None:
        self._gone = exc
        for rt in self._by_dna.values():
            rt.state = STATE_LOST
        self._shares.wake()  # a consumer waiting for shares learns it now

    def _raise_if_gone(self) -> None:
        if self._gone is None:
            return
        if isinstance(self._gone, PollerStopped):
            raise PollerStopped(str(self._gone))
        raise DeviceGone(f"{self.link.name}: device lost ({self._gone}); reopen the chain")

    def _check_open(self) -> None:
        if self._closed:
            raise ChainClosed("the chain is closed")
        self._raise_if_gone()

    def _active(self) -> list[ModuleRuntime]:
        return [rt for rt in self._modules.values() if rt.state != STATE_LOST]

    def _select(self, module: int | None) -> list[ModuleRuntime]:
        if module is None:
            return self._active()
        whole("module", module, 0, 0x7F)
        rt = self._modules.get(module)
        if rt is None:
            raise LimitError(f"no module {module}; modules are {sorted(self._modules) or 'none'}")
        if rt.state == STATE_LOST:
            raise ModuleLost(f"module {module} stopped answering and was detached")
        return [rt]
