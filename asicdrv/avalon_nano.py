"""The Avalon nano 2 and Avalon4 mini: USB sticks with their chips on board, cgminer
``driver-avalon-miner.c`` as spec section 7 reads it.

They take work, not stratum jobs: for every (job, nonce2) the host builds the block header,
sends its SHA-256 midstate and last 12 bytes as a WORK pair with a work id, and maps each
NONCE_M back through that id.  So this generation keeps a work source per device (the job,
the next nonce2) and a table of the work ids in flight.

- WORK frame 1: the midstate words H7..H0, each big-endian (cgminer's ``work->midstate``
  reversed); frame 2: the work id (BE32), d[8] the ntime roll count (0: we do not roll),
  d[20..31] the header's nBits, nTime and merkle-root tail, each as in the header.
- A batch of one work per ASIC every ``100 * 703 / MHz / 4`` ms (cgminer's ``CAL_DELAY``).
- NONCE_M holds two 16-byte reports (the second valid when its chip byte is not 0xff):
  work id, chip, ntime offset, the nonce + 0x4000 read big-endian.
- STATUS_M: nano ("3U"): clock, LED, -, core voltage ADC (x 3.3 / 1023 / 0.5), ADCs,
  power; 4-mini: SPI speed, LED, fan, voltage code, ADCs, power.  The stick's temperature
  is the NTC ADC at d[20] (nano, as the spec says) or d[16] (4-mini, inferred).
"""
from __future__ import annotations

import struct
import time
from collections import OrderedDict

from firmware_protocols import PacketType as T

from . import sha256
from .avalon4 import bswap32, ntc_adc_to_celsius
from .generations import Generation, effective_frequencies, register
from .jobs import nonce2_range_for
from .models import MODELS, ModelSpec
from .status import ModuleReadings

WORKS_KEPT = 256                 # work ids remembered for late nonces
ASIC_TIMEOUT_100M_MS = 703       # 2**32 nonces at 100 MHz (AVAM_ASIC_TIMEOUT_100M)
SPI_SPEED = 1_000_000            # AVAM_DEFAULT_SPISPEED (4-mini SETM)
NO_REPORT = 0xFF                 # a NONCE_M report slot that carries nothing


def batch_delay_s(mhz: int) -> float:
    return 100 * ASIC_TIMEOUT_100M_MS / max(mhz, 1) / 4 / 1000


def work_frames_for(encode, work_id: int, header: bytes, ntime_roll: int = 0) -> list[bytes]:
    """The WORK pair for one 80-byte block header (spec 7; driver-avalon-miner.c)."""
    words = struct.unpack(">8I", sha256.midstate(header[:64]))
    first = struct.pack(">8I", *reversed(words))
    second = (struct.pack(">I", work_id) + bytes(4) + bytes((ntime_roll,)) + bytes(11)
              + header[72:76] + header[68:72] + header[64:68])
    return [encode(T.SET_PMU, data=first, idx=1, cnt=2),
            encode(T.SET_PMU, data=second, idx=2, cnt=2)]


class WorkSource:
    """A job's nonce2 values, handed out one work at a time."""

    def __init__(self, job, pool: int, start: int, span: int):
        self.job, self.pool = job, pool
        self.next, self.end = start, start + span

    def take(self) -> int | None:
        if self.next > self.end:
            return None
        nonce2, self.next = self.next, self.next + 1
        return nonce2 & 0xFFFFFFFF


class StickWork:
    """What the host keeps per stick: the job it draws work from, the work ids in flight
    (id -> job tag, pool, nonce2), when the next batch is due."""

    def __init__(self):
        self.source: WorkSource | None = None
        self.works: OrderedDict[int, tuple[int, int, int]] = OrderedDict()
        self.last_id = 0
        self.next_batch = 0.0

    def issue(self, nonce2: int) -> int:
        self.last_id = work_id = (self.last_id + 1) & 0xFFFFFFFF
        self.works[work_id] = (self.source.job.job_crc, self.source.pool, nonce2)
        if len(self.works) > WORKS_KEPT:
            self.works.popitem(last=False)
        return work_id


