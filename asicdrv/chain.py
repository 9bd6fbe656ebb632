"""A chain of MM modules behind one link: what controller software imports.

One background thread polls every module (``polling_delay`` apart, cgminer's 20 ms), folds
replies into status, verifies nonces into shares, runs the fan PID every 2 s, re-detects every
30 s and guards the boards: overheat cutoff at 105 degC (PLLs off, fan 100 %) with resume 10
degC below, fan forced to 100 % when a fan stalls.  API calls validate every value against the
model's limits before a frame is built, then send under the same link lock.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from typing import Iterator, Sequence

from firmware_protocols import PacketType as T, ProtocolError, decode_packet, encode_packet
from firmware_protocols.encodings import (asic_timeout, fan_percent_to_pwm, mhz_to_pll_word,
                                          voltage_level_to_word)
from .errors import (AsicError, ChainClosed, DeviceGone, DeviceNotFound, LimitError,
                     ModuleLost, TransportError)
from .fan import FanPid
from .jobs import build_job_packets
from .models import (DETECT_INTERVAL_S, FAN_ADJUST_INTERVAL_S, FAN_MAX_PERCENT,
                     MAX_FAILED_POLLS, MAX_MODULES, OVERHEAT_C,
                     OVERHEAT_HYSTERESIS_C, PLL_COUNT, POLLING_DELAY_S, TEMP_TARGET_C,
                     ModelSpec, model_for_version)
from .shares import NonceVerifier, Share
from .status import (STATE_CUTOFF, STATE_LOST, STATE_OK, ChainStatus, Module,
                     ModuleReadings, ModuleStatus)
from .stratum import StratumJob

PLL_OFF = [0, 0, 0, 0]


class _ModuleRuntime:
    """Everything the host keeps for one detected module."""

    def __init__(self, info: Module, spec: ModelSpec, temp_target: float,
                 voltage_level: int | None, frequencies: list[int] | None):
        self.info = info
        self.spec = spec
        self.readings = ModuleReadings(spec)
        self.frequencies = [list(frequencies or spec.default_frequencies_mhz)
                            for _ in range(spec.miner_count)]
        level = spec.default_voltage_level if voltage_level is None else voltage_level
        self.voltage_levels = [level] * spec.miner_count
        self.pid = FanPid(temp_target, spec.fan_min_percent, spec.fan_max_percent)
        self.auto_fan = True
        self.manual_fan = FAN_MAX_PERCENT
        self.fan_percent = spec.fan_min_percent  # cgminer starts at the minimum
        self.fan_pending = True
        self.state = STATE_OK
        self.cutoff = False
        self.cutoffs = 0                        # times the overheat cutoff tripped
        self.fan_failed = False
        self.failed_polls = 0
        self.bad_replies = 0
        self.reboot_pending = False
        self.host_hw_errors: Counter = Counter()   # (miner, chip) -> count
        self.rejected: Counter = Counter()
        self.shares = 0

    @property
    def id(self) -> int:
        return self.info.id


class Chain:
    def __init__(self, link, *, emulator=None, url: str | None = None,
                 polling_delay: float = POLLING_DELAY_S, nonce_mask: int | None = None,
                 detect_interval: float = DETECT_INTERVAL_S,
                 fan_interval: float = FAN_ADJUST_INTERVAL_S,
                 temp_target: float = TEMP_TARGET_C, overheat_c: float = OVERHEAT_C,
                 smart_speed: bool = True, roll_enable: bool = True,
                 voltage_level: int | None = None, frequency=None, start: bool = True):
        if voltage_level is not None:
            voltage_level_to_word(voltage_level)   # LimitError before any frame goes out
        if overheat_c > OVERHEAT_C:
            raise LimitError(f"overheat cutoff {overheat_c} degC is above the "
                             f"{OVERHEAT_C} degC limit")
        self.link = link
        self.emulator = emulator
        self.url = url or link.name
        self.polling_delay = polling_delay
        self.detect_interval = detect_interval
        self.fan_interval = fan_interval
        self.temp_target = temp_target
        self.overheat_c = overheat_c
        self.smart_speed = smart_speed
        self.roll_enable = roll_enable
        self._nonce_mask = nonce_mask
        self._voltage_level = voltage_level
        self._frequency = self._pll_list(frequency) if frequency is not None else None
        self._lock = threading.RLock()
        self._modules: dict[int, _ModuleRuntime] = {}
        self._shares: queue.Queue[Share] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gone: AsicError | None = None
        self._closed = False
        self._last_job_key = None
        self.verifier = NonceVerifier(nonce_mask or 32)
        self.poll_count = 0
        self._auc_info: dict = {}
        with self._lock:
            self._detect_round()
        if not self._active():
            self.link.close()
            raise DeviceNotFound(f"{self.link.name}: the link is up but no module answered "
                                 f"DETECT (power, cabling, or all ids taken?)")
        first = next(iter(self._modules.values()))
        self.verifier.nonce_mask = nonce_mask or first.spec.nonce_mask
        if start:
            self.start()

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="asicdrv-poller",
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            self.link.close()

    def __enter__(self) -> "Chain":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def modules(self) -> list[Module]:
        with self._lock:
            return [rt.info for rt in self._modules.values() if rt.state != STATE_LOST]

    # --- settings --------------------------------------------------------------------------------
    def set_fan(self, percent: int, module: int | None = None) -> None:
        """Fixed fan speed (turns the PID off for those modules).  Overheat and fan-stall
        protection still force 100 %."""
        self._check_open()
        with self._lock:
            targets = self._select(module)
            for rt in targets:
                low, high = rt.spec.fan_min_percent, rt.spec.fan_max_percent
                if not low <= percent <= high:
                    raise LimitError(f"fan {percent}% out of range {low}..{high}")
            for rt in targets:
                rt.auto_fan, rt.manual_fan, rt.fan_pending = False, percent, True

    def set_auto_fan(self, target_c: float = TEMP_TARGET_C, module: int | None = None) -> None:
        """cgminer's PID on the hottest chip (the default)."""
        self._check_open()
        if not 50 <= target_c <= self.overheat_c - 5:
            raise LimitError(f"fan target {target_c} degC out of range 50..{self.overheat_c - 5}")
        with self._lock:
            for rt in self._select(module):
                rt.pid = FanPid(target_c, rt.spec.fan_min_percent, rt.spec.fan_max_percent)
                rt.auto_fan, rt.fan_pending = True, True

    def set_frequency(self, mhz: int | Sequence[int], module: int | None = None,
                      miner: int | None = None) -> None:
        """One frequency for all four PLLs, or a list of four (0 = PLL off); MHz in 25 MHz
        steps up to the model's limit."""
        self._check_open()
        plls = self._pll_list(mhz)
        with self._lock:
            targets = [(rt, self._miners(rt, miner)) for rt in self._select(module)]
            for rt, _ in targets:
                if max(plls) > rt.spec.frequency_max_mhz:
                    raise LimitError(f"frequency {max(plls)} MHz above the {rt.spec.name} "
                                     f"limit of {rt.spec.frequency_max_mhz} MHz")
            for rt, miners in targets:
                for m in miners:
                    rt.frequencies[m] = list(plls)
                    if not rt.cutoff:
                        self._send_pll(rt, m, plls)

    def set_voltage_level(self, level: int, module: int | None = None,
                          miner: int | None = None) -> None:
        self._check_open()
        with self._lock:
            targets = [(rt, self._miners(rt, miner)) for rt in self._select(module)]
            for rt, _ in targets:
                if not rt.spec.voltage_level_min <= level <= rt.spec.voltage_level_max:
                    raise LimitError(f"voltage level {level} out of range "
                                     f"{rt.spec.voltage_level_min}..{rt.spec.voltage_level_max}")
            for rt, miners in targets:
                for m in miners:
                    rt.voltage_levels[m] = level
                self._send_volt(rt)

    def settings(self) -> dict[int, dict]:
        """What the host has set per module (not what the module reports):
        {module: {"frequencies_mhz": [[4 PLLs] per miner], "voltage_levels": [...]}}."""
        with self._lock:
            return {rt.id: {"frequencies_mhz": [list(f) for f in rt.frequencies],
                            "voltage_levels": list(rt.voltage_levels)}
                    for rt in self._active()}

    def reboot(self, module: int) -> None:
        with self._lock:
            for rt in self._select(module):
                rt.reboot_pending = True

    # --- work ----------------------------------------------------------------------------------------
    def submit(self, job: StratumJob, extranonce2_start: int = 0,
               extranonce2_range: int | None = None, pool: int = 0) -> None:
        """Send a job to every module (broadcast).  Its nonces verify for the next three
        jobs too; a clean job makes the MMs restart work."""
        self._check_open()
        job.validate()
        limit = 1 << (8 * job.mm_nonce2_size)
        if not 0 <= extranonce2_start < limit:
            raise LimitError(f"extranonce2_start {extranonce2_start} does not fit "
                             f"{job.mm_nonce2_size} bytes")
        with self._lock:
            key = (job.job_crc, pool)
            packets = build_job_packets(job, nonce2_start=extranonce2_start,
                                        nonce2_range=extranonce2_range, clean=job.clean,
                                        pool=pool, send_job_id=key != self._last_job_key)
            self.verifier.add_job(job, pool)
            for frame in packets:
                self._xfer(0, frame, read=False)
            self._last_job_key = key

    def next_share(self, timeout: float | None = None) -> Share | None:
        """The next verified share, or None after ``timeout`` seconds."""
        try:
            return self._shares.get(timeout=timeout)
        except queue.Empty:
            self._raise_if_gone()
            return None

    def shares(self, timeout: float = 0.5) -> Iterator[Share]:
        """Shares as they come, until the chain is closed."""
        while not self._closed:
            share = self.next_share(timeout)
            if share is not None:
                yield share

    # --- status and diagnostics -----------------------------------------------------------------
    def status(self) -> ChainStatus:
        with self._lock:
            modules = [self._module_status(rt) for rt in self._modules.values()]
        return ChainStatus(self.url, self._gone is None and not self._closed, modules,
                           dict(self._auc_info))

    def refresh(self, timeout: float = 5.0) -> ChainStatus:
        """Wait until every module has sent a full round of status since this call."""
        with self._lock:
            marks = {rt.id: dict(rt.readings.seen) for rt in self._active()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._raise_if_gone()
            with self._lock:
                done = all(self._round_seen(rt, marks.get(rt.id, {})) for rt in self._active())
            if done:
                break
            time.sleep(0.02)
        return self.status()

    @staticmethod
    def _round_seen(rt: _ModuleRuntime, mark: dict) -> bool:
        seen, spec = rt.readings.seen, rt.spec
        pvt = spec.asic_count if spec.name == "851" else spec.total_asics
        return (seen[T.STATUS] - mark.get(T.STATUS, 0) >= spec.miner_count
                and seen[T.STATUS_PVT] - mark.get(T.STATUS_PVT, 0) >= pvt
                and seen[T.STATUS_PMU] - mark.get(T.STATUS_PMU, 0) >= 1)

    def test_chips(self, module: int | None = None, timeout: float = 5.0) -> dict:
        """Run the chip test (TEST / TEST_RET); {module: {miner: [failing chips]}}."""
        self._check_open()
        with self._lock:
            targets = self._select(module)
            for rt in targets:
                rt.readings.test_results.clear()
                self._xfer(rt.id, encode_packet(T.TEST, {"miner": 0xFF}), read=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._raise_if_gone()
            if all(len(rt.readings.test_results) == rt.spec.miner_count for rt in targets):
                break
            time.sleep(0.02)
        return {rt.id: self._failing_chips(rt) for rt in targets}

    def auc_info(self) -> dict:
        with self._lock:
            self._auc_info = self.link.info()
        return dict(self._auc_info)

    # --- internals: the link ---------------------------------------------------------------------
    def _xfer(self, address: int, frame: bytes, read: bool) -> bytes | None:
        self._raise_if_gone()
        try:
            return self.link.xfer(address, frame, read)
        except DeviceGone as exc:
            self._mark_gone(exc)
            raise

    def _mark_gone(self, exc: AsicError) -> None:
        self._gone = exc
        for rt in self._modules.values():
            rt.state = STATE_LOST

    def _raise_if_gone(self) -> None:
        if self._gone is not None:
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
        if not 0 <= miner < rt.spec.miner_count:
            raise LimitError(f"miner {miner} out of range 0..{rt.spec.miner_count - 1}")
        return [miner]

    @staticmethod
    def _pll_list(mhz) -> list[int]:
        plls = [mhz] * PLL_COUNT if isinstance(mhz, int) else list(mhz)
        if len(plls) != PLL_COUNT:
            raise LimitError(f"give one frequency or {PLL_COUNT} (one per PLL), got {len(plls)}")
        for f in plls:
            if not isinstance(f, int):
                raise LimitError(f"frequency {f!r} is not a whole number of MHz")
            mhz_to_pll_word(f)   # raises LimitError with the allowed range
        return plls

    # --- internals: detection and settings ----------------------------------------------------------
    def _detect_round(self) -> None:
        """cgminer detect_modules(): DETECT ids 1..6 until nobody answers."""
        ids = range(1, MAX_MODULES + 1) if self.link.multi_module else [1]
        for module_id in ids:
            current = self._modules.get(module_id)
            if current is not None and current.state != STATE_LOST:
                continue
            reply = self._xfer(0, encode_packet(T.DETECT, {"module_id": module_id}), read=True)
            if reply is None:
                break
            try:
                ack = decode_packet(reply)
            except ProtocolError:
                continue
            if ack.type != T.ACKDETECT:
                break
            f = ack.fields()
            if any(rt.info.dna == f["dna"].hex() for rt in self._active()):
                continue
            try:
                spec = model_for_version(f["version"])
            except DeviceNotFound:
                break
            info = Module(module_id, f["dna"].hex(), f["version"], spec.name,
                          spec.miner_count, spec.asic_count)
            rt = _ModuleRuntime(info, spec, self.temp_target, self._voltage_level,
                                self._frequency)
            self._modules[module_id] = rt
            self._xfer(module_id, encode_packet(T.SYNC, {"dna": f["dna"]}), read=True)
            self._settings_round(rt)

    def _settings_round(self, rt: _ModuleRuntime) -> None:
        """cgminer's order: SET, SET_VOLT, SET_ASIC_OTP, SET_PLL per miner, SET_SS, SET_FIN."""
        spec = rt.spec
        self._xfer(rt.id, encode_packet(T.SET, {
            "freq_sel": spec.freq_sel, "nonce_mask": self._nonce_mask or spec.nonce_mask,
            "flags": {"smart_speed": self.smart_speed, "nonce_check": True,
                      "roll_enable": self.roll_enable},
            "mux_l2h": spec.mux_l2h, "mux_h2l": spec.mux_h2l,
            "h2ltime0_spd": spec.h2ltime0_spd, "spdlow": spec.spdlow,
            "spdhigh": spec.spdhigh}), read=False)
        self._send_volt(rt)
        self._xfer(rt.id, encode_packet(T.SET_ASIC_OTP, {}), read=False)
        for m in range(spec.miner_count):
            self._send_pll(rt, m, rt.frequencies[m])
        if self.smart_speed:
            self._xfer(rt.id, encode_packet(T.SET_SS, {
                "th_pass": spec.th_pass, "th_fail": spec.th_fail, "th_init": spec.th_init,
                "th_ms": spec.th_ms, "th_timeout": spec.th_timeout, "th_add": spec.th_add}),
                read=False)
        self._xfer(rt.id, encode_packet(T.SET_FIN, {}), read=False)

    def _send_pll(self, rt: _ModuleRuntime, miner: int, plls: list[int]) -> None:
        self._xfer(rt.id, encode_packet(T.SET_PLL, {
            "pll_words": [mhz_to_pll_word(f) for f in plls], "pll_param": 100,
            "asic_timeout": asic_timeout(plls)}, idx=miner + 1, cnt=rt.spec.miner_count),
            read=False)

    def _send_volt(self, rt: _ModuleRuntime) -> None:
        words = [voltage_level_to_word(level) for level in rt.voltage_levels]
        self._xfer(rt.id, encode_packet(T.SET_VOLT, {
            "voltage_words": words + [0] * (8 - len(words))}), read=False)

    # --- internals: the poller ------------------------------------------------------------------------
    def _run(self) -> None:
        last_detect = last_fan = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now - last_detect >= self.detect_interval or not self._active():
                    last_detect = now
                    with self._lock:
                        self._detect_round()
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
                        if rt.state != STATE_LOST:
                            self._poll(rt, adjust_fan)
                            self._protect(rt)
        except DeviceGone:
            return   # recorded by _xfer; API calls now raise
        except AsicError as exc:      # never let the poller die silently
            self._mark_gone(exc)

    def _poll(self, rt: _ModuleRuntime, adjust_fan: bool) -> None:
        fields: dict = {"led": 0}
        if adjust_fan or rt.fan_pending:
            rt.fan_percent = self._fan_target(rt, adjust_fan)
            fields["fan"] = {"change": True, "pwm": fan_percent_to_pwm(rt.fan_percent)}
            rt.fan_pending = False
        if rt.reboot_pending:
            fields["reboot"], rt.reboot_pending = 1, False
        self.poll_count += 1
        try:
            reply = self._xfer(rt.id, encode_packet(T.POLLING, fields), read=True)
            pkt = decode_packet(reply) if reply is not None else None
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
        if pkt.type == T.STATUS and pkt.opt != int(rt.info.dna[-2:], 16):
            rt.state = STATE_LOST          # another module answers at this address
            return
        if pkt.type == T.NONCE:
            self._take_nonce(rt, pkt.fields())
        else:
            rt.readings.apply(pkt)

    def _poll_failed(self, rt: _ModuleRuntime) -> None:
        rt.failed_polls += 1
        try:
            self._xfer(rt.id, encode_packet(T.RSTMMTX, {}), read=False)
        except DeviceGone:
            raise
        except TransportError:
            pass
        if rt.failed_polls >= MAX_FAILED_POLLS:
            rt.state = STATE_LOST            # found again by the next DETECT round

    def _take_nonce(self, rt: _ModuleRuntime, nonce: dict) -> None:
        if nonce["miner"] >= rt.spec.miner_count:
            rt.rejected["bad_miner"] += 1
            return
        share, reason = self.verifier.verify(nonce, rt.id)
        if share is not None:
            rt.shares += 1
            self._shares.put(share)
            return
        rt.rejected[reason] += 1
        if reason in ("bad_hash", "unknown_job"):
            rt.host_hw_errors[(nonce["miner"], nonce["chip"])] += 1

    def _fan_target(self, rt: _ModuleRuntime, step_pid: bool) -> int:
        if rt.cutoff or rt.fan_failed:
            return FAN_MAX_PERCENT
        if not rt.auto_fan:
            return rt.manual_fan
        hottest = rt.readings.hottest_c()
        if step_pid and hottest is not None:
            return rt.pid.update(hottest)
        return int(rt.pid.u + 0.5) if rt.pid.started else rt.fan_percent

    def _protect(self, rt: _ModuleRuntime) -> None:
        """Overheat cutoff / resume and fan-stall handling, after every poll."""
        hottest = rt.readings.hottest_c()
        if hottest is not None:
            if not rt.cutoff and hottest >= self.overheat_c:
                rt.cutoff, rt.state, rt.fan_pending = True, STATE_CUTOFF, True
                rt.cutoffs += 1
                for m in range(rt.spec.miner_count):
                    self._send_pll(rt, m, PLL_OFF)
            elif rt.cutoff and hottest <= self.overheat_c - OVERHEAT_HYSTERESIS_C:
                rt.cutoff, rt.state, rt.fan_pending = False, STATE_OK, True
                for m in range(rt.spec.miner_count):
                    self._send_pll(rt, m, rt.frequencies[m])
        rpm = rt.readings.fan_rpm
        stalled = rpm == 0 and rt.fan_percent > 0
        if rpm is not None and stalled != rt.fan_failed:
            rt.fan_failed, rt.fan_pending = stalled, True

    # --- internals: status snapshots -----------------------------------------------------------------
    def _module_status(self, rt: _ModuleRuntime) -> ModuleStatus:
        r = rt.readings
        hw = sum(r.mm_hw_errors) + sum(rt.host_hw_errors.values())
        pg = None if r.power_good is None else \
            r.power_good & ((1 << rt.spec.miner_count) - 1) == (1 << rt.spec.miner_count) - 1
        freqs = [list(f) if f is not None else list(rt.frequencies[m])
                 for m, f in enumerate(r.reported_frequencies)]
        return ModuleStatus(
            id=rt.id, dna=rt.info.dna, model=rt.spec.name, version=rt.info.version,
            state=rt.state, temperature_c=r.temperature_mm, hottest_chip_c=r.hottest_c(),
            chip_temperatures_c=[list(row) for row in r.chip_temps], fan_rpm=r.fan_rpm,
            fan_percent=rt.fan_percent, auto_fan=rt.auto_fan, fan_failed=rt.fan_failed,
            frequencies_mhz=freqs, voltage_levels=list(rt.voltage_levels),
            voltages_v=list(r.chip_volts), vin_v=list(r.vin_volts), power_good=pg,
            hashrate_ghs=0.0 if rt.state == STATE_LOST else r.hashrate_ghs(rt.frequencies),
            hw_errors=hw, crc_errors=sum(r.crc_errors) + rt.bad_replies, shares=rt.shares,
            rejected=dict(rt.rejected), failed_polls=rt.failed_polls, cutoffs=rt.cutoffs,
            chip_test=self._failing_chips(rt))

    @staticmethod
    def _failing_chips(rt: _ModuleRuntime) -> dict:
        return {m: [c for c in range(rt.spec.asic_count) if not bitmap >> c & 1]
                for m, bitmap in sorted(rt.readings.test_results.items())}
