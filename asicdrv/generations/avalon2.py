"""The Avalon 2 / Avalon 3 generation (MM2, MM3 firmware) on a serial line: cgminer
``driver-avalon2.c``, BFGMiner ``driver-avalonmm.c`` and the MM ``master`` firmware, as
spec section 6 reads them.

- 39-byte "AV" frames without OPT, decimal type codes, device CRC low byte first (the
  ``avalon2`` dialect).  Up to four modules share one UART; their ids 0..3 are strapped in
  hardware (the chain calls them 1..4), and every device frame ends with the id.  There is
  no DNA: a module is known by its id.
- A job: STATIC (pool difficulty clamped to 1..64, pool number), TARGET, JOB_ID (the job
  tag), the whole coinbase from IDX 1 (up to 6144 bytes; longer ones go as a midstate as
  in later generations), MERKLES (at most 20), HEADER, then SET to all: fan, voltage,
  frequency and the nonce2 window; SET starts the work.
- Settings between jobs: the MM2 firmware applies fan, voltage and frequency from a
  POLLING whose d[24..27] is non-zero (MM ``master`` ``main.c``), so they ride on the
  module's next poll and its reply is read as any poll's; cgminer only sends them in SET.
- NONCE: the host subtracts 0x180 and submits with ntime offset 0 (cgminer ignores the
  device's ntime).  STATUS: two temperatures and fans, the clock in plain MHz (cgminer
  scales the MM3's by 768/65; the firmware sends what it was set to), the voltage word,
  works since the last STATUS, and five power-good bits (cgminer reads a top byte that
  the firmware never sets).  Checked against the vendor firmware (tests/firmware).
"""

from __future__ import annotations

import time

from firmware_protocols import PacketType as T
from firmware_protocols.encodings import PWM_MAX, bswap32, fan_percent_to_pwm

from ..errors import JobError
from .base import Generation, effective_frequencies, job_head
from ..device.jobs import job_body_packets, nonce2_range_for
from ..models import ModelSpec
from ..device.status import ModuleReadings

MAX_MERKLES = 20  # AVA2_P_MERKLES_COUNT
POWER_GOOD_BITS = 0x1F  # five power-good lines, low bits of STATUS d[24..27]
# chips per miner in the firmware's chip test (system_config.h ASIC_COUNT); the model
# table counts an A2/3 miner as one hashing unit
TEST_CHIPS = {"MM2": 7, "MM3": 10}
WHOLE_COINBASE_MAX = 6 * 1024  # AVA2_P_COINBASE_SIZE


def wire_id(rt) -> int:
    return rt.id - 1


