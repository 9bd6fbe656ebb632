"""Detection (cgminer's ``detect_modules``, made to survive lost replies): DETECT ids 1..6,
passing over an id nobody answered (a module may have taken it and lost its reply) and
stopping after two in a row; SYNC each new module; dedupe by DNA (a module that comes back
under another id is the same board).  At open, an address that answers polls but not DETECT
belongs to a module an earlier host left detected: the chain waits out the MM's 3 s idle
timeout, after which the module answers DETECT again."""

from __future__ import annotations

import time

from firmware_protocols import PacketType as T, ProtocolError, decode_packet
from firmware_protocols.dialects import DIALECTS
from firmware_protocols.mm import decode_device_frame
from firmware_protocols.records import replace

from ..errors import DeviceNotFound, LimitError
from ..generations import generation_of
from ..models import MM_IDLE_TIMEOUT_S, ModelSpec
from .limits import pll_frequencies, settable
from .runtime import ModuleRuntime
from .status import STATE_CUTOFF, STATE_LOST, STATE_OK, Module

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from .chain import Chain

DETECT_PATIENCE_S = 0.08  # read-again budget for DETECT: an empty id ends a round
PROBE_PATIENCE_S = 0.03  # ... for the probe of addresses nobody was detected at


def decode_ackdetect(reply: bytes, line):
    """ACKDETECT comes before the module's generation is known: on an AUC or I2C bus its
    CRC is high byte first from an Avalon 7 or later, low byte first from an Avalon 4
    (spec section 1); an "AV" serial line speaks its own dialect."""
    if line.dialect.magic != b"CN":
        return decode_packet(reply, from_device=True, dialect=line.dialect)
    return decode_device_frame(reply)


