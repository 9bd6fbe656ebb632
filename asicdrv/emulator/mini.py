"""An Avalon4 mini stick (Avalon-nano firmware master b22b4ec, ``firmware/mini``:
``hid_main.c``, ``avalon_a3222.c``, ``avalon_shifter.c``): five A3222 in a shift chain on
SPI.

- WORK pairs queue works (eight deep; a full queue drops the new one).  Only when five
  are queued does the firmware clock them into the chain, one per chip, and latch them;
  while a batch goes in, the chips' registers come out, holding what each chip found for
  the work before last: a work's nonces arrive two batches after it (the firmware's own
  core test reads from its third batch on).  WORK d[8] rolls ntime: the firmware queues
  the work that many more times, each with ntime one later.
- At power-on it runs that core test on its golden work (id 0), which leaves its answers in
  the chips' registers: a batch clocked into unpowered chips brings five reports of id 0
  back.  Powering the chips on resets them (and clears that); so does TEST, which runs the
  golden work through every chip and answers per chip (TEST_RET), then powers them off.
- SET_VOLT (a voltage code, 0xff off; powering on resets the chips and re-sends their
  frequencies), SET_FREQ (three PLL words, OPT 0 all chips or chip OPT-1), GET_FREQ ->
  STATUS_FREQ (OPT as asked), SETM (SPI speed).  DETECT powers the chips off and empties
  the queues.
- 3 s without a frame: voltage off, every PLL word 0, queues emptied.  Copper NTC at or
  below ADC 200 (66 degC): the same, and SET_VOLT/SET_FREQ/WORK are ignored until it
  reads 230 (60 degC) again.
- STATUS_M: SPI speed, LED state, -1, voltage code, the 12 V ADC, the copper and fan-side
  NTC ADCs, power good.
"""

from __future__ import annotations

from collections import deque

from firmware_protocols import PacketType as T
from firmware_protocols.encodings import celsius_to_ntc_adc

from .stick import IDLE_TIME_S, NO_NONCE, StickDevice

CHIPS = 5
WORK_QUEUE = 8  # A3222_WORK_CNT
REPORT_QUEUE = 12  # A3222_REPORT_CNT
SLOTS = 8  # nonces a chip reports per work
ADC_CUT, ADC_RESUME = 200, 230  # defines.h: 66 degC, 60 degC
VOLTAGE_OFF = 0xFF  # ASIC_0V
SPI_DEFAULT = 1_000_000
V12_ADC = 744  # the 12 V rail through its divider
TEST_ROUNDS = 16  # TEST_CORE_COUNT
GOLDEN_NONCE = 0xA2870100  # the golden work's nonce (testcores expects 0x0001c7a2 raw)
LED_PG, LED_IDLE, LED_HOT = 0xFF00, 0xFF, 0x200FF00

__all__ = ["MiniDevice"]


class _Chip:
    """One A3222: the work it hashes, what it found, and its shift register."""

    def __init__(self):
        self.work: tuple | None = None  # (id bytes, midstate, tail, ntime, done)
        self.found: list[int] = []
        self.register: tuple[bytes, int, int, list[int]] | None = None  # id, chip, ntime


