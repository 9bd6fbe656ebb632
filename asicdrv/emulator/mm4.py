"""The MM4 firmware (Avalon 4 / 4.1 / 5 / 6 modules), as the public MM ``avalon4`` branch
and cgminer ``driver-avalon4.c`` describe it; everything else as :class:`MMFirmware`.

- Replies carry their CRC low byte first and the last DNA byte in OPT; ACKDETECT leaves
  the ASIC count 0 (MM4 ``main.c``).
- STATIC stops work generation and opens a job (its last words: pool difficulty, pool
  number); JOB_ID is the job tag; SET records the voltage word, takes the three MHz for
  the reported average and gives the nonce2 window; SET_VOLT (0x22) switches the MM40/41
  regulators, one word per miner; SET_FREQ (0x23) gives the chips their PLL words;
  FINISH (0x21) starts the job, each nonce2's work rolled over ntime offsets 0 .. the ASIC
  count - 1 (MM ``avalon4`` branch ``main.c``, checked against it by tests/firmware).  The
  MM50 firmware has no regulator shifter: its SET voltage stands.  The MM60's firmware is
  not public: SET applies voltage and clock at once, as before.
- STATUS frequency is the chips' average in plain MHz ((f0 + 4 f1 + 4 f2) / 9, api.c);
  power good is a bit per powered miner.
- A poll returns a queued nonce or the next of STATUS, STATUS_LW, STATUS_HW, STATUS_M;
  LW/HW counts are cleared when reported.
- NONCE carries the raw nonce: what the host's nNonce is, byte-swapped, plus the model's
  nonce correction (0x4000; 0 on the MM60), which the host subtracts.
"""

from __future__ import annotations


from firmware_protocols import PacketType as T
from firmware_protocols.errors import LimitError, PayloadError
from firmware_protocols.tables import NANO_PLL

from firmware_protocols.encodings import bswap32, celsius_to_ntc_adc
from ..models import ModelSpec
from .firmware import MMFirmware
from .work import JobIncomplete

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

TEST_CORE_COUNT = 64  # system_config.h: works per chip when TEST says 0
AVA4_DEFAULT_MODULES = 64  # system_config.h: SET's nonce2 range is split in 64
BOOT_MHZ = {"MM40": 200, "MM41": 200, "MM50": 100}  # system_config.h ASIC_FREQUENCY
ADC_12V = 327  # the MM60's 12 V rail in STATUS_M
TRIMMED_MEAN_MODELS = {"MM40", "MM41", "MM50"}  # twipwm.c read_temp
TEMP_TIME_S = 1.0  # system_config.h TEMP_TIME: a new sample at most once a second
BLADE_MODELS = {"MM40", "MM41"}  # shifter.c switches regulators only on these
PLL_FRAME_MODELS = {"MM40", "MM41", "MM50"}  # SET_FREQ in the public avalon4 firmware
FIRMWARE_DATE = "1507"  # MM4 version: prefix, YYMM, "-", git id, flags (15 chars)