class Avalon2Readings(ModuleReadings):
    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self.reported_clock: float | None = None
        self.temperatures: list[int] = []
        self.fans_rpm: list[int] = []
        self.powered = False
        self.expect_power = False
        self.test_failed_cores: dict[int, list[int]] = {}
        self.fresh_from = 0  # the first STATUS count that shows the last settings
        # what the module was last told (fan_pwm, voltage_word, frequency): a settings
        # POLLING flushes the chips' work and results (main.c alink_flush_fifo), so the
        # same settings are not sent again
        self.applied: dict | None = None

    def apply(self, pkt) -> None:
        if pkt.type == T.TEST_RET:
            self._test_ret(pkt)
            return
        if pkt.type != T.STATUS:
            super().apply(pkt)
            return
        spec = self.spec
        self.seen[pkt.type] += 1
        self.last_reply = now = time.monotonic()
        self.received_at[pkt.type] = now
        f = pkt.fields()
        self.temperatures, self.fans_rpm = f["temperatures"], f["fans_rpm"]
        self.temperature_mm = max(self.temperatures)
        self.miner_temps = [self.temperature_mm] * spec.miner_count
        self.fan_rpm = max(self.fans_rpm)
        self.reported_clock = f["frequency"]  # MHz as set (MM main.c get_asic_freq)
        told = self.applied
        if told is not None and self.seen[T.STATUS] >= self.fresh_from:
            if (f["voltage_word"], f["frequency"]) != (told["voltage_word"], told["frequency"]):
                self.applied = None  # it idled, tested or restarted: tell it again
        self.powered = f["voltage_word"] != spec.voltage_word(None)
        try:
            volts = spec.voltage_codec.decode(f["voltage_word"]) / 10000
        except ValueError:
            volts = None
        self.chip_volts = [volts] * spec.miner_count
        self.local_works[0] += f["local_works"]
        self.mm_hw_errors[0] += f["hw_errors"]
        self.power_good = f["power_good"] & POWER_GOOD_BITS
        self._pvt_seen(0)

    def test_complete(self) -> bool:
        return len(self.test_results) == self.spec.miner_count

    def _test_ret(self, pkt) -> None:
        """One miner's result (alink.c): the failed-core count of each of its chips."""
        f = pkt.fields()
        miner = f["miner_number"] - 1
        chips = TEST_CHIPS.get(self.spec.name, 10)
        if not 0 <= miner < self.spec.miner_count:
            return
        counts = list(f["failed_cores"][:chips])
        self.test_chip_count = chips
        self.test_failed_cores[miner] = counts
        self.test_results[miner] = sum(1 << c for c, n in enumerate(counts) if n == 0)

    def start_test(self) -> None:
        super().start_test()
        self.test_failed_cores = {}
        self.expect_power = False  # the test ends with the board unpowered

    def running_settings(self) -> tuple[int, int] | None:
        """(MHz, voltage level) a powered board runs, from its last STATUS (None: no STATUS
        yet, or the regulators are off: nothing to keep)."""
        if not self.powered or self.reported_clock is None or not self.chip_volts[0]:
            return None
        return int(self.reported_clock), round(self.chip_volts[0] * 10000)

    def job_sent(self, settings: dict) -> None:
        """A job's SET went out: the module should be powered from its next STATUS on."""
        self.applied = settings
        self.expect_power = True
        self.fresh_from = self.seen[T.STATUS] + 1

    def findings(self, rt) -> list[str]:
        """A module that should be hashing but reports its regulators off has idled
        itself: the firmware does at 90 C on both sensors, or 5 s after its last frame
        (MM main.c).  A chip test also ends with the power off: no job, no finding."""
        fresh = self.seen[T.STATUS] >= self.fresh_from
        if self.expect_power and fresh and not self.powered and not (rt.cutoff or rt.idle):
            return ["self_idled"]
        return []

    def extra(self) -> dict:
        return {
            "clock_mhz": self.reported_clock,
            "temperatures_c": self.temperatures,
            "fans_rpm": self.fans_rpm,
        }

    def power_ok(self) -> bool | None:
        """d[24..27] is the board's five power-good lines in its low bits (MM firmware
        timer.c read_power_good: GPIO bits 7..11 on the MM3, 6..10 on the MM2).  With the
        regulators off (the off voltage word) they say nothing: unknown, not bad."""
        if self.power_good is None or not self.powered:
            return None
        return self.power_good == POWER_GOOD_BITS

    def settings_sent(self, settings: dict) -> None:
        """A settings POLLING went out: its own reply predates the settings (the firmware
        answers, then applies), so only the STATUS after it shows them."""
        self.applied = settings
        self.fresh_from = self.seen[T.STATUS] + 2

    def round_complete(self, mark: dict) -> bool:
        seen = self.seen[T.STATUS]
        return seen - mark.get(T.STATUS, 0) >= 1 and seen >= self.fresh_from


