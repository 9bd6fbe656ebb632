"""The MM2/MM3 firmware (Avalon 2 and 3 modules) on a shared serial line, as the MM
``master`` branch and the hosts (cgminer ``driver-avalon2.c``, BFGMiner
``driver-avalonmm.c``) describe it; everything else as :class:`MMFirmware`.

- Its id is strapped in hardware (position - 1 on the line) and never changes; it answers
  DETECT, POLLING and TEST carrying that id, and obeys every job frame.
- 39-byte "AV" frames, CRC low byte first; every reply ends with the id.
- STATIC stops work and opens a job; the coinbase comes whole (or as a midstate when it is
  longer than 6144 bytes); SET gives fan, voltage, clock and the nonce2 window and starts
  the job, each module taking its quarter of the window (``main.c``: range / 4 x id).
- POLLING with d[24..27] non-zero applies fan, voltage and clock (``main.c``).
- NONCE carries the nonce byte-swapped plus 0x180 (the A3 firmware converts its chips'
  convention to the same offset), and ntime 0: this emulation does not roll ntime.
"""

from __future__ import annotations

from typing import Callable

from firmware_protocols import PacketType as T
from firmware_protocols.encodings import pwm_to_fan_percent

from ..bitcoin import sha256
from firmware_protocols.encodings import bswap32
from ..models import ModelSpec
from .firmware import MMFirmware
from .work import Job

LINE_PARTS = 4  # MM2 splits the nonce2 window in four, by id


class MM2Firmware(MMFirmware):
    @staticmethod
    def version_for(spec: ModelSpec, build: str) -> str:
        return f"{spec.version_prefix}1408-4a27d61"[:15]

    @property
    def wire_id(self) -> int:
        return self.position - 1

    def _power_on(self) -> None:
        super()._power_on()
        self.module_id = self.position  # strapped: the chain's id, for the bus
        self.scanner.ntime_roll = 0
        self.coinbase_chunks: dict[int, bytes] = {}

    def check_idle(self, now: float) -> None:
        pass  # a strapped id is never lost

    def _encode(self, ptype, fields=None, *, data=None, idx=1, cnt=1) -> bytes:
        if fields is not None:
            fields = {**fields, "module_id": self.wire_id}
        return self.wire_encode(ptype, fields, data=data, idx=idx, cnt=cnt)

    def _detect(self, pkt, broadcast):
        if pkt.fields()["module_id"] != self.wire_id:
            return None  # another module's DETECT
        return self._encode(T.ACKDETECT, {"version": self.version})

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
        self.led = f["led"]
        if f["apply"]:
            self._apply(f)
        return self._next_reply()

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
        f = pkt.fields()
        self._apply(f)
        job = self._assemble(f["nonce2_start"], f["nonce2_range"])
        if job is None:
            self.rx_bad_frames += 1
            return None
        self.scanner.set_job(job, part=self.wire_id, parts=LINE_PARTS)
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
        T.SYNC: MMFirmware._ignore,
    }

    def _status_rotation(self) -> list:
        return [(lambda _: self._mm2_status(), None)]

    def _mm2_status(self) -> bytes:
        phys = self.physics
        temps = [round(phys.mm_temp_c()), round(max(max(row) for row in phys.temps))]
        clock = phys.frequencies[0][0]
        works, self._miner_works = sum(self._miner_works), [0] * self.spec.miner_count
        return self._encode(
            T.STATUS,
            {
                "temperatures": temps,
                "fans_rpm": [phys.fan_rpm()] * 2,
                "frequency": round(clock * 65 / 768) if self.spec.name == "MM3" else clock,
                "voltage_word": self.spec.voltage_codec.encode(phys.voltage_levels[0]),
                "local_works": works,
                "hw_errors": 0,
                "power_good": 0xFF << 24,
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