class MM4Firmware(MMFirmware):
    @staticmethod
    def version_for(spec: ModelSpec, build: str) -> str:
        return f"{spec.version_prefix}{FIRMWARE_DATE}-4a27d610"[:15]

    def _power_on(self) -> None:
        super()._power_on()
        self.nonce2_window = (0, 0xFFFFFFFF)
        self.ntime_offset = self.spec.asic_count
        self.new_stratum = False
        self._ma_miner = 0
        self._temp_samples = [0] * 10
        self._next_sample: float | None = None
        self.tested_at: tuple[int, list[int]] | None = None
        # api.c g_asic_freq: main() sets ASIC_FREQUENCY for its power-on test
        boot = BOOT_MHZ.get(self.spec.name)
        self.set_mhz = [boot] * 3 if boot else list(self.physics.frequencies[0][:3])
        if self.spec.name in BLADE_MODELS or self.spec.name == "MM50":
            # boots with the voltage word ASIC_0V (MM50: until a SET gives it one)
            self.physics.voltage_levels = [0] * self.spec.miner_count

    @property
    def ack_asic_count(self) -> int:
        """The MM40/41/50 leave ACKDETECT's count field 0 (main.c); cgminer divides the
        MM60's STATUS frequency by it (driver-avalon4.c total_asics), so the emulated
        MM60 (firmware not public) gives its chip count."""
        return self.spec.total_asics if self.spec.name == "MM60" else 0

    def _static(self, pkt, broadcast):
        f = pkt.fields()
        self.new_stratum = False  # g_new_stratum = 0: no new work
        self.scanner.clear()
        self.jobs.begin({**f, "nonce2_start": 0, "nonce2_range": 0, "clean": 0})
        self.jobs.pool = f["pool"]
        return None

    def _job_id(self, pkt, broadcast):
        self.jobs.job_crc = pkt.fields()["job_crc"]
        return None

    def _regulators(self, word: int, what: str) -> int:
        """The level a voltage word switches the regulators to, as the firmware obeys any
        word; one this model must never be given is recorded in :attr:`unsafe_frames`."""
        try:
            return self.spec.check_voltage_word(word)
        except LimitError as exc:
            self.unsafe_frames.append(f"{what}: {exc}")
            return self.spec.voltage_codec.decode(word)

    def _set(self, pkt, broadcast):
        f = pkt.fields()
        if f["ntime_roll"] & 0x80000000:
            self.ntime_offset = f["ntime_roll"] & 0x7FFFFFFF
        level = self._regulators(f["voltage_word"], "SET")
        freqs = [f["frequencies"][k] for k in ("f0", "f1", "f2")]
        self.set_mhz = freqs
        if self.spec.name not in BLADE_MODELS:  # no shifter (MM50), or not public (MM60)
            self.physics.voltage_levels = [level] * self.spec.miner_count
        if self.spec.name not in PLL_FRAME_MODELS:
            self.physics.frequencies = [list(freqs) for _ in range(self.spec.miner_count)]
        self.nonce2_window = (f["nonce2_start"], f["nonce2_range"])
        self.set_fields = f
        self.settings_rounds += 1
        return None

    def _set_volt(self, pkt, broadcast):
        """set_voltage_i: each miner's word, straight to the blade regulators."""
        if self.spec.name not in BLADE_MODELS:
            return None
        codes = pkt.fields()["codes"][: self.spec.miner_count]
        self.physics.voltage_levels = [self._regulators(w, "SET_VOLT") for w in codes]
        return None

    def _set_freq(self, pkt, broadcast):
        """set_asic_freq_i: every chip runs the PLL words from its next work on."""
        if self.spec.name not in PLL_FRAME_MODELS:
            return None
        try:
            mhz = [NANO_PLL.mhz(w) for w in pkt.fields()["pll_words"]]
        except PayloadError:
            self.rx_bad_frames += 1
            return None
        self.physics.frequencies = [list(mhz) for _ in range(self.spec.miner_count)]
        return None

    def _set_fin(self, pkt, broadcast):
        """0x21 is FINISH on the MM4: the job is complete, start work."""
        if self.jobs.static is None:
            return None
        start, span = self.nonce2_window
        # main.c: module k starts at start + (range / 64) * k and goes on from there
        slice_ = span // AVA4_DEFAULT_MODULES
        start = (start + slice_ * (self.module_id or 0)) & 0xFFFFFFFF
        span = max(slice_ - 1, 0)
        self.jobs.static = {**self.jobs.static, "nonce2_start": start, "nonce2_range": span}
        try:
            job = self.jobs.finish()
        except JobIncomplete:
            self.rx_bad_frames += 1
            return None
        self.new_stratum = True
        # main.c: each nonce2's work is sent g_ntime_offset times, ntime rolled 0, 1, ...
        if self.spec.name != "MM60":  # (the MM60's firmware is not public)
            self.scanner.ntime_roll = max(self.ntime_offset - 1, 0)
        self.scanner.set_job(job)
        self._last_job = job
        return None

    def _test(self, pkt, broadcast):
        """AVA4_P_TEST (MM avalon4 main.c): the regulators to the frame's voltage word, the
        PLLs to its frequencies, the test (``core_count`` works per chip, 0 = 64), a
        TEST_RET per four chips of each miner and a summary (api.c
        api_asic_testcores); then voltage off and fan 10 %, as the firmware leaves it."""
        f = pkt.fields()
        spec, phys = self.spec, self.physics
        freqs = [f["frequencies"][k] for k in ("f0", "f1", "f2")]
        if not any(freqs):
            # set_asic_timeout divides by the highest frequency: the watchdog reboots it
            self.unsafe_frames.append("TEST at 0 MHz: the firmware divides by zero")
            self.reboot()
            return None
        level = self._regulators(f["voltage_word"], "TEST")
        cores = f["core_count"] or TEST_CORE_COUNT
        failed = 0
        for miner in range(spec.miner_count):
            counts = [0 if phys.chip_alive(miner, c) else cores for c in range(spec.asic_count)]
            failed += sum(counts)
            for first in range(0, spec.asic_count, 4):
                group = (counts[first : first + 4] + [0] * 4)[:4]
                data = bytes((miner,)) + b"".join(n.to_bytes(4, "big") for n in group)
                self.urgent.append(self._encode(T.TEST_RET, {"data": data.ljust(32, b"\0")}))
        total = spec.total_asics * cores
        summary = (total - failed).to_bytes(4, "big") + total.to_bytes(4, "big")
        self.urgent.append(self._encode(T.TEST_RET, {"data": summary.ljust(32, b"\0")}))
        self.tested_at = (level, freqs)  # what the chips were tested at
        phys.voltage_levels = [0] * spec.miner_count  # set_voltage(ASIC_0V) afterwards
        phys.frequencies = [list(freqs) for _ in range(spec.miner_count)]
        phys.fan_percent = 10
        return None

    _HANDLERS: dict[int, Callable[..., bytes | None]] = {
        **MMFirmware._HANDLERS,
        T.STATIC: _static,
        T.TEST: _test,
        T.JOB_ID: _job_id,
        T.SET: _set,
        T.SET_FIN: _set_fin,
        T.SET_VOLT: _set_volt,
        T.SET_FREQ: _set_freq,
    }

    # --- replies ---------------------------------------------------------------------------
    def _status_rotation(self) -> list:
        """MM4 main.c polling(): STATUS, STATUS_LW, STATUS_HW (MM50: and STATUS_MA).  The
        MM40/41/50 firmware never sends 0x48; the MM60's is not public, so its emulation
        keeps 0x48 with NTC readings."""
        rotation = [
            (lambda _: self._mm4_status(), None),
            (self._counts, T.STATUS_LW),
            (self._counts, T.STATUS_HW),
        ]
        if self.spec.name == "MM60":
            rotation.append((lambda _: self._status_m(), None))
        if self.spec.name == "MM50":
            rotation.append((lambda _: self._status_ma(), None))
        return rotation

    def _read_temp(self) -> int:
        """twipwm.c read_temp (MM40/41/50): a sample a second into the last ten, which
        start at 0 at power-on, reported as their mean without the highest and lowest
        (so the first seconds after boot read low)."""
        phys = self.physics
        if self.spec.name not in TRIMMED_MEAN_MODELS:
            return round(phys.mm_temp_c())
        now = phys.clock or 0.0
        if self._next_sample is None:
            self._next_sample = now
        for _ in range(len(self._temp_samples)):  # the main loop reads it all the time
            if now < self._next_sample:
                break
            self._temp_samples = self._temp_samples[1:] + [int(phys.mm_temp_c())]
            self._next_sample += TEMP_TIME_S
        if now >= self._next_sample:
            self._next_sample = now + TEMP_TIME_S
        s = self._temp_samples
        return int((sum(s) - max(s) - min(s)) / (len(s) - 2))

    def _status_ma(self) -> bytes:
        """STATUS_MA (MM50, main.c encode_pkg): a byte per chip of one miner, the miners
        in turn, the miner's index in OPT where other replies have the DNA byte.  The
        emulated chips make no hardware errors: every average is 0."""
        miner = self._ma_miner
        self._ma_miner = (miner + 1) % self.spec.miner_count
        data = bytes(self.spec.asic_count).ljust(32, b"\0")
        return self.wire_encode(T.STATUS_MA, data=data, opt=miner)

    def _mm4_status(self) -> bytes:
        spec, phys = self.spec, self.physics
        f0, f1, f2 = self.set_mhz
        errors, self._error_bits = self._error_bits, 0
        if spec.name != "MM60":
            errors = 0  # the MM40/41/50 firmware never sets its error code (main.c)
        powered = sum(1 << m for m, level in enumerate(phys.voltage_levels) if level)
        if spec.name == "MM50":
            powered = 0x3FF  # no regulator the firmware switches: its ten lines stay good
        return self._encode(
            T.STATUS,
            {
                "temperature_mm": self._read_temp(),
                "fan_rpm": phys.fan_rpm(),
                "frequency": round((f0 + f1 + f2) / 3 * spec.total_asics)
                if spec.name == "MM60"
                else (f0 + 4 * f1 + 4 * f2) // 9,
                "voltage_word": spec.voltage_codec.encode(phys.voltage_levels[0]),
                "local_works": sum(self._miner_works),
                "hw_errors": 0,
                "power_good": powered,
                "error_code": errors,
            },
        )

    def _counts(self, ptype) -> bytes:
        if ptype == T.STATUS_LW:
            counts, self._miner_works = self._miner_works, [0] * self.spec.miner_count
        else:
            counts = [0] * self.spec.miner_count
        counts = [min(c, 0xFFFFFF) for c in counts][:10]
        return self._encode(ptype, {"counts": counts + [0] * (10 - len(counts))})

    def _status_m(self) -> bytes:
        hottest = max(max(row) for row in self.physics.temps)
        # the 12 V rail at 327: 12.0 V as cgminer converts it (x 3.3 / 1023 x 11 + 0.4)
        adc = [celsius_to_ntc_adc(hottest)] * 4 + [ADC_12V, 0]
        return self._encode(T.STATUS_PMU, {"adc": adc, "led": self.led, "pll_select": [0] * 7})

    def _nonce_frame(self, found, nonce: int, job) -> bytes:
        raw = (bswap32(nonce) + self.spec.nonce_correction) & 0xFFFFFFFF
        return self._encode(
            T.NONCE,
            {
                "chip": found.chip,
                "miner": found.miner,
                "pool": job.pool,
                "nonce2": found.nonce2,
                "ntime_offset": found.ntime_offset,
                "nonce_raw": raw,
                "job_crc": job.job_crc,
            },
        )
