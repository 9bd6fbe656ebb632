"""The poll loop, on its own thread: every module polled once a round of ``polling_delay``
per module (cgminer's 20 ms),
replies folded into readings, nonces verified into shares, the fan PID every fan interval,
re-detection every detect interval (every 4 s while a module is lost or missing), and the
protection judged after every poll.  An error here stops every API call, never silently."""

from __future__ import annotations

import threading
import time

from firmware_protocols import PacketType as T, ProtocolError, decode_packet
from firmware_protocols.encodings import fan_percent_to_pwm

from ..errors import AsicError, DeviceGone, PollerStopped, TransportError
from ..models import MAX_FAILED_POLLS, RECOVER_INTERVAL_S
from .protection import fan_target, protect
from .runtime import ModuleRuntime
from .shares import HW_ERROR_REASONS
from .status import STATE_LOST

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from .chain import Chain


class ChainLock:
    """The chain's re-entrant lock, counting the threads that wait for it: the poller takes
    it once per module and lets a waiting caller in between modules, without a yield (a
    system call and a thread switch) when nobody waits."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        # not atomic: a miscount only makes the poller yield once too often or too few
        # times, and a caller still gets the lock in the wait between rounds
        self.waiting = 0

    def __enter__(self) -> "ChainLock":
        if not self._lock.acquire(blocking=False):
            self.waiting += 1
            try:
                self._lock.acquire()
            finally:
                self.waiting -= 1
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


class Poller:
    def __init__(self, chain: "Chain"):
        self.chain = chain
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self.run, name="asicdrv-poller", daemon=True)
            self.thread.start()

    def run(self) -> None:
        last_detect = last_fan = time.monotonic()
        try:
            while not self.chain._stop.is_set():
                now = time.monotonic()
                recovering = self.chain._missing or any(
                    rt.state == STATE_LOST for rt in self.chain._by_dna.values()
                )
                interval = (
                    min(self.chain.detect_interval, RECOVER_INTERVAL_S)
                    if recovering
                    else self.chain.detect_interval
                )
                quiet_line = self.chain._line_generation.detect_stops_line and not recovering
                due = now - last_detect >= interval and not (quiet_line and self.chain._active())
                if due or not self.chain._active():
                    last_detect = now
                    with self.chain._lock:
                        for rt in self.chain._detector.detect_round():
                            self.chain._config.configure_new(rt)
                adjust_fan = now - last_fan >= self.chain.fan_interval
                if adjust_fan:
                    last_fan = now
                active = self.chain._active()
                # one wait a round, then the modules one after another: each module is
                # polled as often as with cgminer's wait before every module, and the
                # polls of a round run while the host's caches are warm
                if self.chain._stop.wait(self.chain.polling_delay * max(len(active), 1)):
                    return
                for i, rt in enumerate(active):
                    if i and self.chain._lock.waiting:
                        time.sleep(0)  # a job or a call waiting for the chain goes first
                    with self.chain._lock:
                        if rt.state != STATE_LOST and rt.generation.poll_due(rt):
                            if rt.generation.settings_lost(rt) and not self.chain.passive:
                                self.chain._config.settings_round(rt)
                            for frame in rt.generation.work_frames(rt):
                                self.chain._xfer(rt.id, frame, read=False)
                            self.poll(rt, adjust_fan)
                            if getattr(self.chain.link, "late", None):
                                self.take_late_replies()
                            if protect(rt, self.chain.overheat_c, self.chain.min_cutoff_s):
                                self.chain._config.send_plls(rt)
        except DeviceGone:
            return  # recorded by _xfer; API calls now raise
        except AsicError as exc:  # never let the poller die silently
            self.chain._mark_gone(exc)
        except Exception as exc:  # noqa: BLE001 - a bug here must still stop every call
            self.chain._mark_gone(PollerStopped(f"the poller stopped: {type(exc).__name__}: {exc}"))

    def _fan_ours(self, rt: ModuleRuntime) -> bool:
        """Whether this process drives the module's fan: always, unless the chain is
        passive; then only when the caller set it or protection needs it at full."""
        return not self.chain.passive or rt.fan_asked or rt.cutoff or rt.fan_failed or rt.stale

    def _fan_duty(self, rt: ModuleRuntime, adjust_fan: bool) -> int | None:
        """The fan duty this poll carries (None: the fan is left as it is)."""
        if not (adjust_fan or rt.fan_pending):
            return None
        pending, rt.fan_pending = rt.fan_pending, False
        if self._fan_ours(rt):
            duty = fan_target(rt, adjust_fan)
            band = rt.generation.fan_dead_band
            pid_step = not pending and rt.auto_fan and not (rt.cutoff or rt.fan_failed or rt.stale)
            if pid_step and rt.fan_sent is not None and abs(duty - rt.fan_sent) < band:
                return rt.fan_sent  # a step too small to be worth what sending it costs
            return duty
        if pending and rt.generation.settings_ride_on_poll:
            # an Avalon 2/3 takes a clock and voltage the caller set only with a fan duty,
            # and does not report the duty it runs: a passive chain sends full, the safe one
            return rt.spec.fan_max_percent
        return None

    def poll(self, rt: ModuleRuntime, adjust_fan: bool) -> None:
        fan_pwm = None
        duty = self._fan_duty(rt, adjust_fan)
        if duty is not None:
            rt.fan_percent = rt.fan_sent = duty
            fan_pwm = fan_percent_to_pwm(duty)
        reboot, rt.reboot_pending = rt.reboot_pending, False
        frame = rt.generation.poll_frame(rt, led=rt.led, fan_pwm=fan_pwm, reboot=reboot)
        self.chain.poll_count += 1
        rt.readings.polls += 1
        try:
            reply = self.chain._xfer(rt.id, frame, read=True)
            pkt = (
                decode_packet(reply, from_device=True, dialect=rt.generation.dialect)
                if reply is not None
                else None
            )
        except ProtocolError:
            rt.bad_replies += 1
            pkt = None
        except DeviceGone:
            raise
        except TransportError:  # a timeout or a transient USB error: a failed poll
            pkt = None
        if pkt is None:
            self.poll_failed(rt)
            return
        if rt.generation.from_another_module(rt, pkt):
            if not rt.generation.detect_stops_line:
                rt.state = STATE_LOST  # another module answers at this address
                return
            # a shared Avalon 2/3 line: a late reply of another module (an MM blocks about
            # 400 ms while its voltage changes) goes to its sender; this module's own reply
            # comes later and goes to it the same way
            owner = next(
                (o for o in self.chain._active() if not o.generation.from_another_module(o, pkt)),
                None,
            )
            if owner is not None:
                owner.failed_polls = 0
                self.take_reply(owner, pkt)
            return
        rt.failed_polls = 0
        self.take_reply(rt, pkt)

    def take_late_replies(self) -> None:
        """Frames a link kept from replies that came after their read timed out (an AUC
        slow to answer): each goes to the module its request read from, as its reply."""
        late = self.chain.link.late
        while late:
            address, frame = late.popleft()
            rt = self.chain._modules.get(address)
            if rt is None:  # no module there any more: counted with the link's stale replies
                self.chain.link.stale_replies += 1
                continue
            try:
                pkt = decode_packet(frame, from_device=True, dialect=rt.generation.dialect)
            except ProtocolError:
                rt.bad_replies += 1
                continue
            rt.failed_polls = 0
            self.take_reply(rt, pkt)

    def take_reply(self, rt: ModuleRuntime, pkt) -> None:
        if pkt.type == T.NONCE:
            for nonce in rt.generation.nonces(rt, pkt):
                self.take_nonce(rt, nonce)
        else:
            rt.readings.apply(pkt)

    def poll_failed(self, rt: ModuleRuntime) -> None:
        if time.monotonic() < rt.testing_until:
            # the firmware tests its chips and reads nothing meanwhile (MM main.c): it is
            # not lost, and an RSTMMTX it would read after the test would drop the
            # TEST_RET frames waiting for the next polls (what cgminer sends here)
            return
        rt.failed_polls += 1
        frame = rt.generation.reset_tx_frame(rt)
        try:
            if frame is not None:
                self.chain._xfer(rt.id, frame, read=False)
        except DeviceGone:
            raise
        except TransportError:
            pass
        if rt.failed_polls >= MAX_FAILED_POLLS:
            rt.state = STATE_LOST  # re-found once it answers DETECT again

    def take_nonce(self, rt: ModuleRuntime, nonce: dict) -> None:
        if nonce["miner"] >= rt.spec.miner_count:
            rt.rejected["bad_miner"] += 1
            return
        share, reason = self.chain.verifier.verify(nonce, rt.id)
        if not rt.spec.lock_counts and reason in (None, "below_target"):
            rt.readings.add_work(nonce["miner"], self.chain.verifier.last_device_work)
        if share is not None:
            rt.shares += 1
            self.chain._shares.put(share)
            return
        rt.rejected[reason] += 1
        if reason in HW_ERROR_REASONS:
            rt.host_hw_errors[(nonce["miner"], nonce["chip"])] += 1
