"""A chain of MM modules behind one link: what controller software imports.

One background thread polls every module (``polling_delay`` apart, cgminer's 20 ms), folds
replies into status, verifies nonces into shares, runs the fan PID every 2 s, re-detects every
30 s (every 4 s while a module is lost or missing) and guards the boards: overheat cutoff at
105 degC (PLLs off, fan 100 %) with resume 10 degC below, fan forced to 100 % when a fan
stalls or the chip temperatures are too old to trust, and cut off when they stay so.  API
calls validate every value against the model's limits before a frame is built, then send
under the same link lock.

Detection (cgminer's ``detect_modules``, made to survive lost replies): DETECT ids 1..6,
passing over an id nobody answered (a module may have taken it and lost its reply) and
stopping after two in a row; SYNC each new module; dedupe by DNA (a module that comes back
under another id is the same board).  At open, an address that answers polls but not DETECT
belongs to a module an earlier host left detected: the chain waits out the MM's 3 s idle
timeout, after which the module answers DETECT again.

Settings at open: a board that was just powered (its STATUS_PLL reports every PLL off) gets
the requested settings (model defaults unless given); a board that is already running keeps
what it runs, and the host adopts its frequencies, unless ``apply_settings=True`` or explicit
``frequency``/``voltage_level`` options ask otherwise.
"""
from __future__ import annotations

import math
import queue
import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Iterator, Sequence

from firmware_protocols import PacketType as T, ProtocolError, decode_packet
from firmware_protocols.dialects import DIALECTS
from firmware_protocols.mm import decode_device_frame
from firmware_protocols.encodings import fan_percent_to_pwm
from ..errors import (AsicError, ChainClosed, DeviceGone, DeviceNotFound, JobError, LimitError,
                     ModuleLost, PollerStopped, TransportError)
from .fan import FanPid
from ..generations import GENERATIONS, generation_of
from ..models import (DETECT_INTERVAL_S, FAN_ADJUST_INTERVAL_S, FAN_MAX_PERCENT,
                     MAX_FAILED_POLLS, MM_IDLE_TIMEOUT_S, MODELS, OVERHEAT_C,
                     OVERHEAT_HYSTERESIS_C, POLLING_DELAY_MAX_S, POLLING_DELAY_S,
                     RECOVER_INTERVAL_S, STALE_ROUNDS_CUTOFF, STALE_ROUNDS_FAN, DIFFMAX_AVALON8,
                     PVT_BY_MODULE, ModelSpec, check_voltage_level_any)
from .shares import HW_ERROR_REASONS, NonceVerifier, Share
from .status import (STATE_CUTOFF, STATE_LOST, STATE_OK, ChainStatus, Module,
                     ModuleStatus, error_names)
from ..mining.stratum import StratumJob

IDLE_FAN_PERCENT = 50         # idle(): PLLs off, chips near ambient; air for the DC-DC stage
DETECT_PATIENCE_S = 0.08      # read-again budget for DETECT: an empty id ends a round
PROBE_PATIENCE_S = 0.03       # ... for the probe of addresses nobody was detected at


class _ModuleRuntime:
    """Everything the host keeps for one detected module."""

    def __init__(self, info: Module, spec: ModelSpec, temp_target: float,
                 voltage_level: int | None, frequencies: list[int] | None, options):
        self.info = info
        self.spec = spec
        self.options = options                  # the chain: nonce_mask, smart_speed, ...
        self.generation = generation_of(spec)
        self.readings = self.generation.readings_class(spec)
        self.wire = self.generation.new_state()              # the generation's own state
        self.frequencies = [list(frequencies or spec.default_frequencies_mhz)
                            for _ in range(spec.miner_count)]
        level = spec.default_voltage_level if voltage_level is None else voltage_level
        self.voltage_levels: list[int | None] = [level] * spec.miner_count
        self.settings_source = "host"
        if not spec.takes_settings:             # the nano: its firmware sets its own
            self.voltage_levels = [None] * spec.miner_count
            self.settings_source = "firmware"
        self.pid = FanPid(temp_target, spec.fan_min_percent, spec.fan_max_percent)
        self.auto_fan = True
        self.manual_fan = FAN_MAX_PERCENT
        self.fan_percent = spec.fan_min_percent  # cgminer starts at the minimum
        self.fan_pending = True
        self.state = STATE_OK
        self.cutoff = False
        self.idle = False                       # idled by the host (PLLs off on purpose)
        self.saved_fan: tuple[bool, int] | None = None   # fan mode before idle()
        self.cutoff_reason = ""
        self.cutoffs = 0                        # times a cutoff tripped
        self.fan_failed = False
        self.stale = False                      # chip temperatures too old to trust
        self.failed_polls = 0
        self.bad_replies = 0
        self.reboot_pending = False
        self.led = False                        # identify LED, sent with every poll
        self.detected_at = time.monotonic()
        self.host_hw_errors: Counter = Counter()   # (miner, chip) -> count
        self.rejected: Counter = Counter()
        self.shares = 0
        self.redetections = 0

    @property
    def id(self) -> int:
        return self.info.id


