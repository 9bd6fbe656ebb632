"""The MM2/MM3 firmware (Avalon 2 and 3 modules) on a shared serial line, as the MM
``master`` branch and the hosts (cgminer ``driver-avalon2.c``, BFGMiner
``driver-avalonmm.c``) describe it; everything else as :class:`MMFirmware`.

- Its id is strapped in hardware (position - 1 on the line) and never changes; it answers
  DETECT, POLLING, REQUIRE (code 18) and TEST carrying that id, and obeys every job frame.
- 39-byte "AV" frames, CRC low byte first; every reply ends with the id.
- Any DETECT, whatever its id, stops the module's work until the next SET (``main.c``
  clears ``g_new_stratum``); so does a STATIC.
- STATIC opens a job; the coinbase comes whole (or as a midstate when it is longer than
  6144 bytes); SET gives fan, voltage, clock and the nonce2 window and starts the job,
  each module taking its share of the window (range / 4 x id on the MM3 branch,
  range / 3 x id on the MM2 branch: ``AVA2_DEFAULT_MODULES``).
- SET is ignored while either sensor reads 90 C or more; at 90 C on both the module idles
  itself (voltage off, fan 0x1ff) until the next SET (``main.c`` ``IDLE_TEMP``).
- POLLING answers first (a NONCE if one is queued, else STATUS), then applies the
  settings of a POLLING whose d[24..27] is non-zero: the next STATUS shows them.  The
  firmware then flushes its chips' FIFO (results not yet read are lost); here every
  result is read as it is found, so there is nothing in that FIFO to lose.
- STATUS: the clock in MHz as set, the voltage word, works since the last STATUS, and the
  five power-good lines in the low bits (all set while the regulators are on).
- NONCE carries the nonce byte-swapped plus 0x180 (the A3 firmware converts its chips'
  convention to the same offset), and ntime 0: the firmware does not roll ntime.
Checked field by field against the vendor firmware by tests/firmware.
"""

from __future__ import annotations


from firmware_protocols import PacketType as T
from firmware_protocols.encodings import pwm_to_fan_percent

from ..bitcoin import sha256
from firmware_protocols.encodings import bswap32
from ..models import ModelSpec
from .firmware import MMFirmware
from .work import Job

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

IDLE_TEMP_C = 90  # main.c IDLE_TEMP
TEST_SECONDS = 1.0  # the emulated chip test (the firmware's takes about 47 s on an MM3)
TEST_CHIPS = {"MM2": 7, "MM3": 10}  # system_config.h ASIC_COUNT
BOOT_MHZ = {"MM2": 1500, "MM3": 400}
BUILD_DATES = {"MM2": "201401", "MM3": "331408"}  # ASIC_FREQUENCY: the clock before any setting
TEST_CORES = {"MM2": 128, "MM3": 768}  # cores tested per chip (alink.c)
POWER_GOOD_BITS = 0x1F


def line_parts(spec: ModelSpec) -> int:
    """How the firmware splits the nonce2 window between the line's modules."""
    return 3 if spec.name == "MM2" else 4


