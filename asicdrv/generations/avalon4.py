"""The Avalon 4 / 4.1 / 5 / 6 generation (MM40, MM41, MM50, MM60): cgminer
``driver-avalon4.c`` and the public MM4 firmware, as spec sections 5.2-5.9 read them.

What differs from the Avalon 7 and later, and lives only here:

- Device frames carry their CRC low byte first (the dialect says so).
- No SYNC after ACKDETECT; every reply must carry the module's last DNA byte in OPT.
- As the MM4 firmware takes them (MM ``avalon4`` branch ``main.c``, checked by running it:
  docs/firmware-tier.md): SET_VOLT (0x22) switches the regulators, one word per miner in
  cgminer's slot order; SET only records the voltage word and takes the three MHz for the
  chips' timeout and the reported average, plus the nonce2 window; SET_FREQ (0x23) gives
  the chips their PLL words.  A module's settings are SET_VOLT, SET, SET_FREQ; a job is
  STATIC .. HEADER, those three to each module, then FINISH (0x21, broadcast), which
  starts the work (also after a cutoff or the firmware's own idle).  A frame that switches
  the regulators on blocks the MM (100 ms, then 30 ms of chip reset): the host waits
  before its next frame, or the MM's 128-word receive ring overflows.  A cutoff or idle
  sends the off word and 100 MHz, as cgminer's cutoff.
- STATIC ends with the pool difficulty and number, JOB_ID is the bare job tag (sent with
  every job), the TARGET cap (DIFFMAX) is 1024.
- NONCE: pool, nonce2, ntime offset, then the raw nonce; the host subtracts 0x4000 (not on
  the MM60).
- Status: STATUS (temperature, fan, the chips' average MHz, voltage, works, power good,
  error code; cgminer scales the MHz by 3968/65, the firmware sends plain MHz),
  STATUS_LW / STATUS_HW per miner, STATUS_M (NTC and rail ADCs).  No lock counts: the hash
  rate is the work the verified nonces stand for.
"""

from __future__ import annotations

import time

from firmware_protocols import PacketType as T
from firmware_protocols.dialects import AVALON4, a4_test_ret_chips, a4_test_ret_summary
from firmware_protocols.encodings import bswap32, ntc_adc_to_celsius
from firmware_protocols.errors import LimitError
from firmware_protocols.records import record
from firmware_protocols.tables import NANO_PLL

from .base import Generation, effective_frequencies, job_head
from ..device.jobs import job_body_packets, nonce2_range_for
from ..models import ModelSpec
from ..device.status import ModuleReadings

SPEED_BINGO, SPEED_ERROR = 255, 3