class MiniDevice(StickDevice):
    def _power_on(self) -> None:
        super()._power_on()
        self.works: deque = deque()
        self.nonces: deque = deque()  # 16-byte NONCE_M reports, as the firmware queues them
        self.chips = [_Chip() for _ in range(CHIPS)]
        self.freq_words = [[0, 0, 0] for _ in range(CHIPS)]  # hid_main.c g_freq
        self.spi = SPI_DEFAULT
        self.voltage = VOLTAGE_OFF
        self.too_hot = self.idle = False
        self._spare = 0  # hashes not yet shared out among the chips
        self.physics.voltage_levels = [0]
        self._boot_test()

    def _reset_chips(self) -> None:
        """The chips' reset line: no work, nothing in their registers."""
        self.chips = [_Chip() for _ in range(CHIPS)]

    def _boot_test(self) -> None:
        """coretest_main: the golden work in every chip, its answer in every register."""
        for c, chip in enumerate(self.chips):
            chip.register = (bytes(6), c, 0, [GOLDEN_NONCE])
            chip.work = None
            chip.found = [GOLDEN_NONCE]

    # --- settings ---------------------------------------------------------------------------
    def _set_voltage(self, code: int) -> None:
        """set_voltage: a change from off resets the chips and re-sends their PLLs."""
        if code == self.voltage:
            return
        powering_on = self.voltage == VOLTAGE_OFF and code != VOLTAGE_OFF
        self.voltage = code
        level = 0 if code == VOLTAGE_OFF else self.spec.voltage_codec.decode(code)
        if level:
            self.spec.check_voltage_level(level)
        self.physics.voltage_levels = [level]
        if powering_on:  # hid_main.c: a power-on resets the chips (a3222_reset)
            self._reset_chips()
            self._apply_freq()

    def _apply_freq(self) -> None:
        words = self.freq_words[0] if self.voltage != VOLTAGE_OFF else [0, 0, 0]
        mhz = []
        for w in words:
            try:
                mhz.append(self.spec.pll_table.mhz(w) if w not in (0, 1) else 0)
            except ValueError:
                mhz.append(0)
        self.physics.frequencies = [mhz]

    def _power_down(self) -> None:
        """prcess_idle: voltage off, every PLL word 0, queues emptied."""
        self._set_voltage(VOLTAGE_OFF)
        self.freq_words = [[0, 0, 0] for _ in range(CHIPS)]
        self._apply_freq()
        self.works.clear()
        self.nonces.clear()
        self.replies.clear()

    # --- the wire ---------------------------------------------------------------------------
    def _handle(self, pkt) -> bytes | None:
        self.idle = False
        if pkt.type == T.DETECT:
            self._set_voltage(VOLTAGE_OFF)
            self.works.clear()
            self.nonces.clear()
            self.replies.clear()
            return self._ackdetect()
        if pkt.type == T.POLLING:
            return self._poll_reply()
        if pkt.type == T.RSTMMTX:  # GET_FREQ
            chip = pkt.opt - 1 if pkt.opt else 0
            words = self.freq_words[chip] if chip < CHIPS else [0, 0, 0]
            return self._encode(T.STATUS_LW, {"pll_words": words}, opt=pkt.opt)
        if pkt.type == T.SET_PLL:  # SETM
            spi = pkt.fields()["spi"]
            if spi & 0x80000000:
                self.spi = spi & 0x7FFFFFFF
            return None
        if pkt.type == T.TEST:
            self._test(pkt.fields())
            return None
        if self.too_hot:  # SET_VOLT, SET_FREQ and WORK wait for the copper to cool
            return None
        if pkt.type == T.SET_VOLT:
            self._set_voltage(pkt.fields()["voltage_code"])
        elif pkt.type == T.SET_FREQ:
            words = list(pkt.fields()["pll_words"])
            for chip in range(CHIPS) if pkt.opt == 0 else [pkt.opt - 1]:
                if chip < CHIPS:
                    self.freq_words[chip] = words
            self._apply_freq()
        elif pkt.type == T.SET_PMU:  # WORK
            work = self._work_half(pkt)
            if work is not None:
                work_id, midstate, tail, roll = work
                for ntime in range(roll + 1):
                    if len(self.works) < WORK_QUEUE:
                        self.works.append((work_id, midstate, tail, ntime))
                self._clock_in()
        else:
            self.ignored[pkt.type] += 1
        return None

    def _test(self, f: dict) -> None:
        """AVAM_P_TEST: the chips at the frame's voltage code and PLL words, the golden work
        through every chip for ``core_count`` rounds (0: 16), the answers as testcores
        sends them (chips 0-3; chip 4 with chips 1-3's counts left in the other slots; the
        works passed and all works), then the chips off.  A dead chip fails every round."""
        rounds = f["core_count"] or TEST_ROUNDS
        self._set_voltage(f["voltage_code"] & 0xFF)
        self.works.clear()
        self.nonces.clear()
        self._reset_chips()
        failed = [0 if self.physics.chip_alive(0, c) else rounds for c in range(CHIPS)]
        slots = [0] * 4
        for group in range(0, CHIPS, 4):
            for c in range(group, min(group + 4, CHIPS)):
                slots[c % 4] = failed[c]
            data = bytes(1) + b"".join(n.to_bytes(4, "big") for n in slots)
            self.replies.append(self._encode(T.TEST_RET, {"data": data.ljust(32, b"\0")}))
        passed = CHIPS * rounds - sum(failed)
        summary = passed.to_bytes(4, "big") + (CHIPS * rounds).to_bytes(4, "big")
        self.replies.append(self._encode(T.TEST_RET, {"data": summary.ljust(32, b"\0")}))
        self._set_voltage(VOLTAGE_OFF)

    def _poll_reply(self) -> bytes:
        if self.nonces:
            reports: list[bytes] = []
            while self.nonces and len(reports) < 2:
                report = self.nonces.popleft()[:12]  # then the rings' counts, as now
                reports.append(report + bytes((0xFF, 0, len(self.works), len(self.nonces))))
            return self._nonce_m(reports + [NO_NONCE])
        phys = self.physics
        copper = celsius_to_ntc_adc(max(phys.temps[0]))
        fan_side = celsius_to_ntc_adc(phys.ambient_c + (max(phys.temps[0]) - phys.ambient_c) / 2)
        powered = self.voltage != VOLTAGE_OFF
        led = LED_HOT if self.too_hot else (LED_IDLE if self.idle else (LED_PG if powered else 0))
        words = [self.spi, led, 0xFFFFFFFF, self.voltage, V12_ADC, copper, fan_side, int(powered)]
        return self._encode(T.STATUS, {"words": words})

    # --- the chips ----------------------------------------------------------------------------
    def _clock_in(self) -> None:
        """a3222_process: five works into the chain, the registers out, then LOAD."""
        while len(self.works) >= CHIPS:
            self._hash(self.clock())
            batch = [self.works.popleft() for _ in range(CHIPS)]
            # the registers shift out from the far end of the chain; a chip's repeated
            # nonce is reported once (a3222_process_spi's last_nonce)
            for chip in reversed(self.chips):
                if chip.register is None:
                    continue
                work_id, c, ntime, found = chip.register
                for nonce in dict.fromkeys(found):
                    if len(self.nonces) < REPORT_QUEUE:
                        self.nonces.append(self._nonce_report(work_id, c, ntime, nonce))
            # the first work pushed goes to the far end of the chain (asic index 4)
            powered = self.voltage != VOLTAGE_OFF  # unpowered chips latch no result
            for c, chip in enumerate(self.chips):
                work = batch[CHIPS - 1 - c]
                old = chip.work
                found = chip.found[:SLOTS] if powered else []
                chip.register = (old[0], c, old[3], found) if old else None
                if old is None and chip.found:  # the boot test's golden work
                    chip.register = (bytes(6), c, 0, found)
                chip.work, chip.found = (*work, 0), []

    def _firmware(self, now: float) -> None:
        if self.last_frame is not None and now - self.last_frame > IDLE_TIME_S and not self.idle:
            self._power_down()
            self.idle = True
        copper = celsius_to_ntc_adc(max(self.physics.temps[0]))
        if not self.too_hot and copper <= ADC_CUT:
            self._power_down()
            self.too_hot = True
        elif self.too_hot and copper >= ADC_RESUME:
            self.too_hot = False

    def advance(self, now: float) -> None:
        with self.lock:
            self._firmware(now)
            self.physics.advance(now)
            self._hash(now)

    def _hash(self, now: float) -> None:
        """The chips' work up to ``now`` (also just before a batch replaces it, so a busy
        host machine costs the emulated chips no hashes)."""
        budget = self._budget(now)
        working = [c for c in self.chips if c.work is not None]
        if self.voltage == VOLTAGE_OFF or not working:
            return
        self._spare += budget
        share = self._spare // len(working)
        self._spare -= share * len(working)
        for c, chip in enumerate(self.chips):
            if chip.work is None or not self.physics.chip_alive(0, c):
                continue
            work_id, midstate, tail, ntime, done = chip.work
            count = min(share, self.nonces_per_work - done)
            chip.found.extend(self._solutions(midstate, tail, done, count, ntime))
            chip.work = (work_id, midstate, tail, ntime, done + count)