class MM2Firmware(MMFirmware):
    @staticmethod
    def version_for(spec: ModelSpec, build: str) -> str:
        # the branches' Makefiles: MM_VERSION "201401-<commit>" (MM2), "331408-<commit>" (MM3)
        return f"{BUILD_DATES.get(spec.name, spec.version_prefix + '1408')}-4a27d61"[:15]

    @property
    def wire_id(self) -> int:
        return self.position - 1

    def _power_on(self) -> None:
        super()._power_on()
        self.module_id = self.position  # strapped: the chain's id, for the bus
        self.scanner.ntime_roll = 0
        self.coinbase_chunks: dict[int, bytes] = {}
        self.testing_until = 0.0
        self.unasked: list[bytes] = []
        # the firmware boots with the regulators off (ASIC_0V) at its built-in clock
        self.physics.voltage_levels = [0] * self.spec.miner_count
        mhz = BOOT_MHZ.get(self.spec.name, self.spec.default_frequencies_mhz[0])
        self.physics.frequencies = [[mhz] for _ in range(self.spec.miner_count)]
        self._now = 0.0

    def check_idle(self, now: float) -> None:
        pass  # a strapped id is never lost

    def receive(self, frame: bytes, *, broadcast: bool, now: float) -> bytes | None:
        self._now = now
        if now < self.testing_until:
            return None  # busy with the chip test: deaf and silent (main.c)
        return super().receive(frame, broadcast=broadcast, now=now)

    def take_unasked(self, now: float) -> list[bytes]:
        """Frames sent without a request: the chip test's results once it is over."""
        if not self.unasked or now < self.testing_until:
            return []
        frames, self.unasked = self.unasked, []
        return frames

    def _test(self, pkt, broadcast):
        """alink.c alink_asic_test: every core of every chip; one TEST_RET per miner with
        the failed-core count of each chip, sent unasked when the test ends.  The model
        counts a miner as one hashing unit: its chip 0 is the physics' chip.  A test sent
        while hashing reads the hash work still queued (the firmware does not flush it):
        every core fails."""
        if pkt.fields()["module_id"] != self.wire_id:
            return None
        chips = TEST_CHIPS.get(self.spec.name, 10)
        dead = min(TEST_CORES.get(self.spec.name, 768), 255)  # the MM3 caps counts at 255
        hashing = self.scanner.job is not None  # its queued work answers the test: all fail
        self.scanner.clear()  # the test leaves the board unpowered until the next SET
        for m in range(self.spec.miner_count):
            failed = [0 if self.physics.chip_alive(m, 0) and not hashing else dead]
            failed += [dead if hashing else 0] * (chips - 1)
            data = bytes([m + 1, *failed]).ljust(28, b"\0") + self.wire_id.to_bytes(4, "big")
            self.unasked.append(self._encode(T.TEST_RET, data=data))
        self.testing_until = self._now + TEST_SECONDS
        self.physics.voltage_levels = [0] * self.spec.miner_count
        return None

    def _encode(self, ptype, fields=None, *, data=None, idx=1, cnt=1) -> bytes:
        if fields is not None:
            fields = {**fields, "module_id": self.wire_id}
        return self.wire_encode(ptype, fields, data=data, idx=idx, cnt=cnt)

    detect_takes_address = False  # every module on the line hears every DETECT

    def _detect(self, pkt, broadcast):
        self.scanner.clear()  # whatever the id: hashing stops until the next SET
        if pkt.fields()["module_id"] != self.wire_id:
            return None  # another module's DETECT
        return self._encode(T.ACKDETECT, {"version": self.version})

    def _require(self, pkt, broadcast):
        if pkt.fields()["module_id"] != self.wire_id:
            return None
        return self._mm2_status()

    def _temperatures(self) -> list[int]:
        phys = self.physics
        return [round(phys.mm_temp_c()), round(max(max(row) for row in phys.temps))]

    def advance(self, now: float) -> None:
        super().advance(now)
        if self.scanner.job is not None and min(self._temperatures()) >= IDLE_TEMP_C:
            self.scanner.clear()  # too hot on both sensors: idle until the next SET
            self.physics.voltage_levels = [0] * self.spec.miner_count
            self.physics.fan_percent = pwm_to_fan_percent(0x1FF)

    def _apply(self, f: dict) -> None:
        level = self.spec.voltage_codec.decode(f["voltage_word"])
        if level:
            self.spec.check_voltage_level(level)
        self.spec.check_frequencies(f["frequency"])
        self.physics.fan_percent = pwm_to_fan_percent(f["fan_pwm"])
        self.physics.voltage_levels = [level] * self.spec.miner_count
        self.physics.frequencies = [[f["frequency"]] for _ in range(self.spec.miner_count)]

    def _polling(self, pkt, broadcast):
        f = pkt.fields()
        if f["module_id"] != self.wire_id:
            return None
        reply = self._next_reply()  # answered before the settings are applied
        if f["apply"]:
            self._apply(f)
        self.led = f["led"]
        return reply

    def _next_reply(self) -> bytes:
        """main.c polling(): a queued NONCE first, else STATUS."""
        if self.urgent:
            return self.urgent.popleft()
        if self.nonces:
            self.nonces_sent += 1
            return self.nonces.popleft()
        return self._mm2_status()

    def _static(self, pkt, broadcast):
        f = pkt.fields()
        self.scanner.clear()
        self.jobs.begin({**f, "nonce2_start": 0, "nonce2_range": 0, "clean": 0})
        self.jobs.pool = f["pool"]
        self.coinbase_chunks = {}
        return None

    def _job_id(self, pkt, broadcast):
        self.jobs.job_crc = pkt.fields()["job_crc"]
        return None

    def _coinbase(self, pkt, broadcast):
        if not 1 <= pkt.idx <= pkt.cnt:
            raise IndexError(pkt.idx)
        self.coinbase_chunks[pkt.idx] = pkt.data
        self.jobs.coinbase_count = pkt.cnt
        return None

    def _set(self, pkt, broadcast):
        if max(self._temperatures()) >= IDLE_TEMP_C:
            return None  # main.c: SET is ignored while too hot
        f = pkt.fields()
        self._apply(f)
        job = self._assemble(f["nonce2_start"], f["nonce2_range"])
        if job is None:
            self.rx_bad_frames += 1
            return None
        self.scanner.set_job(job, part=self.wire_id, parts=line_parts(self.spec))
        self._last_job = job
        return None

    def _assemble(self, start: int, span: int) -> Job | None:
        """The job from STATIC .. HEADER: the whole coinbase from IDX 1 when it fits,
        else the midstate scheme of later generations."""
        jobs, s = self.jobs, self.jobs.static
        count = jobs.coinbase_count
        if (
            s is None
            or sorted(self.coinbase_chunks) != list(range(1, count + 1))
            or sorted(jobs.header) != [1, 2, 3, 4]
            or sorted(jobs.merkles) != list(range(1, s["merkle_count"] + 1))
        ):
            return None
        chunks = b"".join(self.coinbase_chunks[i] for i in range(1, count + 1))
        prehash = s["nonce2_offset"] - s["nonce2_offset"] % 64
        whole = len(chunks) - s["coinbase_len"] < 32
        if whole:
            coinbase = chunks[: s["coinbase_len"]]
            midstate, tail = sha256.midstate(coinbase[:prehash]), coinbase[prehash:]
        else:
            midstate, tail = chunks[:32], chunks[32 : 32 + s["coinbase_len"] - prehash]
        if len(tail) != s["coinbase_len"] - prehash:
            return None
        return Job(
            s["coinbase_len"],
            s["nonce2_offset"],
            s["nonce2_size"],
            s["merkle_count"],
            start,
            span,
            False,
            jobs.target,
            jobs.job_crc,
            jobs.pool,
            midstate,
            tail,
            [jobs.merkles[i] for i in range(1, s["merkle_count"] + 1)],
            b"".join(jobs.header[i] for i in range(1, 5)),
        )

    _HANDLERS: dict[int, Callable[..., bytes | None]] = {
        **MMFirmware._HANDLERS,
        T.DETECT: _detect,
        T.POLLING: _polling,
        T.STATIC: _static,
        T.JOB_ID: _job_id,
        T.COINBASE: _coinbase,
        T.SET: _set,
        T.SYNC: _require,  # code 18 is REQUIRE in this firmware
        T.TEST: _test,
    }

    def _status_rotation(self) -> list:
        return [(lambda _: self._mm2_status(), None)]

    def _mm2_status(self) -> bytes:
        phys = self.physics
        works, self._miner_works = sum(self._miner_works), [0] * self.spec.miner_count
        powered = bool(phys.voltage_levels[0])
        return self._encode(
            T.STATUS,
            {
                "temperatures": self._temperatures(),
                "fans_rpm": [phys.fan_rpm()] * 2,
                "frequency": phys.frequencies[0][0],
                "voltage_word": self.spec.voltage_codec.encode(phys.voltage_levels[0]),
                "local_works": works,
                "hw_errors": 0,
                "power_good": POWER_GOOD_BITS if powered else 0,
            },
        )

    def _nonce_frame(self, found, nonce: int, job) -> bytes:
        raw = (bswap32(nonce) + self.spec.nonce_correction) & 0xFFFFFFFF
        return self._encode(
            T.NONCE,
            {
                "miner": found.miner,
                "pool": job.pool,
                "nonce2": found.nonce2,
                "ntime_offset": found.ntime_offset,
                "nonce_raw": raw,
                "job_crc": job.job_crc,
            },
        )