class Detector:
    """Finds the chain's modules and keeps why an address is missing or refused."""

    def __init__(self, chain: "Chain"):
        self.chain = chain

    def resend_work(self, rt: ModuleRuntime) -> None:
        """The current job to a module that came back, addressed to it alone: the others
        keep hashing undisturbed (a broadcast would restart their work)."""
        work = self.chain._current_work
        if work is None or rt.cutoff or rt.idle:
            return
        job, start, span, pool, cap = work  # the TARGET cap the job was verified with
        frames = rt.generation.job_frames(
            job,
            [rt],
            nonce2_start=start,
            nonce2_range=span,
            clean=False,
            pool=pool,
            send_job_id=True,
            difficulty_cap=cap,
        )
        for _, frame in frames:
            self.chain._xfer(rt.id, frame, read=False)

    def open_detection(self) -> None:
        """Detection at open, with the wait that re-finds modules an earlier host left
        holding their addresses; then each new module's settings."""
        found = self.detect_round()
        orphans = self.probe_orphans()
        if orphans:
            for rt in found:
                del self.chain._modules[rt.id], self.chain._by_dna[rt.info.dna]
            time.sleep(MM_IDLE_TIMEOUT_S + 0.5)  # no traffic: every MM reverts to id 0
            found = self.detect_round()
            for address in self.probe_orphans():
                self.chain._missing[address] = (
                    "a module answers polls here but never completed "
                    "DETECT (its replies are lost or corrupted)"
                )
        for rt in found:
            self.chain._config.configure_new(rt)

    def refuse(self, address: int, why: str) -> None:
        """A module answered DETECT at ``address`` but will not be driven (unknown model,
        settings it cannot take, another job family): known, so no orphan."""
        self.chain._missing[address] = why
        self.chain._refused.add(address)

    def probe_orphans(self) -> list[int]:
        """Addresses nobody was detected at that still answer a poll (only where modules
        take their address from DETECT)."""
        generation = self.chain._line_generation
        if not self.chain.link.multi_module or not generation.adopts_addresses:
            return []
        held = {rt.id for rt in self.chain._active()} | self.chain._refused
        return [
            address
            for address in range(1, generation.max_modules + 1)
            if address not in held
            and self.chain._xfer(
                address, generation.plain_poll, read=True, patience=PROBE_PATIENCE_S
            )
            is not None
        ]

    def detect_round(self) -> list[ModuleRuntime]:
        """DETECT each free id; returns the modules seen for the first time (to configure).
        Modules seen before (same DNA) are re-attached at their new id and get the host's
        settings again."""
        new: list[ModuleRuntime] = []
        silent: list[int] = []
        detected = False
        line = self.chain._line_generation
        ids = range(1, line.max_modules + 1) if self.chain.link.multi_module else [1]
        for module_id in ids:
            current = self.chain._modules.get(module_id)
            if current is not None and current.state != STATE_LOST:
                continue
            detected = True
            patience = line.detect_patience_s or DETECT_PATIENCE_S
            reply = self.chain._xfer(0, line.detect_frame(module_id), read=True, patience=patience)
            if not line.adopts_addresses:  # a line that keeps unread frames (Avalon 2/3)
                reply = self._skip_stale(line, module_id, reply, patience)
            if reply is None:
                silent.append(module_id)
                if len(silent) >= 2 and silent[-2] == module_id - 1:
                    break  # two empty ids in a row: the end
                continue
            for gap in silent:  # an earlier id got no reply, yet this one was taken
                self.chain._missing[gap] = (
                    "no reply to DETECT while a later id was taken: a "
                    "module here took the id and its reply was lost"
                )
            silent.clear()
            found = self.identify(module_id, reply, line)
            if found is None:
                continue
            spec, f = found
            self.chain._missing.pop(module_id, None)
            self.chain._refused.discard(module_id)
            generation = generation_of(spec)
            dna = generation.identity(module_id, f)
            if generation.sends_sync:
                self.chain._xfer(module_id, generation.sync_frame(f), read=True, patience=0)
            rt = self.chain._by_dna.get(dna)
            if rt is not None:  # the same board, back (maybe at a new id)
                if self.chain._modules.get(rt.id) is rt:
                    del self.chain._modules[rt.id]
                rt.info = replace(rt.info, id=module_id)
                rt.state = STATE_CUTOFF if rt.cutoff else STATE_OK
                rt.failed_polls, rt.fan_pending = 0, True
                rt.redetections += 1
                self.chain._modules[module_id] = rt
                self.chain._config.settings_round(rt)
                if not line.detect_stops_line:  # else the whole line gets it below
                    self.resend_work(rt)
                continue
            try:
                if self.chain._frequency is not None or self.chain._voltage_level is not None:
                    settable(spec)
                frequencies = (
                    None
                    if self.chain._frequency is None
                    else pll_frequencies(self.chain._frequency, spec)
                )
                if self.chain._voltage_level is not None:
                    spec.check_voltage_level(self.chain._voltage_level)
            except LimitError as exc:
                if self.chain._poller.thread is None:  # at open: the caller's settings are wrong
                    raise
                self.refuse(module_id, f"not configured: {exc}")
                continue
            info = Module(
                module_id, dna, f["version"], spec.name, spec.miner_count, spec.asic_count
            )
            target = (
                spec.temp_target_c if self.chain.temp_target is None else self.chain.temp_target
            )
            rt = ModuleRuntime(
                info,
                spec,
                min(target, self.chain.overheat_c - 5),
                self.chain._voltage_level,
                frequencies,
                options=self.chain,
            )
            self.chain._modules[module_id] = self.chain._by_dna[dna] = rt
            new.append(rt)
        for module_id in silent:  # nothing answered here nor after: nobody there
            self.chain._missing.pop(module_id, None)
        if detected and line.detect_stops_line:
            self._restart_line(new)
        return new

    def _restart_line(self, new: list[ModuleRuntime]) -> None:
        """Any DETECT stopped every module on this line (MM2/MM3 firmware): the current job
        goes out again, once (it reaches every module on the shared line)."""
        waiting = [rt for rt in self.chain._active() if rt not in new and rt.state != STATE_LOST]
        if waiting:
            self.resend_work(waiting[0])

    def _skip_stale(self, line, module_id: int, reply: bytes | None, patience: float):
        """Frames still on the line from before (a late STATUS of an MM that was busy, an
        earlier DETECT's answer) come first: read on to this DETECT's ACKDETECT."""
        for _ in range(8):
            if reply is None:
                return None
            try:
                ack = decode_ackdetect(reply, line)
                if ack.type == T.ACKDETECT and line.ack_is_for(module_id, ack.fields()):
                    return reply
            except ProtocolError:
                pass
            reply = self.chain._xfer(0, b"", read=True, patience=patience)
        return None

    def identify(self, module_id: int, reply: bytes, line) -> tuple[ModelSpec, dict] | None:
        """The model and ACKDETECT fields of a reply to DETECT, or None with the reason
        recorded (an unreadable reply, an unknown model, a module of another job family)."""
        try:
            ack = decode_ackdetect(reply, line)
        except ProtocolError as exc:
            self.chain._missing[module_id] = f"ACKDETECT unreadable ({exc})"
            return None
        if ack.type != T.ACKDETECT:
            self.chain._missing[module_id] = f"answered DETECT with {ack.name}"
            return None
        fields = ack.fields()
        if not line.ack_is_for(module_id, fields):
            return None  # a late reply to an earlier DETECT (strapped ids say whose)
        try:
            spec = line.model_for(fields["version"])
        except DeviceNotFound as exc:
            self.refuse(module_id, str(exc))
            return None
        generation = generation_of(spec)
        if generation.dialect.device_crc_order != DIALECTS[ack.dialect].device_crc_order:
            self.refuse(
                module_id, f"a {spec.name} answered DETECT with its CRC in the wrong byte order"
            )
            return None
        family = {rt.generation.job_family for rt in self.chain._active()}
        if family and generation.job_family not in family:
            others = ", ".join(sorted({rt.spec.name for rt in self.chain._active()}))
            self.refuse(
                module_id,
                f"a {spec.name} cannot share a chain with {others}: their "
                f"generations take different job frames",
            )
            return None
        return spec, fields