class Avalon4Readings(ModuleReadings):
    """What an MM4 reports: one temperature for the module (its cutoff input), per-miner
    work and error counts, the voltage and frequency it runs, NTC readings."""

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self.reported_voltage: int | None = None  # 0.1 mV, from STATUS
        self.reported_clock: float | None = None  # MHz as cgminer derives it
        self.ntc_c: list[float | None] = []
        self.mm4_error_code = 0
        self.test_frames = 0  # TEST_RET frames since the TEST
        self.test_failures: dict[int, list[int]] = {}  # miner -> failed works per chip
        self.test_summary: tuple[int, int] | None = None  # (passed, all) test works

    def start_test(self) -> None:
        super().start_test()
        self.test_frames, self.test_failures, self.test_summary = 0, {}, None

    def _test_ret(self, pkt) -> None:
        """api_asic_testcores: miner by miner, a frame per four chips, then the summary;
        a miner's pass bitmap is complete with its last group."""
        spec = self.spec
        groups = -(-spec.asic_count // 4)
        data = pkt.fields()["data"]
        k, self.test_frames = self.test_frames, self.test_frames + 1
        if k >= spec.miner_count * groups:
            self.test_summary = a4_test_ret_summary(data)
            return
        miner, counts = a4_test_ret_chips(data)
        if miner >= spec.miner_count:
            return
        row = self.test_failures.setdefault(miner, [])
        row.extend(counts[: spec.asic_count - len(row)])
        if len(row) == spec.asic_count:
            self.test_results[miner] = sum(1 << c for c, n in enumerate(row) if n == 0)

    def apply(self, pkt) -> None:
        spec = self.spec
        if pkt.type == T.TEST_RET:
            self._test_ret(pkt)
            return
        if pkt.type not in (T.STATUS, T.STATUS_LW, T.STATUS_HW, T.STATUS_PMU):
            super().apply(pkt)  # what the A7+ code paths share
            return
        self.seen[pkt.type] += 1
        self.last_reply = now = time.monotonic()
        self.received_at[pkt.type] = now
        f = pkt.fields()
        if pkt.type == T.STATUS:
            # the module's temperature: MM4 main.c fills STATUS d[0] with read_temp()
            # (twipwm.c: the board's TMP sensor, a trimmed mean of 10), the reading its
            # own protection idles on at 65 degC
            self.temperature_mm = f["temperature_mm"]
            self._fold_temperatures()
            self.fan_rpm = f["fan_rpm"]
            self.power_good = f["power_good"]
            self.mm4_error_code = f["error_code"]
            try:
                self.reported_voltage = spec.voltage_codec.decode(f["voltage_word"])
            except ValueError:
                self.reported_voltage = None
            volts = None if self.reported_voltage is None else self.reported_voltage / 10000
            self.chip_volts = [volts] * spec.miner_count
            clock = f["frequency"]  # MM4 api.c get_asic_freq: (f0 + 4 f1 + 4 f2) / 9 MHz
            self.reported_clock = clock / spec.total_asics if spec.name == "MM60" else clock
            self._pvt_seen(0)  # the module's one temperature is fresh
        elif pkt.type in (T.STATUS_LW, T.STATUS_HW):
            target = self.local_works if pkt.type == T.STATUS_LW else self.mm_hw_errors
            for m, count in enumerate(f["counts"][: spec.miner_count]):
                target[m] += count
        else:  # 0x48 is STATUS_M on the MM4 (MM4.1 never sends it; other builds may)
            self.ntc_c = [ntc_adc_to_celsius(a) for a in f["adc"][:4]]
            self._fold_temperatures()

    def _fold_temperatures(self) -> None:
        """Protection uses the hottest sensor the module has: the board sensor and, when
        they are reported, the NTC channels."""
        readings = [t for t in [self.temperature_mm, *self.ntc_c] if t is not None]
        hottest = max(readings) if readings else None
        self.miner_temps = [hottest] * self.spec.miner_count
        self._hottest_stale = True

    def running_settings(self) -> tuple[int, int] | None:
        """(MHz, voltage level) a powered MM4 runs: its STATUS echoes the last SET's
        voltage word and average MHz (main.c, api.c).  None while unpowered, and on the
        MM60, whose firmware is not public."""
        if self.spec.name not in TEN_POWER_GOOD_LINES or not self.power_ok():
            return None
        if not self.reported_clock or not self.reported_voltage:
            return None
        return int(self.reported_clock), self.reported_voltage

    def power_ok(self) -> bool | None:
        """The power-good bits follow the regulators, which the host switched off when
        the voltage word it last sent (and the MM echoes) is the off word: unknown then.
        The MM40/41/50 report ten lines whatever their miner count (timer.c
        read_power_good; main.c pgcheck reads them as two groups of five): all must be
        good."""
        if self.reported_voltage == 0 or self.power_good is None:
            return None
        if self.spec.name in TEN_POWER_GOOD_LINES:
            return self.power_good & 0x3FF == 0x3FF
        return super().power_ok()

    def extra(self) -> dict:
        return {
            "clock_mhz": self.reported_clock,
            "ntc_c": self.ntc_c,
            "error_code": self.mm4_error_code,
        }

    def round_complete(self, mark: dict) -> bool:
        """A round is STATUS, STATUS_LW and STATUS_HW (MM4 main.c polling()); 0x48 never
        comes from MM4.x firmware, so a round does not wait for it."""
        seen = self.seen
        return all(seen[t] - mark.get(t, 0) >= 1 for t in (T.STATUS, T.STATUS_LW, T.STATUS_HW))


BLADE_MODELS = {"MM40", "MM41"}  # shifter.c switches regulators only on these
TEN_POWER_GOOD_LINES = {"MM40", "MM41", "MM50"}  # timer.c read_power_good: GPIO 16..25
PLL_FRAME_MODELS = {"MM40", "MM41", "MM50"}  # the public avalon4 firmware's SET_FREQ
AVA4_MODULE_SLICES = 64  # main.c: module k starts at start + (range / 64) * k
NONCE2_SKIP = 1 << 20  # more nonce2 values than a module works in a day (~14 a second)
POWER_ON_BLOCK_S = 0.3  # shifter.c VOLTAGE_DELAY 100 ms per blade + gpio_reset_asic 30 ms
CHIP_RESET_BLOCK_S = 0.04  # gpio_reset_asic when a SET finds the voltage off


def a4_cpm(mhz: int) -> int:
    """cgminer avalon4_get_cpm: the PLL word of the highest table frequency not above
    ``mhz`` (the lowest when below the table)."""
    table = sorted(NANO_PLL.words.items())
    word = table[0][1]
    for freq, candidate in table:
        if freq <= mhz:
            word = candidate
    return word


@record
class Mm4Wire:
    """What the host keeps per MM4: the nonce2 window of the last job, which every SET
    carries (a settings change between jobs repeats it)."""

    nonce2_window: tuple[int, int] = (0, 0xFFFFFFFF)
    has_job: bool = False  # a job was sent: FINISH may restart its work
    last_volt: bytes = b""  # the last SET_VOLT sent (the same again blocks nothing)


class Avalon4(Generation):
    name = "avalon4"
    job_family = "avalon4"
    sends_sync = False
    sends_asic_otp = False
    readings_class = Avalon4Readings
    # STATUS echoes the last SET's voltage word and MHz (main.c): a powered board keeps
    # what an earlier host session set
    status_carries_settings = True

    def from_another_module(self, rt, pkt) -> bool:
        """The A4 host checks OPT == DNA[7] on every reply, except STATUS_MA, whose OPT
        is the miner it describes (MM4 main.c encode_pkg)."""
        return pkt.type != T.STATUS_MA and pkt.opt != int(rt.info.dna[-2:], 16)

    def new_state(self) -> "Mm4Wire":
        return Mm4Wire()

    def set_fields(self, rt) -> dict:
        spec, options = rt.spec, rt.options
        idle = rt.cutoff or rt.idle
        f0, f1, f2 = effective_frequencies(rt, 0)
        start, span = rt.wire.nonce2_window
        return {
            "ntime_roll": 0,
            "voltage_word": spec.voltage_word(None if idle else rt.voltage_levels[0]),
            "frequencies": {"f0": f0, "f1": f1, "f2": f2},
            "nonce2_start": start,
            "nonce2_range": span,
            "flags": {"smart_speed": options.smart_speed, "nonce_check": True},
            "speed_bingo": SPEED_BINGO,
            "speed_error": SPEED_ERROR,
        }

    def set_frame(self, rt) -> bytes:
        return self.encode(T.SET, self.set_fields(rt))

    chip_test_seconds = 15.0  # the MM's watchdog while it tests (TEST_TIME)

    def test_frame(self, rt) -> bytes | None:
        """TEST at the firmware's own power-on test point (its model row), every value
        checked against the model first: the MM switches both regulators to this word.
        None where the model has no test point (the MM60)."""
        spec = rt.spec
        if spec.chip_test_voltage_level is None or spec.chip_test_frequency_mhz is None:
            return None
        rt.wire.last_volt = b""  # the test ends with the regulators off (main.c)
        mhz = spec.check_frequencies(spec.chip_test_frequency_mhz)
        try:
            cpm = NANO_PLL.word(mhz[0])  # cgminer's avalon4_get_cpm table
        except LimitError:
            raise LimitError(f"{spec.name}: no PLL word for a chip test at {mhz[0]} MHz")
        return self.encode(
            T.TEST,
            {
                "core_count": 0,  # the firmware's own TEST_CORE_COUNT (64)
                "voltage_word": spec.voltage_word(spec.chip_test_voltage_level),
                "frequencies": {"f0": mhz[0], "f1": mhz[1], "f2": mhz[2]},
                "pll_words": [cpm] * 3,
            },
        )

    voltage_frame_types = (T.SET, T.TEST, T.SET_VOLT)

    def voltage_words(self, ptype: int, fields: dict, spec: ModelSpec) -> list[int]:
        if ptype == T.SET_VOLT:
            return list(fields["codes"][: spec.miner_count])
        if ptype in (T.SET, T.TEST):
            return [fields["voltage_word"]]
        return []

    def volt_frame(self, rt) -> bytes:
        """SET_VOLT: the module's word for each miner (the off word while cut off or
        idle), placed as cgminer does: reversed within each blade of five, the order the
        firmware shifts them into the regulators (opt 0: custom mode, not saved)."""
        spec = rt.spec
        idle = rt.cutoff or rt.idle
        codes = [0] * 16
        for i in range(spec.miner_count):
            level = None if idle else rt.voltage_levels[i]
            codes[(4 + i // 5 * 5) - i + i // 5 * 5] = spec.voltage_word(level)
        return self.encode(T.SET_VOLT, {"codes": codes})

    def module_frames(self, rt) -> list[bytes]:
        """A module's settings as its firmware takes them: SET_VOLT where the regulators
        are switched by it (the MM40/MM41's two blades; the MM50 firmware has no shifter),
        SET, then SET_FREQ (not on the MM60, whose firmware is not public: SET alone)."""
        frames = [self.volt_frame(rt)] if rt.spec.name in BLADE_MODELS else []
        frames.append(self.set_frame(rt))
        if rt.spec.name in PLL_FRAME_MODELS:
            frames.append(self.freq_frame(rt))
        return frames

    def freq_frame(self, rt) -> bytes:
        """SET_FREQ: the PLL word of each of the three frequencies, for every chip."""
        words = [a4_cpm(f) for f in effective_frequencies(rt, 0)]
        return self.encode(T.SET_FREQ, {"pll_words": words, "miner": 0})

    def pause_after(self, rt, frame: bytes) -> float:
        """A SET_VOLT that changes the words shifts each blade's regulators (100 ms each
        when they come on) and resets the chips (30 ms); a SET may reset them (30 ms, MM4
        main.c).  The MM reads nothing meanwhile, and its 128-word receive ring overflows
        under the next frames: the host waits."""
        code = frame[2] if len(frame) > 2 else None
        if code == self.dialect.wire_code(T.SET_VOLT):
            powered = rt is not None and rt.readings.power_ok() is True
            if powered and rt.wire.last_volt == frame:
                return 0.0  # the same words on powered blades: the firmware changes nothing
            if rt is not None:
                rt.wire.last_volt = frame
            return POWER_ON_BLOCK_S
        if code == self.dialect.wire_code(T.SET):
            return CHIP_RESET_BLOCK_S
        return 0.0

    def settings_burst(self, rt) -> list[bytes]:
        if rt.wire.has_job:
            self._skip_worked_nonce2(rt)
        frames = self.module_frames(rt)
        if rt.wire.has_job and not (rt.cutoff or rt.idle):
            frames.append(self.encode(T.SET_FIN, {}))  # work stopped by an idle: restart
        return frames

    @staticmethod
    def _skip_worked_nonce2(rt) -> None:
        """Every SET restarts the module at the window's start (MM4 main.c); between jobs
        the window moves on past what the module has worked, so the chips do not repeat
        it (each module walks its own 1/64 of the window one nonce2 per work)."""
        start, span = rt.wire.nonce2_window
        step = NONCE2_SKIP * AVA4_MODULE_SLICES
        if span >= 2 * step:
            rt.wire.nonce2_window = ((start + step) & 0xFFFFFFFF, span - step)

    def pll_frames(self, rt, miners) -> list[bytes]:
        return self.settings_burst(rt)  # frequency and voltage are module-wide

    def volt_frames(self, rt) -> list[bytes]:
        return self.settings_burst(rt)

    def job_frames(
        self, job, modules, *, nonce2_start, nonce2_range, clean, pool, send_job_id, difficulty_cap
    ) -> list[tuple[int, bytes]]:
        """avalon4_update: STATIC, TARGET, JOB_ID (always), COINBASE, MERKLES, HEADER,
        then SET to each module and FINISH to all."""
        if nonce2_range is None:
            nonce2_range = nonce2_range_for(job, nonce2_start)
        frames = job_head(self, job, pool, int(job.difficulty), difficulty_cap)
        out = [(0, f) for f in frames + job_body_packets(job)]
        for rt in modules:
            rt.wire.nonce2_window = (nonce2_start, nonce2_range)
            rt.wire.has_job = True
            # the regulators on again if the MM idled itself, the chips' PLLs after any reset
            out += [(rt.id, frame) for frame in self.module_frames(rt)]
        out.append((0, self.encode(T.SET_FIN, {})))  # 0x21: FINISH on the MM4
        return out

    def nonces(self, rt, pkt) -> list[dict]:
        fields = pkt.fields()
        nonce = bswap32(fields["nonce_raw"] - rt.spec.nonce_correction)
        return [
            {
                "chip": fields["chip"],
                "miner": fields["miner"],
                "nonce2": fields["nonce2"],
                "ntime_offset": fields["ntime_offset"],
                "nonce": nonce,
                "job_crc": fields["job_crc"],
                "pool": fields["pool"],
            }
        ]


assert AVALON4.device_crc_order == "little"