def pll_frequencies(mhz, spec: ModelSpec | None = None) -> int | list[int]:
    """A frequency option: one whole MHz for every PLL, or one per PLL.  With ``spec`` it
    is checked against that model (its PLL count and table) and expanded to a list per
    PLL; without, it must suit at least one known model (a LimitError naming the
    models' tables otherwise) and comes back as given."""
    if not (isinstance(mhz, (int, float, str, bytes)) or mhz is None):
        try:
            mhz = list(mhz)
        except TypeError:
            raise LimitError(f"frequency {mhz!r} is not a number of MHz") from None
    if spec is not None:
        return spec.check_frequencies(mhz)
    for f in mhz if isinstance(mhz, list) else [mhz]:
        if isinstance(f, bool) or not isinstance(f, int):
            raise LimitError(f"frequency {f!r} is not a whole number of MHz")
    reasons: dict[str, None] = {}        # distinct reasons, in model-table order
    for model in MODELS.values():
        try:
            model.check_frequencies(mhz)
            return mhz
        except LimitError as exc:
            reasons[str(exc).split(": ", 1)[-1]] = None
    raise LimitError(f"frequency {mhz!r} suits no supported model: " + "; ".join(reasons))


def _decode_ackdetect(reply: bytes, line):
    """ACKDETECT comes before the module's generation is known: on an AUC or I2C bus its
    CRC is high byte first from an Avalon 7 or later, low byte first from an Avalon 4
    (spec section 1); an "AV" serial line speaks its own dialect."""
    if line.dialect.magic != b"CN":
        return decode_packet(reply, from_device=True, dialect=line.dialect)
    return decode_device_frame(reply)


def _settable(spec: ModelSpec) -> ModelSpec:
    """The model, if the host can set its frequency and voltage (LimitError if not)."""
    if not spec.takes_settings:
        raise LimitError(f"the {spec.name} takes no frequency or voltage: its firmware runs "
                         f"a fixed core voltage and sets its own clock (it reports the "
                         f"clock it runs, see status)")
    return spec


def _number(name: str, value, low: float, high: float) -> float:
    """A finite number in [low, high], or a LimitError naming the option and the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise LimitError(f"{name} {value!r} is not a number (range {low:g}..{high:g})")
    if not low <= value <= high:
        raise LimitError(f"{name} {value!r} out of range {low:g}..{high:g}")
    return float(value)


def _whole(name: str, value, low: int, high: int) -> int:
    """A whole number in [low, high], or a LimitError naming the option and the range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LimitError(f"{name} {value!r} is not a whole number (range {low}..{high})")
    if not low <= value <= high:
        raise LimitError(f"{name} {value} out of range {low}..{high}")
    return value


