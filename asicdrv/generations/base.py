"""The base of every generation plug-in: the Avalon 8's frames (cgminer
``driver-avalon8.c``), which the other generations override where they differ.

:class:`~asicdrv.device.chain.Chain` asks a module's generation for its configuration
frames, its job frames, how to read a NONCE and which readings class folds its status; it
never branches on a model.  The emulator has its own reading of the frames (host and device
share only the wire definitions in :mod:`firmware_protocols` and the model table).
Sources: ``docs/families.md`` and the cgminer drivers named there.

Frame builders take the module's runtime (``rt``: its spec, the host's frequencies and
voltage levels, cutoff and idle flags, and ``rt.options``, the chain's SET options:
``nonce_mask``, ``smart_speed``, ``roll_enable``), so what they build is what the module
should run now: a cutoff or an idle module gets its model's idle PLLs.
"""

from __future__ import annotations

from functools import cached_property

from firmware_protocols import PacketType as T, decode_packet, encode_packet
from firmware_protocols.dialects import DIALECTS, Dialect
from firmware_protocols.encodings import asic_timeout

from ..bitcoin.core import target_for_difficulty, target_to_bytes_le
from ..device.jobs import build_job_packets
from ..models import ModelSpec, model_for_version
from ..device.status import ModuleReadings
from ..mining.stratum import MERKLE_OFFSET, StratumJob


def effective_frequencies(rt, miner: int) -> list[int]:
    return rt.spec.idle_frequencies if rt.cutoff or rt.idle else rt.frequencies[miner]


