"""The MM firmware of one module: takes MM packets off the wire, answers as a board does.

Wire handling only; the board itself is :class:`ModulePhysics` (PLLs, voltage, fan,
temperatures) and :class:`Scanner` (hashing, driven by the emulator's chip thread, not by the
host's polls).  Bad frames are dropped and counted as a firmware would (reported in STATUS
``crc_errors``), never raised.

What the MM does, where the sources say (``docs/families.md``, ``docs/protocol.md``) and where we
chose (marked *choice*; the A8 firmware is not public):

- Nonces: the chips report what meets their mask; the MM forwards only nonces whose hash
  meets the TARGET the host sent (MM4 ``miner.c``), into a bounded FIFO of
  :data:`NONCE_FIFO_SIZE` (*choice*); when it is full a new nonce is dropped and ECMM bit 4
  (APIFIFOOVERFLOW, the factory script's error bits) is set in the next STATUS.
- A STATIC whose restart word is 1 (cgminer: a work restart) flushes the FIFO and the job at
  once; 0 lets queued nonces of earlier jobs still go out.
- RSTMMTX resets the I2C transmit FIFO (MM4 ``main.c``): the reply not yet read is gone; the
  status rotation and the nonce FIFO are untouched.
- No frame addressed to the module for :data:`IDLE_TIMEOUT_S` (MM4 ``IDLE_TIME``): it reverts
  to address 0 and drops its job, so the next DETECT finds it again.  It keeps its settings
  (*choice*: the MM4 powers its ASICs down; we keep the PLLs so a re-found board can be read).
- At power-on the PLLs are off until the host sets them (*choice*), so a host can tell a
  board that was just powered from one that runs.
- After SYNC the status rotation starts from its beginning (*choice*), so the host reads the
  module's STATUS_PLL within its first polls.
"""

from __future__ import annotations

from typing import Any, Callable, TYPE_CHECKING
from collections import deque

from firmware_protocols import (
    CrcError,
    PacketType as T,
    ProtocolError,
    decode_packet,
    encode_packet,
)
from firmware_protocols.dialects import DIALECTS
from firmware_protocols.encodings import pwm_to_fan_percent
from ..bitcoin.core import DIFF1_TARGET
from ..models import MAX_MODULES, ModelSpec
from .physics import ModulePhysics
from .status_frames import StatusFrames
from .work import JobAssembler, JobIncomplete, Scanner

if TYPE_CHECKING:
    import random

MAX_HASH_SLICE_S = 0.25  # the most hashing one step of the chip thread catches up on
NONCE_FIFO_SIZE = 64  # choice: the A8 MM's FIFO depth is not public
IDLE_TIMEOUT_S = 3.0  # MM4 system_config.h IDLE_TIME
ASIC_STATUS_PER_ROUND = 13  # STATUS_ASIC chips sent per status round (a slice, choice)
ECMM_API_FIFO_OVERFLOW = 1 << 4