class Chain:
    def __init__(self, link, *, emulator=None, owns_emulator: bool = False,
                 url: str | None = None, polling_delay: float = POLLING_DELAY_S,
                 nonce_mask: int | None = None, detect_interval: float = DETECT_INTERVAL_S,
                 fan_interval: float = FAN_ADJUST_INTERVAL_S,
                 temp_target: float | None = None, overheat_c: float = OVERHEAT_C,
                 smart_speed: bool = True, roll_enable: bool = True,
                 voltage_level: int | None = None, frequency=None,
                 apply_settings: bool | None = None, start: bool = True):
        try:
            self.polling_delay = _number("polling_delay", polling_delay, 0.001,
                                         POLLING_DELAY_MAX_S)
            self.detect_interval = _number("detect_interval", detect_interval, 0.01, 86400)
            self.fan_interval = _number("fan_interval", fan_interval, 0.01, 3600)
            self.overheat_c = _number("overheat_c", overheat_c, 60, OVERHEAT_C)
            # None: each model's own target (Avalon 8: 90 degC, Avalon 9: 87)
            self.temp_target = (None if temp_target is None else
                                _number("temp_target", temp_target, 50, self.overheat_c - 5))
            if nonce_mask is not None:
                _whole("nonce_mask", nonce_mask, 1, 32)
            if voltage_level is not None:   # its model's range is checked once it is known
                check_voltage_level_any(voltage_level)
            self._frequency = pll_frequencies(frequency) if frequency is not None else None
            if apply_settings not in (None, True, False):
                raise LimitError(f"apply_settings must be true, false or unset, "
                                 f"got {apply_settings!r}")
        except LimitError:
            link.close()
            raise
        self.link = link
        # the generation a line speaks before any module is known: "AV" serial lines
        # name theirs (family=avalon2); AUC and I2C buses start with the "CN" frames
        self._line_generation = GENERATIONS[getattr(link, "family", None) or "avalon8"]
        self.emulator = emulator
        self._owns_emulator = owns_emulator
        self.url = url or link.name
        self.smart_speed = bool(smart_speed)
        self.roll_enable = bool(roll_enable)
        self.apply_settings = apply_settings
        self._nonce_mask = nonce_mask
        self._voltage_level = voltage_level
        self._lock = threading.RLock()
        self._modules: dict[int, _ModuleRuntime] = {}      # address -> module
        self._by_dna: dict[str, _ModuleRuntime] = {}       # every module ever found
        self._missing: dict[int, str] = {}                 # address -> why unknown
        self._refused: set[int] = set()                    # ... answered but not driven
        self._shares: queue.Queue[Share] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gone: AsicError | None = None
        self._closed = False
        self._last_job_key = None
        self._idle_fan: int | None = None                  # set while idle() holds
        self._last_job: tuple[str, int] | None = None        # (prevhash, pool)
        self.verifier = NonceVerifier()
        self.poll_count = 0
        self._auc_info: dict = {}
        try:
            with self._lock:
                self._open_detection()
        except BaseException:
            self._release()
            raise
        if not self._active():
            self._release()
            raise DeviceNotFound(f"{self.link.name}: the link is up but no module answered "
                                 f"DETECT (power, cabling, or all ids taken?)")
        if start:
            self.start()

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="asicdrv-poller",
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop polling and release the link (once; closing again does nothing).  The
        boards keep running as they are."""
        already, self._closed = self._closed, True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
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
                _whole("fan percent", percent, rt.spec.fan_min_percent, rt.spec.fan_max_percent)
            for rt in targets:
                rt.auto_fan, rt.manual_fan, rt.fan_pending = False, percent, True

    def set_auto_fan(self, target_c: float | None = None, module: int | None = None) -> None:
        """cgminer's PID on the hottest chip (the default), aiming at ``target_c`` (None:
        the model's own target)."""
        self._check_open()
        if target_c is not None:
            _number("fan target degC", target_c, 50, self.overheat_c - 5)
        with self._lock:
            for rt in self._select(module):
                target = rt.spec.temp_target_c if target_c is None else target_c
                rt.pid = FanPid(min(target, self.overheat_c - 5), rt.spec.fan_min_percent,
                                rt.spec.fan_max_percent)
                rt.auto_fan, rt.fan_pending = True, True

    def set_frequency(self, mhz: int | Sequence[int], module: int | None = None,
                      miner: int | None = None) -> None:
        """One frequency for every PLL, or one per PLL, in MHz the model's PLL table holds
        (Avalon 8: 0 = off or 25 MHz steps to 1200; Avalon 7: six PLLs, 12 MHz steps from
        24 to 1404; see ``asicdrv.MODELS``).  Every target module is checked first."""
        self._check_open()
        with self._lock:
            targets = [(rt, self._miners(rt, miner), pll_frequencies(mhz, _settable(rt.spec)))
                       for rt in self._select(module)]
            for rt, miners, plls in targets:
                for m in miners:
                    rt.frequencies[m] = list(plls)
                if not (rt.cutoff or rt.idle):
                    self._send_plls(rt, miners)

    def set_voltage_level(self, level: int, module: int | None = None,
                          miner: int | None = None) -> None:
        self._check_open()
        with self._lock:
            targets = [(rt, self._miners(rt, miner)) for rt in self._select(module)]
            for rt, miners in targets:
                _settable(rt.spec).check_voltage_level(level)
                others = [m for m in range(rt.spec.miner_count) if m not in miners]
                if any(rt.voltage_levels[m] is None for m in others):
                    raise LimitError(
                        f"module {rt.id} was configured before this host opened it and a "
                        f"board does not report its voltage levels: set every miner at once "
                        f"(leave out --miner)")
            for rt, miners in targets:
                for m in miners:
                    rt.voltage_levels[m] = level
                self._send_volt(rt)

    def settings(self) -> dict[int, dict]:
        """What the host set or adopted per module: {module: {"frequencies_mhz": [[4 PLLs]
        per miner], "voltage_levels": [level or None (not known) per miner], "source":
        "host" or "board"}}."""
        with self._lock:
            return {rt.id: {"frequencies_mhz": [list(f) for f in rt.frequencies],
                            "voltage_levels": list(rt.voltage_levels),
                            "source": rt.settings_source}
                    for rt in self._active()}

    def idle(self, fan_percent: int = IDLE_FAN_PERCENT, timeout: float = 2.0) -> None:
        """Stop hashing and leave the boards safe: every PLL off (sent before this returns)
        and the fan at ``fan_percent`` (sent with the next poll; this waits up to
        ``timeout`` seconds for it).  Protection stays on; :meth:`resume` undoes it."""
        self._check_open()
        timeout = _number("timeout", timeout, 0, 1e6)
        with self._lock:
            targets = self._active()
            for rt in targets:
                _whole("fan percent", fan_percent, rt.spec.fan_min_percent,
                       rt.spec.fan_max_percent)
            self._idle_fan = fan_percent
            for rt in targets:
                self._hold_idle(rt, fan_percent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            with self._lock:
                if not any(rt.fan_pending for rt in targets if rt.state != STATE_LOST):
                    return
            time.sleep(self.polling_delay)
        self._raise_if_gone()

    def _hold_idle(self, rt: _ModuleRuntime, fan_percent: int) -> None:
        if not rt.idle:
            rt.saved_fan = (rt.auto_fan, rt.manual_fan)
        rt.idle, rt.auto_fan, rt.manual_fan, rt.fan_pending = True, False, fan_percent, True
        self._send_plls(rt)

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
                    self._send_plls(rt)

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
        self.polling_delay = _number("polling_delay", seconds, 0.001, POLLING_DELAY_MAX_S)

    def reboot(self, module: int) -> None:
        self._check_open()
        with self._lock:
            for rt in self._select(module):
                rt.reboot_pending = True

    # --- work ----------------------------------------------------------------------------------------
    def submit(self, job: StratumJob, extranonce2_start: int = 0,
               extranonce2_range: int | None = None, pool: int = 0,
               restart: bool | None = None) -> None:
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
        pool = _whole("pool", pool, 0, 0xFFFF)
        limit = 1 << (8 * job.mm_nonce2_size)
        _whole("extranonce2_start", extranonce2_start, 0, limit - 1)
        if extranonce2_range is not None:
            _whole("extranonce2_range", extranonce2_range, 0, limit - 1)
        if restart is None:
            restart = job.clean or (self._last_job is not None and self._last_job[1] != pool)
        with self._lock:
            key = (job.job_crc, pool)
            active = self._active()
            cap = min((rt.spec.diffmax for rt in active), default=DIFFMAX_AVALON8)
            generation = active[0].generation if active else GENERATIONS["avalon8"]
            frames = generation.job_frames(
                job, active, nonce2_start=extranonce2_start, nonce2_range=extranonce2_range,
                clean=bool(restart), pool=pool, send_job_id=key != self._last_job_key,
                difficulty_cap=cap)
            self.verifier.add_job(job, pool, restart=bool(restart), difficulty_cap=cap)
            for address, frame in frames:
                self._xfer(address, frame, read=False)
            self._last_job_key = key
            self._last_job = (job.prevhash, pool)

    def next_share(self, timeout: float | None = None) -> Share | None:
        """The next verified share, or None after ``timeout`` seconds."""
        if timeout is not None:
            timeout = _number("timeout", timeout, 0, 1e9)
        try:
            return self._shares.get(timeout=timeout)
        except queue.Empty:
            self._raise_if_gone()
            if self._closed:
                raise ChainClosed("the chain is closed") from None
            return None

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
            modules = sorted((self._module_status(rt) for rt in self._by_dna.values()),
                             key=lambda m: m.id)
            missing = dict(self._missing)
        return ChainStatus(self.url, self._gone is None and not self._closed, modules,
                           dict(self._auc_info), missing)

    def refresh(self, timeout: float = 5.0) -> ChainStatus:
        """Wait until every module has sent a full round of status since this call."""
        timeout = _number("timeout", timeout, 0, 1e6)
        with self._lock:
            marks = {rt.id: dict(rt.readings.seen) for rt in self._active()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._raise_if_gone()
            with self._lock:
                done = all(rt.readings.round_complete(marks.get(rt.id, {}))
                           for rt in self._active())
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
            timeout = _number("timeout", timeout, 0, 1e6)
        with self._lock:
            tests = {rt: rt.generation.test_frame(rt) for rt in self._select(module)}
            targets = [rt for rt, frame in tests.items() if frame is not None]
            if timeout is None:
                timeout = max((rt.generation.chip_test_seconds for rt in targets), default=0)
            for rt in targets:
                rt.readings.start_test()
                self._xfer(rt.id, tests[rt], read=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._raise_if_gone()
            if all(len(rt.readings.test_results) == rt.spec.miner_count for rt in targets):
                break
            time.sleep(0.02)
        return {rt.id: self._failing_chips(rt) for rt in targets}

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
    def _xfer(self, address: int, frame: bytes, read: bool,
              patience: float | None = None) -> bytes | None:
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

    def _active(self) -> list[_ModuleRuntime]:
        return [rt for rt in self._modules.values() if rt.state != STATE_LOST]

    def _select(self, module: int | None) -> list[_ModuleRuntime]:
        if module is None:
            return self._active()
        _whole("module", module, 0, 0x7F)
        rt = self._modules.get(module)
        if rt is None:
            raise LimitError(f"no module {module}; modules are "
                             f"{sorted(self._modules) or 'none'}")
        if rt.state == STATE_LOST:
            raise ModuleLost(f"module {module} stopped answering and was detached")
        return [rt]

    @staticmethod
    def _miners(rt: _ModuleRuntime, miner: int | None) -> range | list[int]:
        if miner is None:
            return range(rt.spec.miner_count)
        _whole("miner", miner, 0, rt.spec.miner_count - 1)
        if not rt.spec.per_miner_settings:
            raise LimitError(f"the {rt.spec.name} (module {rt.id}) sets frequency and "
                             f"voltage for the whole module: leave out the miner")
        return [miner]

    # --- internals: detection and settings ----------------------------------------------------------
    def _open_detection(self) -> None:
        """Detection at open, with the wait that re-finds modules an earlier host left
        holding their addresses; then each new module's settings."""
        found = self._detect_round()
        orphans = self._probe_orphans()
        if orphans:
            for rt in found:
                del self._modules[rt.id], self._by_dna[rt.info.dna]
            time.sleep(MM_IDLE_TIMEOUT_S + 0.5)     # no traffic: every MM reverts to id 0
            found = self._detect_round()
            for address in self._probe_orphans():
                self._missing[address] = ("a module answers polls here but never completed "
                                          "DETECT (its replies are lost or corrupted)")
        for rt in found:
            self._configure_new(rt)

    def _refuse(self, address: int, why: str) -> None:
        """A module answered DETECT at ``address`` but will not be driven (unknown model,
        settings it cannot take, another job family): known, so no orphan."""
        self._missing[address] = why
        self._refused.add(address)

    def _probe_orphans(self) -> list[int]:
        """Addresses nobody was detected at that still answer a poll (only where modules
        take their address from DETECT)."""
        generation = self._line_generation
        if not self.link.multi_module or not generation.adopts_addresses:
            return []
        held = {rt.id for rt in self._active()} | self._refused
        return [address for address in range(1, generation.max_modules + 1)
                if address not in held and self._xfer(
                    address, generation.plain_poll, read=True,
                    patience=PROBE_PATIENCE_S) is not None]

    def _detect_round(self) -> list[_ModuleRuntime]:
        """DETECT each free id; returns the modules seen for the first time (to configure).
        Modules seen before (same DNA) are re-attached at their new id and get the host's
        settings again."""
        new: list[_ModuleRuntime] = []
        silent: list[int] = []
        line = self._line_generation
        ids = range(1, line.max_modules + 1) if self.link.multi_module else [1]
        for module_id in ids:
            current = self._modules.get(module_id)
            if current is not None and current.state != STATE_LOST:
                continue
            reply = self._xfer(0, line.detect_frame(module_id), read=True,
                               patience=DETECT_PATIENCE_S)
            if reply is None:
                silent.append(module_id)
                if len(silent) >= 2 and silent[-2] == module_id - 1:
                    break                          # two empty ids in a row: the end
                continue
            for gap in silent:      # an earlier id got no reply, yet this one was taken
                self._missing[gap] = ("no reply to DETECT while a later id was taken: a "
                                      "module here took the id and its reply was lost")
            silent.clear()
            found = self._identify(module_id, reply, line)
            if found is None:
                continue
            spec, f = found
            self._missing.pop(module_id, None)
            self._refused.discard(module_id)
            generation = generation_of(spec)
            dna = generation.identity(module_id, f)
            if generation.sends_sync:
                self._xfer(module_id, generation.sync_frame(f), read=True, patience=0)
            rt = self._by_dna.get(dna)
            if rt is not None:                     # the same board, back (maybe at a new id)
                if self._modules.get(rt.id) is rt:
                    del self._modules[rt.id]
                rt.info = replace(rt.info, id=module_id)
                rt.state = STATE_CUTOFF if rt.cutoff else STATE_OK
                rt.failed_polls, rt.fan_pending = 0, True
                rt.redetections += 1
                self._modules[module_id] = rt
                self._settings_round(rt)
                continue
            try:
                if self._frequency is not None or self._voltage_level is not None:
                    _settable(spec)
                frequencies = (None if self._frequency is None
                               else pll_frequencies(self._frequency, spec))
                if self._voltage_level is not None:
                    spec.check_voltage_level(self._voltage_level)
            except LimitError as exc:
                if self._thread is None:      # at open: the caller's settings are wrong
                    raise
                self._refuse(module_id, f"not configured: {exc}")
                continue
            info = Module(module_id, dna, f["version"], spec.name, spec.miner_count,
                          spec.asic_count)
            target = spec.temp_target_c if self.temp_target is None else self.temp_target
            rt = _ModuleRuntime(info, spec, min(target, self.overheat_c - 5),
                                self._voltage_level, frequencies, options=self)
            self._modules[module_id] = self._by_dna[dna] = rt
            new.append(rt)
        for module_id in silent:        # nothing answered here nor after: nobody there
            self._missing.pop(module_id, None)
        return new

    def _identify(self, module_id: int, reply: bytes, line) -> tuple[ModelSpec, dict] | None:
        """The model and ACKDETECT fields of a reply to DETECT, or None with the reason
        recorded (an unreadable reply, an unknown model, a module of another job family)."""
        try:
            ack = _decode_ackdetect(reply, line)
        except ProtocolError as exc:
            self._missing[module_id] = f"ACKDETECT unreadable ({exc})"
            return None
        if ack.type != T.ACKDETECT:
            self._missing[module_id] = f"answered DETECT with {ack.name}"
            return None
        fields = ack.fields()
        try:
            spec = line.model_for(fields["version"])
        except DeviceNotFound as exc:
            self._refuse(module_id, str(exc))
            return None
        generation = generation_of(spec)
        if generation.dialect.device_crc_order != DIALECTS[ack.dialect].device_crc_order:
            self._refuse(module_id, f"a {spec.name} answered DETECT with its CRC in the wrong "
                                    f"byte order")
            return None
        family = {rt.generation.job_family for rt in self._active()}
        if family and generation.job_family not in family:
            others = ", ".join(sorted({rt.spec.name for rt in self._active()}))
            self._refuse(module_id, f"a {spec.name} cannot share a chain with {others}: their "
                                    f"generations take different job frames")
            return None
        return spec, fields

    def _configure_new(self, rt: _ModuleRuntime) -> None:
        """A module seen for the first time: apply settings to a board that was just
        powered (or when asked); adopt what a running board runs."""
        self._configure_settings(rt)
        if self._idle_fan is not None:                     # found while the chain idles
            self._hold_idle(rt, self._idle_fan)

    def _configure_settings(self, rt: _ModuleRuntime) -> None:
        explicit = self._frequency is not None or self._voltage_level is not None
        if self.apply_settings or (explicit and self.apply_settings is None):
            self._settings_round(rt)
            return
        # a model whose status does not carry its PLLs cannot say whether it runs
        running = self._read_running_plls(rt) if rt.spec.pll_status_frequencies else None
        if running is None or not any(f for plls in running for f in plls):
            if self.apply_settings is None:
                self._settings_round(rt)     # just powered (or silent): the requested setup
            return
        rt.frequencies = [list(p) for p in running]
        rt.voltage_levels = [None] * rt.spec.miner_count
        rt.settings_source = "board"
        rt.fan_pending = False               # leave its fan alone until the PID's first step

    def _read_running_plls(self, rt: _ModuleRuntime) -> list[list[int]] | None:
        """Poll the module until every miner's STATUS_PLL has come (SYNC restarts the MM's
        status round, so they are among the first replies)."""
        pending, rt.fan_pending = rt.fan_pending, False
        try:
            for _ in range(4 * rt.spec.miner_count + 8):
                if all(f is not None for f in rt.readings.reported_frequencies):
                    break
                self._poll(rt, adjust_fan=False)
                if rt.state == STATE_LOST:
                    return None
        finally:
            rt.fan_pending = pending
        reported = rt.readings.reported_frequencies
        return None if any(f is None for f in reported) else reported

    def _settings_later(self, rt: _ModuleRuntime) -> bool:
        """Generations whose settings travel with the next poll (Avalon 2/3): mark it."""
        if rt.generation.settings_ride_on_poll:
            rt.fan_pending = True
            return True
        return False

    def _settings_round(self, rt: _ModuleRuntime) -> None:
        """The generation's configuration burst (cgminer's order: SET, SET_VOLT,
        SET_ASIC_OTP, SET_PLL per miner, SET_SS, SET_FIN), every frame built before the
        first is sent."""
        spec = rt.spec
        if self._settings_later(rt):
            return
        frames = rt.generation.settings_burst(rt)
        for m in range(spec.miner_count):
            rt.readings.forget_pll(m)
        for frame in frames:
            self._xfer(rt.id, frame, read=False)

    def _send_plls(self, rt: _ModuleRuntime, miners=None) -> None:
        """The PLL frames for ``miners`` (all by default) as the module should run now:
        its model's idle setting while cut off or idled."""
        miners = range(rt.spec.miner_count) if miners is None else miners
        if self._settings_later(rt):
            return
        frames = rt.generation.pll_frames(rt, miners)
        for m in miners:
            rt.readings.forget_pll(m)
        for frame in frames:
            self._xfer(rt.id, frame, read=False)

    def _send_volt(self, rt: _ModuleRuntime) -> None:
        if any(level is None for level in rt.voltage_levels):
            return          # adopted from a running board: its levels are not known
        if self._settings_later(rt):
            return
        for frame in rt.generation.volt_frames(rt):
            self._xfer(rt.id, frame, read=False)

    # --- internals: the poller ------------------------------------------------------------------------
    def _run(self) -> None:
        last_detect = last_fan = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                recovering = self._missing or any(rt.state == STATE_LOST
                                                  for rt in self._by_dna.values())
                interval = (min(self.detect_interval, RECOVER_INTERVAL_S) if recovering
                            else self.detect_interval)
                if now - last_detect >= interval or not self._active():
                    last_detect = now
                    with self._lock:
                        for rt in self._detect_round():
                            self._configure_new(rt)
                adjust_fan = now - last_fan >= self.fan_interval
                if adjust_fan:
                    last_fan = now
                active = self._active()
                if not active and self._stop.wait(self.polling_delay):
                    return
                for rt in active:
                    if self._stop.wait(self.polling_delay):
                        return
                    with self._lock:
                        if rt.state != STATE_LOST and rt.generation.poll_due(rt):
                            for frame in rt.generation.work_frames(rt):
                                self._xfer(rt.id, frame, read=False)
                            self._poll(rt, adjust_fan)
                            self._protect(rt)
        except DeviceGone:
            return   # recorded by _xfer; API calls now raise
        except AsicError as exc:      # never let the poller die silently
            self._mark_gone(exc)
        except Exception as exc:  # noqa: BLE001 - a bug here must still stop every call
            self._mark_gone(PollerStopped(f"the poller stopped: {type(exc).__name__}: {exc}"))

    def _poll(self, rt: _ModuleRuntime, adjust_fan: bool) -> None:
        fan_pwm = None
        if adjust_fan or rt.fan_pending:
            rt.fan_percent = self._fan_target(rt, adjust_fan)
            fan_pwm = fan_percent_to_pwm(rt.fan_percent)
            rt.fan_pending = False
        reboot, rt.reboot_pending = rt.reboot_pending, False
        frame = rt.generation.poll_frame(rt, led=rt.led, fan_pwm=fan_pwm, reboot=reboot)
        self.poll_count += 1
        rt.readings.polls += 1
        try:
            reply = self._xfer(rt.id, frame, read=True)
            pkt = (decode_packet(reply, from_device=True, dialect=rt.generation.dialect)
                   if reply is not None else None)
        except ProtocolError:
            rt.bad_replies += 1
            pkt = None
        except DeviceGone:
            raise
        except TransportError:      # a timeout or a transient USB error: a failed poll
            pkt = None
        if pkt is None:
            self._poll_failed(rt)
            return
        rt.failed_polls = 0
        if rt.generation.from_another_module(rt, pkt):
            rt.state = STATE_LOST          # another module answers at this address
            return
        if pkt.type == T.NONCE:
            for nonce in rt.generation.nonces(rt, pkt):
                self._take_nonce(rt, nonce)
        else:
            rt.readings.apply(pkt)

    def _poll_failed(self, rt: _ModuleRuntime) -> None:
        rt.failed_polls += 1
        frame = rt.generation.reset_tx_frame(rt)
        try:
            if frame is not None:
                self._xfer(rt.id, frame, read=False)
        except DeviceGone:
            raise
        except TransportError:
            pass
        if rt.failed_polls >= MAX_FAILED_POLLS:
            rt.state = STATE_LOST            # re-found once it answers DETECT again

    def _take_nonce(self, rt: _ModuleRuntime, nonce: dict) -> None:
        if nonce["miner"] >= rt.spec.miner_count:
            rt.rejected["bad_miner"] += 1
            return
        share, reason = self.verifier.verify(nonce, rt.id)
        if not rt.spec.lock_counts and reason in (None, "below_target"):
            rt.readings.add_work(nonce["miner"], self.verifier.last_device_work)
        if share is not None:
            rt.shares += 1
            self._shares.put(share)
            return
        rt.rejected[reason] += 1
        if reason in HW_ERROR_REASONS:
            rt.host_hw_errors[(nonce["miner"], nonce["chip"])] += 1

    def _fan_target(self, rt: _ModuleRuntime, step_pid: bool) -> int:
        if rt.cutoff or rt.fan_failed or rt.stale:
            return FAN_MAX_PERCENT
        if not rt.auto_fan:
            return rt.manual_fan
        hottest = rt.readings.hottest_c()
        if step_pid and hottest is not None:
            return rt.pid.update(hottest)
        return int(rt.pid.u + 0.5) if rt.pid.started else rt.fan_percent

    def _protect(self, rt: _ModuleRuntime) -> None:
        """Overheat and stale-reading cutoff / resume and fan-stall handling, after every
        poll.  Temperatures too old to trust count as hot: fan first, then cutoff."""
        hottest = rt.readings.hottest_c()
        staleness = rt.readings.temperature_staleness()
        stale = staleness >= STALE_ROUNDS_FAN
        if stale != rt.stale:
            rt.stale, rt.fan_pending = stale, True
        reason = ""
        overheat_c = min(self.overheat_c, rt.spec.overheat_c)
        if hottest is not None and hottest >= overheat_c:
            reason = f"overheat ({hottest:.0f} degC)"
        elif staleness >= STALE_ROUNDS_CUTOFF:
            reason = "chip temperatures not read for too long"
        if not rt.cutoff and reason:
            rt.cutoff, rt.cutoff_reason, rt.state, rt.fan_pending = True, reason, \
                STATE_CUTOFF, True
            rt.cutoffs += 1
            self._send_plls(rt)
        elif rt.cutoff and not stale and hottest is not None and \
                hottest <= overheat_c - OVERHEAT_HYSTERESIS_C:
            rt.cutoff, rt.cutoff_reason, rt.state, rt.fan_pending = False, "", STATE_OK, True
            self._send_plls(rt)
        rpm = rt.readings.fan_rpm
        stalled = rpm == 0 and rt.fan_percent > 0
        if rpm is not None and stalled != rt.fan_failed:
            rt.fan_failed, rt.fan_pending = stalled, True

    # --- internals: status snapshots -----------------------------------------------------------------
    def _module_status(self, rt: _ModuleRuntime) -> ModuleStatus:
        r = rt.readings
        hw = sum(r.mm_hw_errors) + sum(rt.host_hw_errors.values())
        miner_rates = [0.0] * rt.spec.miner_count if rt.state == STATE_LOST \
            else r.miner_hashrates_ghs(rt.frequencies)
        pg = r.power_ok()
        freqs = [list(f) if f is not None else list(rt.frequencies[m])
                 for m, f in enumerate(r.reported_frequencies)]
        codes = r.module_error_code
        for code in r.error_codes:
            codes |= code
        return ModuleStatus(
            id=rt.id, dna=rt.info.dna, model=rt.spec.name, version=rt.info.version,
            state=rt.state, temperature_c=r.temperature_mm, hottest_chip_c=r.hottest_c(),
            chip_temperatures_c=[list(row) for row in r.chip_temps], fan_rpm=r.fan_rpm,
            fan_percent=rt.fan_percent, auto_fan=rt.auto_fan, fan_failed=rt.fan_failed,
            frequencies_mhz=freqs, voltage_levels=list(rt.voltage_levels),
            voltages_v=list(r.chip_volts), vin_v=list(r.vin_volts), power_good=pg,
            hashrate_ghs=sum(miner_rates), miner_hashrates_ghs=miner_rates,
            hw_errors=hw, crc_errors=sum(r.crc_errors) + rt.bad_replies, shares=rt.shares,
            rejected=dict(rt.rejected), failed_polls=rt.failed_polls, cutoffs=rt.cutoffs,
            idle=rt.idle, led=rt.led, elapsed_s=time.monotonic() - rt.detected_at,
            chip_hw_errors=[[rt.host_hw_errors.get((m, c), 0)
                             for c in range(rt.spec.asic_count)]
                            for m in range(rt.spec.miner_count)],
            local_works=list(r.local_works), miner_hw_errors=list(r.mm_hw_errors),
            miner_crc_errors=list(r.crc_errors), miner_error_codes=list(r.error_codes),
            module_error_code=r.module_error_code,
            chip_test=self._failing_chips(rt), reading_ages_s=r.ages(),
            stale_temperatures=rt.stale, fifo_overflows=r.fifo_overflows,
            errors=error_names(codes), settings_source=rt.settings_source,
            chip_sensors_unread=r.unread_sensors(), generation=rt.spec.generation,
            miner_temperatures_c=list(r.miner_temps), voltage_unit=rt.spec.voltage_codec.unit,
            per_chip_sensors=rt.spec.pvt_layout != PVT_BY_MODULE, vout_raw=r.module_vout_raw,
            extra=r.extra())

    @staticmethod
    def _failing_chips(rt: _ModuleRuntime) -> dict:
        return {m: [c for c in range(rt.spec.asic_count) if not bitmap >> c & 1]
                for m, bitmap in sorted(rt.readings.test_results.items())}
