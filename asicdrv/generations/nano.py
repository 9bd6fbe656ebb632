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
- STATUS_M, as the sticks' firmware fills it (Avalon-nano master b22b4ec, ``hid_main.c``):
  nano ("3U"): clock MHz (its own thermal loop's), LED, -1, the 2.5 V rail ADC, the core
  voltage ADC (d[16]), the TMP102 temperature in whole degC (d[20]), the 1.8/0.9 V ADCs,
  power enabled (d[28]: 1 while it hashes, 0 when idle); 4-mini: SPI speed, LED, -1,
  voltage code, the 12 V ADC (d[16]), the copper NTC (d[20]) and the fan-side NTC
  (d[24]), power good.
- The nano obeys only DETECT, WORK and POLLING: no SET_VOLT, SET_FREQ or GET_FREQ.  It
  powers its chip on with WORK and off 3 s after the last frame it heard.  So the host
  idles a nano (cutoff or :meth:`Chain.idle`) the way its firmware obeys: no work, and no
  frame at all for :data:`QUIET_S`, until its STATUS_M says power is off.
"""

from __future__ import annotations

import struct
import time
from collections import OrderedDict

from firmware_protocols import PacketType as T
from firmware_protocols.encodings import bswap32, ntc_adc_to_celsius

from ..bitcoin import sha256
from .base import Generation, effective_frequencies
from ..device.jobs import nonce2_range_for
from ..models import MODELS, ModelSpec
from ..device.status import ModuleReadings

WORKS_KEPT = 256  # work ids remembered for late nonces
STICK_IDLE_S = 3.0  # the firmware's IDLE_TIME: power off after this silence
# how long the host stays silent to idle a nano: its firmware checks the 3 s in its main
# loop, so a busy (or, under test, starved) stick notices late; a frame before it has
# powered off starts its 3 s again (0.5 s of margin lost that race under load)
QUIET_S = STICK_IDLE_S + 1.5
NANO_START_MHZ = 360  # the nano's clock loop starts here (A3233_FREQ_ADJMAX)
ASIC_TIMEOUT_100M_MS = 703  # 2**32 nonces at 100 MHz (AVAM_ASIC_TIMEOUT_100M)
SPI_SPEED = 1_000_000  # AVAM_DEFAULT_SPISPEED (4-mini SETM)
NO_REPORT = 0xFF  # a NONCE_M report slot that carries nothing
VOLTAGE_OFF = 0xFF  # the 4-mini's voltage code for chips off (ASIC_0V)
TEST_BUSY_S = (16 + 2) * 0.040 + 0.05  # the 4-mini's testcores: TEST_CORE_COUNT + 2 rounds
MAX_ROLL_S = 300  # how far a spent job's last work is rolled in ntime to keep a 4-mini fed


def batch_delay_s(mhz: int) -> float:
    return 100 * ASIC_TIMEOUT_100M_MS / max(mhz, 1) / 4 / 1000


def work_frames_for(encode, work_id: int, header: bytes, ntime_roll: int = 0) -> list[bytes]:
    """The WORK pair for one 80-byte block header (spec 7; driver-avalon-miner.c)."""
    words = struct.unpack(">8I", sha256.midstate(header[:64]))
    first = struct.pack(">8I", *reversed(words))
    second = (
        struct.pack(">I", work_id)
        + bytes(4)
        + bytes((ntime_roll,))
        + bytes(11)
        + header[72:76]
        + header[68:72]
        + header[64:68]
    )
    return [
        encode(T.SET_PMU, data=first, idx=1, cnt=2),
        encode(T.SET_PMU, data=second, idx=2, cnt=2),
    ]


class WorkSource:
    """A job's nonce2 values, handed out one work at a time; once they run out, the last
    one again with its ntime rolled on (a 4-mini needs full batches to report the last)."""

    def __init__(self, job, pool: int, start: int, span: int):
        self.job, self.pool = job, pool
        self.next, self.end = start, start + span
        self.last: int | None = None
        self.rolled = 0  # ntime offsets of ``last`` already handed out

    def take(self) -> int | None:
        if self.next > self.end:
            return None
        nonce2, self.next = self.next, self.next + 1
        self.last, self.rolled = nonce2 & 0xFFFFFFFF, 1
        return self.last


class StickWork:
    """What the host keeps per stick: the job it draws work from, the work ids in flight
    (id -> job, pool, nonce2, ntime base), when the next batch is due."""

    def __init__(self):
        self.source: WorkSource | None = None
        self.works: OrderedDict[int, tuple] = OrderedDict()
        self.last_id = 0
        self.next_batch = 0.0
        self.quiet_until: float | None = None  # a nano being idled: no frame until then
        self.last_sent = time.monotonic()  # the stick's idle timer runs from here
        self.settings_sent = 0.0
        self.settings_stale = False  # the stick dropped them (a chip test): send again

    def issue(self, nonce2: int, ntime_base: int = 0) -> int:
        self.last_id = work_id = self.last_id % 0xFFFFFFFF + 1  # 0 is never ours
        self.works[work_id] = (self.source.job, self.source.pool, nonce2, ntime_base)
        if len(self.works) > WORKS_KEPT:
            self.works.popitem(last=False)
        return work_id


class NanoReadings(ModuleReadings):
    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self.reported_clock: int | None = None
        self.power_enabled: bool | None = None  # the nano's d[28]
        self.words: list[int] | None = None  # the last STATUS_M, as it came
        self.test_frames = 0  # TEST_RET frames since the TEST
        self.test_failures: list[int] = []  # failed test works, chip by chip
        self.status_at = 0.0  # when the last STATUS_M came

    def start_test(self) -> None:
        super().start_test()
        self.test_frames, self.test_failures = 0, []

    def _test_ret(self, data: bytes) -> None:
        """testcores (4-mini hid_main.c): chips 0-3, then chip 4 in the first slot, then
        the summary; the pass bitmap is complete with the fifth chip."""
        self.test_frames += 1
        chips = self.spec.asic_count
        if len(self.test_failures) >= chips:
            return  # the summary (works passed, all works): the counts say it all
        counts = [int.from_bytes(data[1 + 4 * i : 5 + 4 * i], "big") for i in range(4)]
        self.test_failures += counts[: min(4, chips - len(self.test_failures))]
        if len(self.test_failures) == chips:
            self.test_results[0] = sum(1 << c for c, n in enumerate(self.test_failures) if n == 0)

    def apply(self, pkt) -> None:
        if pkt.type == T.TEST_RET:
            self._test_ret(pkt.fields()["data"])
            return
        if pkt.type not in (T.STATUS, T.STATUS_LW):
            super().apply(pkt)
            return
        self.seen[pkt.type] += 1
        self.last_reply = now = time.monotonic()
        self.received_at[pkt.type] = now
        f = pkt.fields()
        spec = self.spec
        if pkt.type == T.STATUS_LW:  # 0x44 STATUS_FREQ (4-mini)
            freqs = [_mhz(spec, w) for w in f["pll_words"]]
            known = [mhz for mhz in freqs if mhz is not None]
            self.reported_frequencies = [known if len(known) == len(freqs) else None]
            return
        self.status_at = now
        w = f["words"]
        self.words = list(w)
        if spec.name == "nano":
            self.reported_clock = w[0]
            self.reported_frequencies = [[w[0]] * spec.pll_count]
            self.chip_volts = [w[4] * ADC_VOLTS]  # V_CORE, d[16]
            # the TMP102 in whole degC; 0 until the firmware's first read, a second
            # after power-on (i2c_readtemp's last_temp starts at 0): not a reading
            temp: float | None = float(_signed(w[5])) if w[5] else None
            self.power_enabled = w[7] != 0
        else:
            try:
                self.chip_volts = [spec.voltage_codec.decode(w[3] & 0xFF) / 10000]
            except ValueError:
                self.chip_volts = [None]
            sensors = [ntc_adc_to_celsius(a) for a in (w[5], w[6])]  # copper, fan side
            readable = [t for t in sensors if t is not None]
            temp = max(readable) if readable else None
            self.power_good = w[7]
        self.temperature_mm = None if temp is None else round(temp, 1)
        self.miner_temps = [self.temperature_mm]
        self._pvt_seen(0)

    def extra(self) -> dict:
        """The rest of STATUS_M: the nano's clock, power switch, LED colour and rails (the
        2.5 V rail through the divider its firmware assumes, x 5 / 1024; the 1.8 V and
        0.9 V ADCs like the core's); the 4-mini's SPI speed, LED state and voltage code."""
        w = self.words
        if w is None:
            return {}
        if self.spec.name != "nano":
            return {"spi_hz": w[0], "led": f"{w[1]:#x}", "voltage_code": self.voltage_code}
        return {
            "clock_mhz": w[0],
            "power_enabled": w[7] != 0,
            "led_rgb": f"#{w[1] & 0xFFFFFF:06x}",
            "rail_2v5_v": round(w[3] * 5 / 1024, 3),
            "rail_1v8_v": round((w[6] >> 16) * ADC_VOLTS, 3),
            "rail_0v9_v": round((w[6] & 0xFFFF) * ADC_VOLTS, 3),
        }

    @property
    def voltage_code(self) -> int | None:
        """The 4-mini's voltage code (d[12]; 0xff: chips off), None before a STATUS_M."""
        return None if self.words is None or self.spec.name == "nano" else self.words[3] & 0xFF

    def power_ok(self) -> bool | None:
        """The 4-mini's d[28] is power good; the nano reports none (its d[28] says whether
        power is switched on, which is 0 whenever it is not hashing)."""
        return None if self.power_good is None else self.power_good != 0

    def round_complete(self, mark: dict) -> bool:
        return self.seen[T.STATUS] - mark.get(T.STATUS, 0) >= 1


ADC_VOLTS = 3.3 / 1023  # the LPC11U14's 10-bit ADC against 3.3 V (core: no divider)


def _signed(word: int) -> int:
    return word - (1 << 32) if word & 0x80000000 else word


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
        rt.wire.last_sent = time.monotonic()
        return super().poll_frame(rt, led=False, fan_pwm=None, reboot=False)

    def reset_tx_frame(self, rt):
        return None

    chip_test_seconds = 4.0  # 18 rounds of five golden works, 40 ms each, then the replies

    def test_frame(self, rt) -> bytes | None:
        """The 4-mini's TEST at its own power-on test point (0.7 V, 200 MHz), each value
        checked against the model before the frame is built: the stick switches its chips
        to them, runs its golden work through every chip and switches them off.  The nano
        has no chip test."""
        spec = rt.spec
        if spec.chip_test_voltage_level is None or spec.chip_test_frequency_mhz is None:
            return None
        level = spec.check_voltage_level(spec.chip_test_voltage_level)
        rt.wire.settings_stale = True  # the test ends with the chips off
        words = [
            spec.pll_table.word(f) for f in spec.check_frequencies(spec.chip_test_frequency_mhz)
        ]
        return self.encode(
            T.TEST, {"core_count": 0, "voltage_code": spec.voltage_word(level), "pll_words": words}
        )

    def from_another_module(self, rt, pkt) -> bool:
        return False  # one device per USB port

    def pause_after(self, rt, frame: bytes) -> float:
        """The 4-mini tests its chips inside its frame handler: 18 rounds of 40 ms
        (testcores) during which it reads nothing, and frames sent meanwhile overflow its
        8-report receive ring: the host waits."""
        return TEST_BUSY_S if len(frame) > 2 and frame[2] == self.dialect.wire_code(T.TEST) else 0.0

    voltage_frame_types = (T.SET_VOLT, T.TEST)

    def voltage_words(self, ptype, fields, spec) -> list[int]:
        if ptype in self.voltage_frame_types:
            return [fields["voltage_code"] & 0xFFFF]
        return []

    def settings_burst(self, rt) -> list[bytes]:
        if not rt.spec.takes_settings:
            return []
        spi = self.encode(T.SET_PLL, {"spi": 0x80000000 | SPI_SPEED})  # SETM
        return [spi] + self.volt_frames(rt) + self.pll_frames(rt, [0])

    def volt_frames(self, rt) -> list[bytes]:
        if not rt.spec.takes_settings:
            return []
        level = None if rt.cutoff or rt.idle else rt.voltage_levels[0]
        return [self.encode(T.SET_VOLT, {"voltage_code": rt.spec.voltage_word(level)})]

    def pll_frames(self, rt, miners) -> list[bytes]:
        """The 4-mini's SET_FREQ (OPT 0: every ASIC).  The nano takes none: idling it
        (cutoff or idle) starts the silence after which its firmware powers off."""
        if not rt.spec.takes_settings:
            if rt.cutoff or rt.idle:
                self._go_quiet(rt)
            return []
        words = [rt.spec.pll_table.word(f) for f in effective_frequencies(rt, 0)]
        return [self.encode(T.SET_FREQ, {"pll_words": words}, opt=0)]

    @staticmethod
    def _go_quiet(rt) -> None:
        rt.wire.quiet_until = time.monotonic() + QUIET_S

    def settings_lost(self, rt) -> bool:
        """The 4-mini powers its chips off by itself (voltage code 0xff, every PLL word 0:
        ``hid_main.c`` prcess_idle) 3 s after the last frame it heard and while too hot,
        ignores SET_VOLT/SET_FREQ while too hot, and ends its chip test with the chips
        off.  So before more work the settings go again after such a silence or a chip
        test, or when a STATUS_M says the chips are off while the host wants them hashing
        (at most once a second)."""
        if not rt.spec.takes_settings or rt.cutoff or rt.idle:
            return False
        state, now = rt.wire, time.monotonic()
        silent = now - state.last_sent >= STICK_IDLE_S or state.settings_stale
        off = rt.readings.voltage_code == VOLTAGE_OFF and now - state.settings_sent >= 1.0
        if silent or off:
            state.settings_sent = state.last_sent = now
            state.settings_stale = False
            return True
        return False

    def poll_due(self, rt) -> bool:
        """A nano being idled hears nothing until its firmware has powered off: the
        quiet lasts :data:`QUIET_S`, and again if a STATUS_M after it still says power
        is on."""
        state = rt.wire
        if not (rt.cutoff or rt.idle) or rt.spec.takes_settings:
            state.quiet_until = None
            return True
        if state.quiet_until is None:
            self._go_quiet(rt)
        now = time.monotonic()
        if now < state.quiet_until:
            return False
        readings = rt.readings
        if readings.power_enabled and readings.status_at > state.quiet_until:
            self._go_quiet(rt)  # still powered after the silence: once more
            return False
        return True

    def clock_mhz(self, rt) -> int:
        """What the chips run now: the nano's own reported clock, else the host's."""
        if not rt.spec.takes_settings:
            return rt.readings.reported_clock or NANO_START_MHZ
        return max(effective_frequencies(rt, 0))

    def new_state(self) -> StickWork:
        return StickWork()

    def job_frames(
        self, job, modules, *, nonce2_start, nonce2_range, clean, pool, send_job_id, difficulty_cap
    ) -> list[tuple[int, bytes]]:
        span = nonce2_range_for(job, nonce2_start) if nonce2_range is None else nonce2_range
        for rt in modules:
            rt.wire.source = WorkSource(job, pool, nonce2_start, span)
            rt.wire.next_batch = 0.0  # the new job goes out at once
        return []

    def work_frames(self, rt) -> list[bytes]:
        state, now = rt.wire, time.monotonic()
        if state.source is None or rt.cutoff or rt.idle or now < state.next_batch:
            return []
        state.next_batch = now + batch_delay_s(self.clock_mhz(rt))
        # The 4-mini clocks works to its chips only in full batches of one per ASIC and
        # reads a batch's nonces while it clocks in the next (avalon_a3222.c
        # a3222_process): a batch the job cannot fill is filled by the firmware's ntime
        # roll (WORK d[8], as cgminer rolls its work 0), and once the job's nonce2 values
        # are spent its last work goes on with ntime rolled further, up to MAX_ROLL_S.
        source, slots = state.source, rt.spec.asic_count
        works: list[tuple[int, int, int]] = []  # nonce2, ntime base, roll
        while len(works) < slots and (nonce2 := source.take()) is not None:
            works.append((nonce2, 0, 0))
        if works and len(works) < slots:
            nonce2, _, _ = works[-1]
            works[-1] = (nonce2, 0, slots - len(works))
            source.rolled = slots - len(works) + 1
        elif not works and slots > 1 and source.last is not None:
            if source.rolled + slots > MAX_ROLL_S:
                return []
            works = [(source.last, source.rolled, slots - 1)]
            source.rolled += slots
        frames = []
        for nonce2, base, roll in works:
            header = source.job.header(nonce2, base, 0)
            frames += work_frames_for(self.encode, state.issue(nonce2, base), header, roll)
        return frames

    def nonces(self, rt, pkt) -> list[dict]:
        out = []
        works = rt.wire.works
        for i, report in enumerate(pkt.fields()["reports"]):
            if i and report["chip"] == NO_REPORT:
                break  # the second slot is empty
            nonce = bswap32(report["nonce_raw"] - rt.spec.nonce_correction)
            work_id = report["work_id"]
            if not rt.spec.takes_settings:
                work_id = _nano_work(works, work_id, nonce)
            job, pool, nonce2, base = works.get(work_id, (None, -1, 0, 0))
            out.append(
                {
                    # work id 0 is never ours: the 4-mini's power-on core test (its
                    # golden work, id 0) leaves its answers in the chips until they are
                    # powered on
                    "reject": "boot_test" if work_id == 0 else None,
                    "chip": report["chip"],
                    "miner": 0,
                    "nonce2": nonce2,
                    "ntime_offset": base + report["ntime"],
                    "job_crc": -1 if job is None else job.job_crc,
                    "pool": pool,
                    "nonce": nonce,
                }
            )
        return out


def _nano_work(works: OrderedDict, work_id: int, nonce: int) -> int:
    """The nano labels every nonce with its latest WORK's id (``hid_main.c`` gwork_id),
    and its chip goes on with the old work while the new one's 88 bytes cross the UART
    (``avalon_a3233.c``): a nonce that is no share of the labelled work is tried on the
    work before it."""
    for candidate in (work_id, work_id - 1):
        entry = works.get(candidate)
        if entry is not None:
            job, _, nonce2, base = entry
            if job.hash(nonce2, base, nonce)[-4:] == bytes(4):  # meets difficulty 1
                return candidate
    return work_id