class NanoReadings(ModuleReadings):
    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self.reported_clock: int | None = None

    def apply(self, pkt) -> None:
        if pkt.type not in (T.STATUS, T.STATUS_LW):
            super().apply(pkt)
            return
        self.seen[pkt.type] += 1
        self.last_reply = now = time.monotonic()
        self.received_at[pkt.type] = now
        f = pkt.fields()
        spec = self.spec
        if pkt.type == T.STATUS_LW:                 # 0x44 STATUS_FREQ
            self.reported_frequencies = [[_mhz(spec, w) for w in f["pll_words"]]]
            return
        w = f["words"]
        nano = spec.name == "nano"
        if nano:
            self.reported_clock = w[0]
            volts = w[3] * 3.3 / 1023 / 0.5
        else:
            try:
                volts = spec.voltage_codec.decode(w[3] & 0xFF) / 10000
            except ValueError:
                volts = None
        self.chip_volts = [volts]
        temp = ntc_adc_to_celsius(w[5] if nano else w[4])
        self.temperature_mm = None if temp is None else round(temp, 1)
        self.miner_temps = [self.temperature_mm]
        self.power_good = w[7]
        self._pvt_seen(0)

    def extra(self) -> dict:
        return {} if self.reported_clock is None else {"clock_mhz": self.reported_clock}

    def power_ok(self) -> bool | None:
        """STATUS_M d[28]: power enabled (non-zero) or not."""
        return None if self.power_good is None else self.power_good != 0

    def round_complete(self, mark: dict) -> bool:
        return self.seen[T.STATUS] - mark.get(T.STATUS, 0) >= 1


def _mhz(spec: ModelSpec, word: int) -> int | None:
    try:
        return spec.pll_table.mhz(word)
    except ValueError:
        return None


class AvalonNano(Generation):
    name = "avalon_nano"
    job_family = "nano"
    sends_sync = False
    sends_asic_otp = False
    max_modules = 1
    adopts_addresses = False
    readings_class = NanoReadings

    def model_for(self, version: str) -> ModelSpec:
        """cgminer tells them apart by the version's "3U" (the nano); the rest is a mini."""
        return MODELS["nano"] if version.startswith("3U") else MODELS["4-mini"]

    def detect_frame(self, module_id: int) -> bytes:
        return self.encode(T.DETECT, {})

    def poll_frame(self, rt, *, led, fan_pwm, reboot) -> bytes:
        return super().poll_frame(rt, led=False, fan_pwm=None, reboot=False)

    def reset_tx_frame(self, rt):
        return None

    def test_frame(self, rt):
        return None                     # no chip test on a stick

    def from_another_module(self, rt, pkt) -> bool:
        return False                    # one device per USB port

    def settings_burst(self, rt) -> list[bytes]:
        frames = []
        if rt.spec.name == "4-mini":
            frames.append(self.encode(T.SET_PLL, {"spi": 0x80000000 | SPI_SPEED}))   # SETM
        return frames + self.volt_frames(rt) + self.pll_frames(rt, [0])

    def volt_frames(self, rt) -> list[bytes]:
        level = 0 if rt.cutoff or rt.idle else rt.voltage_levels[0]
        return [self.encode(T.SET_VOLT, {"voltage_code": rt.spec.voltage_codec.encode(level)})]

    def pll_frames(self, rt, miners) -> list[bytes]:
        words = [rt.spec.pll_table.word(f) for f in effective_frequencies(rt, 0)]
        return [self.encode(T.SET_FREQ, {"pll_words": words}, opt=0)]   # OPT 0: every ASIC

    def new_state(self) -> StickWork:
        return StickWork()

    def job_frames(self, job, modules, *, nonce2_start, nonce2_range, clean, pool,
                   send_job_id, difficulty_cap) -> list[tuple[int, bytes]]:
        span = nonce2_range_for(job, nonce2_start) if nonce2_range is None else nonce2_range
        for rt in modules:
            rt.wire.source = WorkSource(job, pool, nonce2_start, span)
            rt.wire.next_batch = 0.0            # the new job goes out at once
        return []

    def work_frames(self, rt) -> list[bytes]:
        state, now = rt.wire, time.monotonic()
        if state.source is None or rt.cutoff or rt.idle or now < state.next_batch:
            return []
        state.next_batch = now + batch_delay_s(max(effective_frequencies(rt, 0)))
        frames = []
        for _ in range(rt.spec.asic_count):
            nonce2 = state.source.take()
            if nonce2 is None:
                break
            frames += work_frames_for(self.encode, state.issue(nonce2),
                                      state.source.job.header(nonce2, 0, 0))
        return frames

    def nonces(self, rt, pkt) -> list[dict]:
        out = []
        works = rt.wire.works
        for i, report in enumerate(pkt.fields()["reports"]):
            if i and report["chip"] == NO_REPORT:
                break                           # the second slot is empty
            job_crc, pool, nonce2 = works.get(report["work_id"], (-1, -1, 0))
            out.append({"chip": report["chip"], "miner": 0, "nonce2": nonce2,
                        "ntime_offset": report["ntime"], "job_crc": job_crc, "pool": pool,
                        "nonce": bswap32(report["nonce_raw"] - rt.spec.nonce_correction)})
        return out


register(AvalonNano())
