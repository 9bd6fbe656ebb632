"""An Avalon nano 2 stick (Avalon-nano firmware master b22b4ec, ``firmware/nano``:
``hid_main.c``, ``avalon_a3233.c``, ``hid_uart.c``): one A3233 behind a UART.

- It obeys DETECT, WORK and POLLING only; any other frame is ignored (though its good CRC
  re-arms the idle timer).
- WORK powers the chip on at a fixed 0.675 V and the clock of its own thermal loop (starts
  at 360 MHz; every 5 s: -40 MHz at 65 degC or more, down to 100, then too hot: power off
  and WORK refused; +20 MHz below 60 degC); 3 s without a frame powers it off.
- The chip holds one work: each WORK's 88 bytes replace it once they are through the UART
  (8 ms at 111111 baud), and the firmware empties its UART receive ring right after
  writing them, so nonces still in the ring are lost.  Nonces are read from the ring only
  on POLLING, one per NONCE_M, labelled with the id of the **latest** WORK (``gwork_id``):
  a nonce the chip found for the old work while the new one was on the wire arrives with
  the new work's id.
- STATUS_M: clock MHz, LED colour, -1, the 2.5 V rail ADC, the core ADC, the TMP102 in
  whole degC (0 until its first read, a second after power-on), the 1.8/0.9 V ADCs,
  power enabled.
"""

from __future__ import annotations

from collections import deque

from firmware_protocols import PacketType as T

from .physics import chip_volts
from .stick import IDLE_TIME_S, StickDevice

CLOCK_LOOP_S = 5.0  # a3233_monitor's timer
CLOCK_MAX, CLOCK_MIN = 360, 100
TEMP_MAX_C, TEMP_MIN_C = 65, 60
NANO_CORE_LEVEL = 6750  # 0.675 V, fixed
V25_ADC = 512  # the 2.5 V rail: 2.5 V x 1024 / 5
ADC_PER_VOLT = 1023 / 3.3
UART_BYTES_S = 111111 / 10  # the A3233's UART, 8N1
WORK_BYTES = 88
UART_RING_NONCES = 4  # hid_uart.c: A3233_NONCE_SIZE * BUF_CNT bytes
TMP102_FIRST_READ_S = 1.0
LED_GREEN, LED_RED = 0xFF00, 0xFF0000
NANO_TYPES = (T.DETECT, T.SET_PMU, T.POLLING)  # DETECT, WORK, POLLING

__all__ = ["NanoDevice"]


class NanoDevice(StickDevice):
    def _power_on(self) -> None:
        super()._power_on()
        self.work_id = bytes(6)  # gwork_id
        self.current: list | None = None  # [midstate, tail, hashes done]
        self.next_work: tuple[float, bytes, bytes] | None = None  # on the UART until then
        self.uart_ring: deque = deque()  # nonces the firmware has not read yet
        self.mhz = CLOCK_MAX  # a3233_freqneeded
        self.last_freq = 0
        self.led = LED_GREEN
        self.too_hot = False
        self.power_enabled = False
        self.powered_at = self.clock()
        self.silent_since: float | None = None
        self.next_clock_step: float | None = None
        self._power(False)

    def _power(self, on: bool) -> None:
        """a3233_enable_power (with a3233_set_freq when it goes on)."""
        self.power_enabled = on
        if not on:
            self.current = None  # the chip loses its work with its power
        self.physics.voltage_levels = [NANO_CORE_LEVEL if on else 0]
        self.physics.frequencies = [[self.mhz if on else 0] * self.spec.pll_count]

    def _handle(self, pkt) -> bytes | None:
        if pkt.type not in NANO_TYPES:
            self.ignored[pkt.type] += 1
            return None
        if pkt.type == T.DETECT:
            return self._ackdetect()
        if pkt.type == T.POLLING:
            return self._poll_reply()
        if self.too_hot:  # a3233_istoohot: WORK refused
            return None
        work = self._work_half(pkt)
        if work is None:
            return None
        work_id, midstate, tail, _roll = work  # the nano does not roll ntime
        self.work_id = work_id
        if not self.power_enabled or self.last_freq != self.mhz:
            self.last_freq = self.mhz
            self._power(True)
        red = min(self.last_freq - CLOCK_MIN, 255)  # the LED shows the clock
        self.led = red << 16 | (255 - red)
        self.next_work = (self.clock() + WORK_BYTES / UART_BYTES_S, midstate, tail)
        self.uart_ring.clear()  # uart_flush_rxrb after the write
        return None

    def _poll_reply(self) -> bytes:
        if self.uart_ring:
            nonce = self.uart_ring.popleft()
            return self._nonce_m([self._nonce_report(self.work_id, 0, 0, nonce)])
        phys = self.physics
        on = self.power_enabled
        volts = chip_volts(phys.voltage_levels[0], self.spec)
        rails = (round(1.8 * ADC_PER_VOLT) << 16 | round(0.9 * ADC_PER_VOLT)) if on else 0
        read = self.clock() - self.powered_at >= TMP102_FIRST_READ_S
        temp = int(max(max(row) for row in phys.temps)) if read else 0
        words = [
            self.mhz,
            self.led,
            0xFFFFFFFF,
            V25_ADC,
            round(volts * ADC_PER_VOLT),
            temp & 0xFFFFFFFF,
            rails,
            int(on),
        ]
        return self._encode(T.STATUS, {"words": words})

    def _firmware(self, now: float) -> None:
        """The main loop and a3233_monitor: idle after 3 s of silence, the thermal clock
        loop every 5 s, power off while too hot."""
        if self.last_frame is not None and now - self.last_frame > IDLE_TIME_S:
            if self.power_enabled:
                self._power(False)
                self.led = LED_GREEN
                self.silent_since = self.last_frame  # the last frame before the silence
        if self.next_clock_step is None:
            self.next_clock_step = now + CLOCK_LOOP_S
        if now >= self.next_clock_step:
            self.next_clock_step = now + CLOCK_LOOP_S
            temp = int(max(max(row) for row in self.physics.temps))
            if temp >= TEMP_MAX_C:
                if self.mhz > CLOCK_MIN:
                    self.mhz = max(CLOCK_MIN, self.mhz - 40)
                else:
                    self.too_hot = True
            elif temp < TEMP_MIN_C:
                self.too_hot = False
                self.mhz = min(CLOCK_MAX, self.mhz + 20)
            else:
                self.too_hot = False
        if self.too_hot and self.power_enabled:
            self._power(False)
            self.led = LED_RED

    # --- the chip ---------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        with self.lock:
            self._firmware(now)
            self.physics.advance(now)
            budget = self._budget(now)
            if self.next_work is not None and now >= self.next_work[0]:
                _, midstate, tail = self.next_work
                self.current, self.next_work = [midstate, tail, 0], None
            if self.current is None or not self.power_enabled:
                return
            midstate, tail, done = self.current
            count = min(budget, self.nonces_per_work - done)
            for nonce in self._solutions(midstate, tail, done, count):
                if self.physics.chip_alive(0, 0) and len(self.uart_ring) < UART_RING_NONCES:
                    self.uart_ring.append(nonce)
            self.current[2] += count