class MMFirmware(StatusFrames):
    detect_takes_address = True  # a DETECT answered here is not seen by later modules

    def __init__(
        self,
        position: int,
        spec: ModelSpec,
        dna: bytes,
        version: str,
        physics: ModulePhysics,
        scanner: Scanner,
        rng: random.Random,
        *,
        hashrate: float,
        bad_nonce_rate: float = 0.0,
        pinned_nonce_mask=None,
    ):
        self.position = position  # 1-based place in the chain
        self.spec = spec
        self.dialect = DIALECTS[spec.generation]  # the wire it speaks (shared definition)
        self.dna = dna
        self.version = version
        self.physics = physics
        self.scanner = scanner
        self.rng = rng
        self.hashrate = hashrate  # hashes/s this module computes at nominal rate
        self.bad_nonce_rate = bad_nonce_rate
        self.pinned_nonce_mask = pinned_nonce_mask  # test option: chips ignore SET's mask
        self.pvt_silent = False  # fault: no STATUS_PVT in the rotation
        self.slow_chips: set = set()  # fault: (miner, chip) keeping a fifth of nonces
        self.stuck_sensors: dict = {}  # fault: (miner, chip) -> the code it is stuck at
        self.zero_sensors: set = set()  # fault: (miner, chip) reading 0 degC
        self.module_id: int | None = None
        self.boots = 0
        self.rx_crc_errors = 0  # frames received with a bad CRC (cumulative)
        self.rx_bad_frames = 0  # frames that were not MM packets at all
        self.nonces_sent = 0  # NONCE frames handed to the wire
        self.nonces_overflowed = 0  # dropped because the FIFO was full
        self.nonces_flushed = 0  # dropped by a restart or an idle revert
        self.idle_reverts = 0
        # frames that would have put a voltage this model does not take on its regulators
        # (or made the firmware divide by zero): what a test of the host asserts is empty
        self.unsafe_frames: list[str] = []
        self._power_on()

    # --- state ------------------------------------------------------------------------------
    def _power_on(self) -> None:
        self.module_id = None
        self.physics.reset()
        self.scanner.clear()
        self.scanner.nonce_mask = self.pinned_nonce_mask or self.spec.nonce_mask
        self.scanner.ntime_roll = 0
        self.jobs = JobAssembler()
        self.nonces: deque[bytes] = deque()  # the NONCE FIFO
        # nonces of the last hashing step, each entering the FIFO at its own time over the
        # step's span, as chips find them one by one (all at once, a step the chip thread
        # caught up on would overflow the FIFO as no MM does)
        self._arriving: deque[tuple[float, bytes]] = deque()
        self.urgent: deque[bytes] = deque()  # TEST_RET / STATUS_VOLT on request
        self._rotation: deque = deque()
        self._asic_cursor = 0
        self._status_turn = 0
        self._miner_works = [0] * self.spec.miner_count
        self._chip_works = [[0] * self.spec.asic_count for _ in range(self.spec.miner_count)]
        self._crc_reported: int = 0
        self._error_bits: int = 0
        self._last_hash_time: float | None = None
        self._last_addressed: float | None = None
        self._last_job = None
        self.led = 0
        self.settings_rounds = 0
        self.smart_speed: dict = {}
        self.power_mode = 0
        self.adjust_options: dict = {}
        self.miner_enable = (1 << self.spec.miner_count) - 1
        self.set_fields: dict = {}

    def reboot(self) -> None:
        self.boots += 1
        self._power_on()

    @property
    def detected(self) -> bool:
        return self.module_id is not None

    def check_idle(self, now: float) -> None:
        """Revert to address 0 when no frame was addressed to this module for a while."""
        if (
            self.module_id is not None
            and self._last_addressed is not None
            and now - self._last_addressed > IDLE_TIMEOUT_S
        ):
            self.module_id = None
            self.idle_reverts += 1
            self.scanner.clear()
            self._flush_nonces()
            self.urgent.clear()

    def _flush_nonces(self) -> None:
        self.nonces_flushed += len(self.nonces) + len(self._arriving)
        self.nonces.clear()
        self._arriving.clear()

    def _release(self, now: float) -> None:
        """Nonces whose time has come enter the FIFO; a full FIFO drops them (ECMM bit)."""
        while self._arriving and self._arriving[0][0] <= now:
            frame = self._arriving.popleft()[1]
            if len(self.nonces) >= NONCE_FIFO_SIZE:
                self.nonces_overflowed += 1
                self._error_bits |= ECMM_API_FIFO_OVERFLOW
                continue
            self.nonces.append(frame)

    # --- the wire ------------------------------------------------------------------------------
    def receive(self, frame: bytes, *, broadcast: bool, now: float) -> bytes | None:
        """One frame from the host; returns the reply frame, if this packet has one."""
        self._release(now)
        try:
            pkt = decode_packet(frame, dialect=self.dialect)
        except CrcError:
            self.rx_crc_errors += 1
            return None
        except ProtocolError:
            self.rx_bad_frames += 1
            return None
        if not broadcast:
            self._last_addressed = now
        handler = self._HANDLERS.get(pkt.type)
        if handler is None:  # a packet a module does not take (e.g. a reply type)
            self.rx_bad_frames += 1
            return None
        try:
            reply = handler(self, pkt, broadcast)
        except (ProtocolError, KeyError, IndexError, ValueError, OverflowError):
            self.rx_bad_frames += 1  # well-framed but nonsensical: ignore like firmware
            return None
        if pkt.type == T.DETECT and reply is not None:
            self._last_addressed = now  # the idle timer starts with the new address
        return reply

    def advance(self, now: float) -> None:
        """Catch the board up to ``now``: temperatures and the hashing done meanwhile."""
        self.physics.advance(now)
        if self._last_hash_time is None:
            self._last_hash_time = now
            return
        elapsed = min(now - self._last_hash_time, MAX_HASH_SLICE_S)
        if elapsed <= 0:
            return
        self._last_hash_time = now
        share = self.physics.ghs() / (self.physics.nominal_ghs() or 1)
        budget = int(elapsed * self.hashrate * share)
        job = self.scanner.job
        if job is None or budget <= 0:
            return
        target = int.from_bytes(job.target, "little") or DIFF1_TARGET
        found_frames = []
        for found in self.scanner.scan(budget):
            if not (
                self.physics.chip_alive(found.miner, found.chip)
                and self.miner_enable >> found.miner & 1
            ):
                continue
            if (found.miner, found.chip) in self.slow_chips and self.rng.random() >= 0.2:
                continue  # fault: a slow chip does a fifth of the work
            self._chip_works[found.miner][found.chip] += 1
            self._miner_works[found.miner] += 1
            if found.hash_value > target:
                continue  # under the host's TARGET: counted, not sent
            nonce = found.nonce
            if self.bad_nonce_rate and self.rng.random() < self.bad_nonce_rate:
                nonce ^= 0x00010000  # fault: corrupted after the MM's own check
            found_frames.append(self._nonce_frame(found, nonce, job))
        self.rng.shuffle(found_frames)  # the chips hash side by side: found in any order
        for i, frame in enumerate(found_frames, 1):
            self._arriving.append((now + elapsed * i / len(found_frames), frame))
        self._release(now)

    def _nonce_frame(self, found, nonce: int, job) -> bytes:
        return self._encode(
            T.NONCE,
            {
                "chip": found.chip,
                "miner": found.miner,
                "nonce2": found.nonce2,
                "ntime_offset": found.ntime_offset,
                "nonce": nonce,
                "job_crc": job.job_crc,
                "pool": job.pool,
            },
        )

    @staticmethod
    def version_for(spec: ModelSpec, build: str) -> str:
        """The ACKDETECT version string (15 characters at most): model, then build."""
        return f"{spec.version_prefix}-{build}"[:15]

    # --- handlers ------------------------------------------------------------------------------
    def _detect(self, pkt, broadcast):
        if self.detected:
            return None  # a detected module stays quiet
        self.module_id = pkt.fields()["module_id"]
        return self.wire_encode(
            T.ACKDETECT,
            {"dna": self.dna, "version": self.version, "asic_count": self.ack_asic_count},
        )

    @property
    def ack_asic_count(self) -> int:
        """The ASIC count ACKDETECT reports."""
        return self.spec.total_asics

    def _sync(self, pkt, broadcast):
        self._rotation.clear()  # report a status round from its start
        return None

    def _polling(self, pkt, broadcast):
        f = pkt.fields()
        self.led = f["led"]
        if f["fan"]["change"]:
            self.physics.fan_percent = pwm_to_fan_percent(f["fan"]["pwm"])
        reply = self._next_reply()
        if f["reboot"]:
            self.reboot()
        return reply

    def _rstmmtx(self, pkt, broadcast):
        return None  # the bus drops the unread reply: the TX FIFO

    def _set(self, pkt, broadcast):
        f = pkt.fields()
        self.set_fields = f
        if self.pinned_nonce_mask is None:
            self.scanner.nonce_mask = f["nonce_mask"]
        self.scanner.ntime_roll = 2 if f["flags"]["roll_enable"] else 0
        return None

    def _set_volt(self, pkt, broadcast):
        words = pkt.fields()["voltage_words"][: self.spec.miner_count]
        levels = [self.spec.voltage_codec.decode(w) for w in words]  # all or nothing
        for level in levels:
            self.spec.check_voltage_level(level)
        self.physics.voltage_levels = levels
        return None

    def _set_pll(self, pkt, broadcast):
        miner = pkt.idx - 1
        if not 0 <= miner < self.spec.miner_count:
            raise IndexError(miner)
        words = pkt.fields()["pll_words"][: self.spec.pll_count]
        self.physics.frequencies[miner] = [self.spec.pll_table.mhz(w) for w in words]
        return None

    def _set_ss(self, pkt, broadcast):
        self.smart_speed = pkt.fields()
        return None

    def _set_fin(self, pkt, broadcast):
        self.settings_rounds += 1
        return None

    def _set_power_mode(self, pkt, broadcast):
        self.power_mode = pkt.fields()["mode"]
        return None

    def _set_adjust(self, pkt, broadcast):
        """The A9 driver's auto-tuning options (0x51 voltage, 0x52 frequency): kept, as the
        A9's own tuning is not emulated."""
        self.adjust_options[pkt.type] = pkt.fields()
        return None

    def _set_miner_en(self, pkt, broadcast):
        self.miner_enable = pkt.fields()["mask"] & ((1 << self.spec.miner_count) - 1)
        return None

    def _ignore(self, pkt, broadcast):
        return None

    def _test(self, pkt, broadcast):
        which = pkt.fields()["miner"]
        miners = range(self.spec.miner_count) if which == 0xFF else [which]
        for m in miners:
            bitmap = sum(
                1 << c for c in range(self.spec.asic_count) if self.physics.chip_alive(m, c)
            )
            self.urgent.append(
                self._encode(
                    T.TEST_RET,
                    {
                        "pass_bitmap": bitmap & 0xFFFFFFFF,
                        "chips_tested": self.spec.asic_count,
                        "pass_bitmap_high": bitmap >> 32,
                    },
                    idx=m + 1,
                    cnt=self.spec.miner_count,
                )
            )
        return None

    def _get_volt(self, pkt, broadcast):
        self.urgent.append(self._status_volt())
        return None

    # job packets (broadcast)
    def _static(self, pkt, broadcast):
        self.jobs.begin(pkt.fields())  # raises ValueError on counts a MM cannot hold
        return None

    def _target(self, pkt, broadcast):
        self.jobs.target = pkt.fields()["target"]
        return None

    def _job_id(self, pkt, broadcast):
        f = pkt.fields()
        self.jobs.job_crc, self.jobs.pool = f["job_crc"], f["pool"]
        return None

    def _coinbase(self, pkt, broadcast):
        self.jobs.add_coinbase(pkt.idx, pkt.cnt, pkt.data)
        return None

    def _merkles(self, pkt, broadcast):
        self.jobs.add_merkle(pkt.idx, pkt.data)
        return None

    def _header(self, pkt, broadcast):
        self.jobs.add_header(pkt.idx, pkt.data)
        return None

    def _job_fin(self, pkt, broadcast):
        try:
            job = self.jobs.finish()
        except JobIncomplete:
            self.rx_bad_frames += 1
            return None
        if job.clean:  # a work restart: what is queued is worthless
            self._flush_nonces()
        self.scanner.set_job(job, part=(self.module_id or 1) - 1, parts=MAX_MODULES)
        self._last_job = job
        return None

    _HANDLERS: dict[int, Callable[..., bytes | None]] = {
        T.DETECT: _detect,
        T.SYNC: _sync,
        T.POLLING: _polling,
        T.RSTMMTX: _rstmmtx,
        T.SET: _set,
        T.SET_VOLT: _set_volt,
        T.SET_PLL: _set_pll,
        T.SET_SS: _set_ss,
        T.SET_FIN: _set_fin,
        T.SET_PMU: _ignore,
        T.SET_FAC: _ignore,
        T.SET_OC: _ignore,
        T.SET_ASIC_OTP: _ignore,
        T.SET_ASIC_OTP_2A: _ignore,
        T.SET_ADJ_FAC_UP: _ignore,
        T.SET_ADJ_FAC_DOWN: _ignore,
        T.SET_ADJ_CONTROL: _ignore,
        T.SET_POWER_MODE: _set_power_mode,
        T.SET_MINER_EN: _set_miner_en,
        T.SET_ADJUST_VOLT: _set_adjust,
        T.SET_ADJUST_FREQ: _set_adjust,
        T.TEST: _test,
        T.GET_VOLT: _get_volt,
        T.STATIC: _static,
        T.TARGET: _target,
        T.JOB_ID: _job_id,
        T.COINBASE: _coinbase,
        T.MERKLES: _merkles,
        T.HEADER: _header,
        T.JOB_FIN: _job_fin,
    }

    # --- what a poll returns ---------------------------------------------------------------------
    def _next_reply(self) -> bytes:
        """Requested replies first, then nonces and status in turn (a nonce never waits
        behind more than one status packet).  Status packets are built when sent, so they
        carry the board's state at that moment."""
        if self.urgent:
            return self.urgent.popleft()
        self._status_turn ^= 1
        if self.nonces and self._status_turn:
            self.nonces_sent += 1
            return self.nonces.popleft()
        if not self._rotation:
            self._rotation.extend(self._status_rotation())
        build, arg = self._rotation.popleft()
        return build(arg)

    def _status_rotation(self) -> list:
        """One round of status: per miner STATUS and STATUS_PLL, then VOLT, PMU, every
        chip's PVT and a slice of the chips' STATUS_ASIC."""
        out: list[tuple[Callable[[Any], bytes], Any]] = []
        for miner in range(self.spec.miner_count):
            out += [(self._status, miner), (self._status_pll, miner)]
        out += [(lambda _: self._status_volt(), None), (lambda _: self._status_pmu(), None)]
        if not self.pvt_silent:
            out += [(self._status_pvt, i) for i in range(self.spec.pvt_frames)]
        total = self.spec.total_asics
        for _ in range(min(ASIC_STATUS_PER_ROUND, total)):
            out.append((self._status_asic, self._asic_cursor))
            self._asic_cursor = (self._asic_cursor + 1) % total
        return out

    def _encode(self, ptype, fields=None, *, data=None, idx=1, cnt=1) -> bytes:
        """A reply: the last DNA byte in OPT, as MM4 does and A4 hosts check."""
        return self.wire_encode(ptype, fields, data=data, idx=idx, cnt=cnt, opt=self.dna[-1])

    def wire_encode(self, ptype, fields=None, **kw) -> bytes:
        """A frame from this module, in its generation's dialect."""
        return encode_packet(ptype, fields, dialect=self.dialect, from_device=True, **kw)