class Avalon2(Generation):
    name = "avalon2"
    job_family = "avalon2"
    sends_sync = False
    sends_asic_otp = False
    max_modules = 4
    adopts_addresses = False
    settings_ride_on_poll = True
    detect_stops_line = True  # MM main.c: DETECT clears g_new_stratum whatever its id
    status_carries_settings = True  # STATUS: the clock as set and the voltage word
    detect_patience_s = 0.5  # an MM changing its voltage is deaf for about 400 ms (F6)
    fan_dead_band = 5  # each fan change is a settings POLLING, which flushes the chips (F12)
    readings_class = Avalon2Readings

    def detect_frame(self, module_id: int) -> bytes:
        return self.encode(T.DETECT, {"module_id": module_id - 1})

    def ack_is_for(self, module_id: int, fields: dict) -> bool:
        """Every ACKDETECT ends with the strapped id: a late one (the line keeps unread
        frames) is not this DETECT's answer."""
        return fields["module_id"] == module_id - 1

    def identity(self, module_id: int, fields: dict) -> str:
        return f"{fields['module_id']:016x}"  # no DNA: the strapped id

    def _settings(self, rt) -> dict:
        spec = rt.spec
        idle = rt.cutoff or rt.idle
        return {
            "voltage_word": spec.voltage_word(None if idle else rt.voltage_levels[0]),
            "frequency": effective_frequencies(rt, 0)[0],
        }

    def poll_frame(self, rt, *, led: bool, fan_pwm: int | None, reboot: bool) -> bytes:
        fields = {"led": int(led), "module_id": wire_id(rt)}
        if fan_pwm is not None:  # apply fan, voltage and clock now, if any changed
            settings = {**self._settings(rt), "fan_pwm": fan_pwm}
            if settings != rt.readings.applied:
                fields.update(settings, apply=1)
                rt.readings.settings_sent(settings)
        return self.encode(T.POLLING, fields)

    def reset_tx_frame(self, rt):
        return None

    voltage_frame_types = (T.SET, T.POLLING)

    def check_frame(self, spec, frame: bytes) -> None:
        if frame[2:3] == bytes((self.dialect.wire_code(T.POLLING),)) and not any(frame[29:33]):
            return  # a plain poll (apply = 0): its settings are unused
        super().check_frame(spec, frame)

    def voltage_words(self, ptype, fields, spec) -> list[int]:
        if ptype == T.SET or (ptype == T.POLLING and fields["apply"]):
            return [fields["voltage_word"]]
        return []

    def pre_test_frame(self, rt) -> bytes:
        """The firmware's chip test does not flush the hash work still queued for the
        chips, whose results it then reads as the test's (every core fails): a DETECT of
        the module's own id stops its work and flushes the queue first (main.c)."""
        return self.detect_frame(rt.id)

    def test_frame(self, rt) -> bytes:
        return self.encode(T.TEST, {"miner": 0xFF, "module_id": wire_id(rt)})

    # The firmware tests every core of every chip, 1 ms each, and answers nothing
    # meanwhile (main.c, alink.c: about 47 s on an MM3, 10 s on an MM2); each miner's
    # TEST_RET goes out unasked as it finishes, so the chain listens instead of polling.
    chip_test_seconds = 60.0
    test_results_unasked = True

    def from_another_module(self, rt, pkt) -> bool:
        """Every MM2 frame ends with its id (d[28..31])."""
        return int.from_bytes(pkt.data[28:32], "big") != wire_id(rt)

    def settings_burst(self, rt) -> list[bytes]:
        return []

    def resend_settings(self, rt) -> None:
        """The next poll carries the settings, whatever the module was told before (it may
        have restarted, or the caller asks again)."""
        rt.readings.applied = None
        rt.fan_pending = True

    def job_frames(
        self, job, modules, *, nonce2_start, nonce2_range, clean, pool, send_job_id, difficulty_cap
    ) -> list[tuple[int, bytes]]:
        if len(job.merkle_branch) > MAX_MERKLES:
            raise JobError(
                f"the Avalon 2/3 takes at most {MAX_MERKLES} merkle branches, "
                f"this job has {len(job.merkle_branch)}"
            )
        if nonce2_range is None:
            nonce2_range = nonce2_range_for(job, nonce2_start)
        # cgminer clamps the STATIC difficulty to 1..64
        frames = job_head(self, job, pool, min(max(int(job.difficulty), 1), 64), difficulty_cap)
        frames += job_body_packets(
            job, dialect=self.dialect, whole_coinbase=job.coinbase_len <= WHOLE_COINBASE_MAX
        )
        first = modules[0] if modules else None
        settings = self._settings(first) if first is not None else {}
        fan_pwm = fan_percent_to_pwm(first.fan_percent) if first is not None else PWM_MAX
        frames.append(
            self.encode(
                T.SET,
                {
                    **settings,
                    "fan_pwm": fan_pwm,
                    "nonce2_start": nonce2_start,
                    "nonce2_range": nonce2_range,
                },
            )
        )
        for rt in modules[1:]:  # each module's own settings with its next poll
            rt.fan_pending = True
        for rt in modules:  # SET reaches every module on the line
            rt.readings.job_sent({**settings, "fan_pwm": fan_pwm})
        return [(0, f) for f in frames]

    def nonces(self, rt, pkt) -> list[dict]:
        fields = pkt.fields()
        nonce = bswap32(fields["nonce_raw"] - rt.spec.nonce_correction)
        return [
            {
                "chip": 0,
                "miner": fields["miner"],
                "nonce2": fields["nonce2"],
                "ntime_offset": 0,
                "nonce": nonce,
                "job_crc": fields["job_crc"],
                "pool": fields["pool"],
            }
        ]