class Generation:
    """The Avalon 8 (cgminer ``driver-avalon8.c``); other generations override."""

    name = "avalon8"
    job_family = "avalon7+"  # modules of one family can share a chain's jobs
    sends_sync = True  # SYNC after ACKDETECT (A7 and later)
    sends_asic_otp = True  # SET_ASIC_OTP in the configuration burst
    max_volt_words = 8
    readings_class = ModuleReadings
    max_modules = 6  # ids 1..6 on an AUC or an I2C bus
    adopts_addresses = True  # the MM takes its id from DETECT (and may keep it)
    settings_ride_on_poll = False  # True: settings go out with the module's next poll
    # True: any DETECT on the line stops every module's hashing until its next job (the
    # MM2/MM3 firmware): no periodic DETECT while all are present, the job again after one
    detect_stops_line = False
    status_carries_settings = False  # True: a running board's settings are read, not reset
    detect_patience_s: float | None = None  # how long a DETECT's answer may take (None: 80 ms)

    @property
    def dialect(self) -> Dialect:
        return DIALECTS[self.name]

    def encode(self, ptype: int, fields=None, **kw) -> bytes:
        return encode_packet(ptype, fields, dialect=self.dialect, **kw)

    @cached_property
    def plain_poll(self) -> bytes:
        """POLLING with nothing to change (no LED, fan or reboot)."""
        return self.encode(T.POLLING, {})

    def new_state(self):
        """What the host keeps per module for this generation's frames (``rt.wire``)."""
        return None

    # --- host -> MM: detection and polling ------------------------------------------------
    def model_for(self, version: str) -> ModelSpec:
        """The model an ACKDETECT version names (DeviceNotFound if none)."""
        return model_for_version(version)

    def detect_frame(self, module_id: int) -> bytes:
        return self.encode(T.DETECT, {"module_id": module_id})

    def ack_is_for(self, module_id: int, fields: dict) -> bool:
        """Whether an ACKDETECT answers the DETECT of ``module_id`` (where ids are
        strapped, it says whose it is)."""
        return True

    def identity(self, module_id: int, fields: dict) -> str:
        """The module's unique id as shown and deduplicated (the DNA)."""
        return fields["dna"].hex()

    def sync_frame(self, fields: dict) -> bytes:
        return self.encode(T.SYNC, {"dna": fields["dna"]})

    def poll_frame(self, rt, *, led: bool, fan_pwm: int | None, reboot: bool) -> bytes:
        """POLLING: the LED word, the fan word (bit 31 = change it), the reboot byte."""
        if not (led or reboot) and fan_pwm is None:
            return self.plain_poll  # most polls: built once
        fields: dict = {"led": int(led)}
        if fan_pwm is not None:
            fields["fan"] = {"change": True, "pwm": fan_pwm}
        if reboot:
            fields["reboot"] = 1
        return self.encode(T.POLLING, fields)

    def reset_tx_frame(self, rt) -> bytes | None:
        """RSTMMTX after a failed poll (None: the generation has none)."""
        return self.encode(T.RSTMMTX, {})

    chip_test_seconds = 5.0  # how long a chip test may take before results are due
    test_results_unasked = False  # True: TEST_RET frames come unasked, not as poll replies

    def pause_after(self, rt, frame: bytes) -> float:
        """Seconds the module is deaf after this frame (the host waits before the next)."""
        return 0.0

    def pre_test_frame(self, rt) -> bytes | None:
        """A frame that readies the module for its chip test (None: nothing to do)."""
        return None

    def test_frame(self, rt) -> bytes | None:
        """TEST for every miner (None: the generation has no chip test)."""
        return self.encode(T.TEST, {"miner": 0xFF})

    # --- the last check before a frame leaves -------------------------------------------------
    def voltage_words(self, ptype: int, fields: dict, spec: ModelSpec) -> list[int]:
        """The voltage words a host frame of this type carries (for :func:`check_frame`)."""
        if ptype == T.SET_VOLT:
            return list(fields["voltage_words"][: spec.miner_count])
        return []

    @cached_property
    def voltage_wire_codes(self) -> frozenset[int]:
        """Wire codes of the host frames that can carry a voltage word."""
        return frozenset(self.dialect.wire_code(t) for t in self.voltage_frame_types)

    voltage_frame_types: tuple[int, ...] = (T.SET_VOLT,)

    def check_frame(self, spec: ModelSpec, frame: bytes) -> None:
        """Refuse (LimitError) a frame whose voltage word this model may not be sent:
        whatever built it, a word outside the model's range (or its off word) never
        reaches a regulator."""
        if len(frame) < 3 or frame[2] not in self.voltage_wire_codes:
            return
        pkt = decode_packet(frame, from_device=False, dialect=self.dialect)
        for word in self.voltage_words(pkt.type, pkt.fields(), spec):
            spec.check_voltage_word(word)

    def from_another_module(self, rt, pkt) -> bool:
        """cgminer's duplicate-address check: a STATUS whose OPT is not the module's last
        DNA byte came from another module at the same address."""
        return pkt.type == T.STATUS and pkt.opt != int(rt.info.dna[-2:], 16)

    # --- host -> MM: configuration ---------------------------------------------------------
    def set_frame(self, rt) -> bytes:
        spec, options = rt.spec, rt.options
        return self.encode(
            T.SET,
            {
                "freq_sel": spec.freq_sel,
                "nonce_mask": options.nonce_mask or spec.nonce_mask,
                "flags": {
                    "smart_speed": options.smart_speed,
                    "nonce_check": True,
                    "roll_enable": options.roll_enable,
                },
                "mux_l2h": spec.mux_l2h,
                "mux_h2l": spec.mux_h2l,
                "h2ltime0_spd": spec.h2ltime0_spd,
                "spdlow": spec.spdlow,
                "spdhigh": spec.spdhigh,
            },
        )

    def volt_fields(self, spec: ModelSpec, levels: list[int]) -> dict:
        words = [spec.voltage_word(level) for level in levels]
        return {"voltage_words": words + [0] * (self.max_volt_words - len(words))}

    def volt_frames(self, rt) -> list[bytes]:
        return [self.encode(T.SET_VOLT, self.volt_fields(rt.spec, rt.voltage_levels))]

    def pll_fields(self, spec: ModelSpec, miner: int, plls: list[int]) -> dict:
        return {
            "pll_words": [spec.pll_table.word(f) for f in plls],
            "pll_param": 100,
            "asic_timeout": asic_timeout(plls),
        }

    def pll_frames(self, rt, miners) -> list[bytes]:
        spec = rt.spec
        return [
            self.encode(
                T.SET_PLL,
                self.pll_fields(spec, m, effective_frequencies(rt, m)),
                idx=m + 1,
                cnt=spec.miner_count,
            )
            for m in miners
        ]

    def ss_frame(self, spec: ModelSpec) -> bytes:
        return self.encode(
            T.SET_SS,
            {
                "th_pass": spec.th_pass,
                "th_fail": spec.th_fail,
                "th_init": spec.th_init,
                "th_ms": spec.th_ms,
                "th_timeout": spec.th_timeout,
                "th_add": spec.th_add,
            },
        )

    # percent points the fan PID must move before its duty is sent (0: every step goes)
    fan_dead_band = 0

    def resend_settings(self, rt) -> None:
        """A generation whose settings ride on the poll: the next poll carries them."""
        rt.fan_pending = True

    def settings_burst(self, rt) -> list[bytes]:
        """cgminer's order: SET, SET_VOLT, SET_ASIC_OTP (A8 and later), SET_PLL per miner,
        SET_SS (smart speed on), SET_FIN.  Voltage is left alone when a level is unknown
        (adopted from a running board)."""
        spec = rt.spec
        frames = [self.set_frame(rt)]
        if all(level is not None for level in rt.voltage_levels):
            frames += self.volt_frames(rt)
        if self.sends_asic_otp:
            frames.append(self.encode(T.SET_ASIC_OTP, {}))
        frames += self.pll_frames(rt, range(spec.miner_count))
        if rt.options.smart_speed:
            frames.append(self.ss_frame(spec))
        frames.append(self.encode(T.SET_FIN, {}))
        return frames

    # --- host -> MM: jobs --------------------------------------------------------------------
    def job_frames(
        self,
        job: StratumJob,
        modules,
        *,
        nonce2_start: int,
        nonce2_range: int | None,
        clean: bool,
        pool: int,
        send_job_id: bool,
        difficulty_cap: int,
    ) -> list[tuple[int, bytes]]:
        """(address, frame) pairs; address 0 is the broadcast."""
        return [
            (0, f)
            for f in build_job_packets(
                job,
                nonce2_start=nonce2_start,
                nonce2_range=nonce2_range,
                clean=clean,
                pool=pool,
                send_job_id=send_job_id,
                difficulty_cap=difficulty_cap,
            )
        ]

    def settings_lost(self, rt) -> bool:
        """Whether the module dropped its settings by itself and must be sent them again
        before more work (the 4-mini); the base generations keep them."""
        return False

    def poll_due(self, rt) -> bool:
        """Whether the module may be polled now (a nano being idled must hear nothing)."""
        return True

    def work_frames(self, rt) -> list[bytes]:
        """Frames to send before the next poll (the nano's work; MM generations: none)."""
        return []

    # --- MM -> host ---------------------------------------------------------------------------
    def nonces(self, rt, pkt) -> list[dict]:
        """A NONCE in the verifier's terms (``nonce`` = the header's nNonce)."""
        return [pkt.fields()]


def job_head(generation, job, pool: int, difficulty: int, cap: float) -> list[bytes]:
    """STATIC (ending with the pool difficulty and number), TARGET, JOB_ID (the bare tag,
    with every job): how the Avalon 4 and the Avalon 2/3 open a job."""
    target = target_for_difficulty(min(job.difficulty, cap))
    return [
        generation.encode(
            T.STATIC,
            {
                "coinbase_len": job.coinbase_len,
                "nonce2_offset": job.nonce2_offset,
                "nonce2_size": job.mm_nonce2_size,
                "merkle_offset": MERKLE_OFFSET,
                "merkle_count": len(job.merkle_branch),
                "difficulty": difficulty,
                "pool": pool,
            },
        ),
        generation.encode(T.TARGET, {"target": target_to_bytes_le(target)}),
        generation.encode(T.JOB_ID, {"job_crc": job.job_crc}),
    ]
