"""An Avalon nano 2 or Avalon4 mini stick (Avalon-nano firmware, master b22b4ec; cgminer
``driver-avalon-miner.c``): HID reports of 40-byte "CN" frames, work as midstates.

- DETECT -> ACKDETECT (DNA, version, ASIC count); WORK pairs queue work (five deep: 3
  queued + 1 new + 1 spare, the A3222 note in cgminer; a full queue drops its oldest work).
- The nano (``nano/code/src/hid_main.c``) obeys DETECT, WORK and POLLING only; any other
  frame is ignored, though any frame with a good CRC re-arms its idle timer.  WORK powers
  its chip on (a fixed 0.675 V) at the clock of its own thermal loop (starts at 360 MHz;
  every 5 s: -40 MHz at 65 degC or more, down to 100, then too hot: power off and WORK
  refused; +20 MHz below 60 degC); 3 s without a frame powers it off.
- The 4-mini also takes SET_VOLT (a voltage code, 0xff = off), SET_FREQ (three PLL words
  for all ASICs, OPT 0), SETM (SPI speed) and GET_FREQ -> STATUS_FREQ.
- The chips hash the queued work from its midstate (pure Python SHA-256 for the first
  pass, so the stick's emulated rate is capped at :data:`MAX_HASHRATE`) and report every
  nonce meeting their mask, as NONCE_M: two reports per frame, the unused one 0xff.
- POLLING answers NONCE_M while nonces wait, else STATUS_M laid out as each firmware
  fills it (see :mod:`asicdrv.generations.nano`).
"""

from __future__ import annotations

import errno
import hashlib
import random
import struct
import threading
import time
from collections import Counter, deque
from types import SimpleNamespace
from typing import Callable

import usb.core

from firmware_protocols import (
    CrcError,
    PacketType as T,
    ProtocolError,
    decode_packet,
    encode_packet,
)
from firmware_protocols.dialects import AVALON_NANO

from ..bitcoin import sha256
from firmware_protocols.encodings import bswap32, celsius_to_ntc_adc
from ..models import ModelSpec
from .physics import ModulePhysics, chip_volts
from .usb_backend import EmulatedUsbDevice

MAX_HASHRATE = 5_000  # hashes/s: the first SHA-256 runs in Python here
WORK_QUEUE = 5
NONCE_QUEUE = 64
FIRMWARE = {"nano": "3U1512-4a27d61", "4-mini": "4M1510-4a27d61"}
# the nano's firmware (hid_main.c, defines.h)
IDLE_TIME_S = 3.0
CLOCK_LOOP_S = 5.0  # a3233_monitor's timer
CLOCK_MAX, CLOCK_MIN = 360, 100
TEMP_MAX_C, TEMP_MIN_C = 65, 60
NANO_CORE_LEVEL = 6750  # 0.675 V, fixed
V25_ADC = 512  # the 2.5 V rail: 2.5 V x 1024 / 5
ADC_PER_VOLT = 1023 / 3.3
NANO_TYPES = (T.DETECT, T.SET_PMU, T.POLLING)  # DETECT, WORK, POLLING


class NanoDevice:
    def __init__(
        self,
        spec: ModelSpec,
        dna: bytes,
        physics: ModulePhysics,
        rng: random.Random,
        *,
        hashrate: float,
        nonce_mask: int | None,
        nonce_start: int,
        nonces_per_work: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.spec, self.dna, self.physics, self.rng = spec, dna, physics, rng
        self.position = 1
        self.version = FIRMWARE[spec.name]
        self.hashrate = min(hashrate, MAX_HASHRATE)
        self.nonce_mask = nonce_mask or spec.nonce_mask
        self.nonce_start = nonce_start
        self.nonces_per_work = nonces_per_work
        self.lock = threading.RLock()
        self.rx_crc_errors = self.rx_bad_frames = 0
        self.nonces_sent = 0
        self.boots = 0
        self.clock = clock
        self.nano = spec.name == "nano"
        self.ignored: Counter = Counter()  # frame types the firmware has no handler for
        self._power_on()

    def _power_on(self) -> None:
        self.physics.reset()
        self.works: deque = deque(maxlen=WORK_QUEUE)
        self.current: list | None = None  # [work id, midstate, tail12, done]
        self.pending_midstate: bytes | None = None
        self.nonces: deque = deque(maxlen=NONCE_QUEUE)
        self.spi = 0
        self.led = 0
        self.replies: deque = deque()
        self._last: float | None = None
        self.mhz = CLOCK_MAX  # the nano's a3233_freqneeded
        self.too_hot = False
        self.power_enabled = False
        self.last_frame: float | None = None
        self.next_clock_step: float | None = None
        if self.nano:
            self._power(False)

    def _power(self, on: bool) -> None:
        """The nano's a3233_enable_power (with a3233_set_freq when it goes on)."""
        self.power_enabled = on
        self.physics.voltage_levels = [NANO_CORE_LEVEL if on else 0]
        self.physics.frequencies = [[self.mhz if on else 0] * self.spec.pll_count]

    def reboot(self) -> None:
        self.boots += 1
        self._power_on()

    # --- the wire -------------------------------------------------------------------------
    def receive(self, frame: bytes) -> bytes | None:
        try:
            pkt = decode_packet(frame, dialect=AVALON_NANO)
        except CrcError:
            self.rx_crc_errors += 1
            return None
        except ProtocolError:
            self.rx_bad_frames += 1
            return None
        with self.lock:
            self.last_frame = self.clock()  # any good CRC re-arms the idle timer
            if self.nano and pkt.type not in NANO_TYPES:
                self.ignored[pkt.type] += 1
                return None
            try:
                return self._handle(pkt)
            except (ProtocolError, ValueError, KeyError):
                self.rx_bad_frames += 1
                return None

    def _encode(self, ptype, fields=None, *, data=None, opt=0) -> bytes:
        return encode_packet(ptype, fields, data=data, opt=opt, dialect=AVALON_NANO)

    def _handle(self, pkt) -> bytes | None:
        spec, phys = self.spec, self.physics
        if pkt.type == T.DETECT:
            return self._encode(
                T.ACKDETECT,
                {"dna": self.dna, "version": self.version, "asic_count": spec.asic_count},
            )
        if pkt.type == T.SET_VOLT:
            level = spec.voltage_codec.decode(pkt.fields()["voltage_code"])
            if level:
                spec.check_voltage_level(level)
            phys.voltage_levels = [level]
        elif pkt.type == T.SET_FREQ:
            phys.frequencies = [[spec.pll_table.mhz(w) for w in pkt.fields()["pll_words"]]]
        elif pkt.type == T.SET_PLL:  # SETM
            spi = pkt.fields()["spi"]
            if spi & 0x80000000:
                self.spi = spi & 0x7FFFFFFF
        elif pkt.type == T.SET_PMU:  # WORK
            self._work(pkt)
        elif pkt.type == T.RSTMMTX:  # GET_FREQ
            words = [spec.pll_table.word(f) for f in phys.frequencies[0]]
            return self._encode(T.STATUS_LW, {"pll_words": words}, opt=pkt.opt)
        elif pkt.type == T.POLLING:
            return self._poll_reply()
        return None

    def _work(self, pkt) -> None:
        if pkt.idx == 1:
            words = struct.unpack(">8I", pkt.data)
            self.pending_midstate = struct.pack(">8I", *reversed(words))  # H0..H7
            return
        if pkt.idx != 2 or self.pending_midstate is None:
            raise ValueError("WORK frame 2 without frame 1")
        work_id = struct.unpack_from(">I", pkt.data)[0]
        tail = pkt.data[28:32] + pkt.data[24:28] + pkt.data[20:24]  # merkle, ntime, nbits
        if self.nano:
            if self.too_hot:
                self.pending_midstate = None
                return  # a3233_istoohot: WORK refused
            if not self.power_enabled or self.physics.frequencies[0][0] != self.mhz:
                self._power(True)
        self.works.append((work_id, self.pending_midstate, tail))
        self.pending_midstate = None

    def _poll_reply(self) -> bytes:
        if self.nonces:
            reports = [self.nonces.popleft()]
            if self.nonces:
                reports.append(self.nonces.popleft())
            data = b"".join(reports).ljust(32, b"\xff")
            self.nonces_sent += len(reports)
            return self._encode(T.NONCE, data=data)
        phys = self.physics
        hottest = max(max(row) for row in phys.temps)
        if self.nano:  # hid_main.c: freq, led, -1, V_25, V_CORE, TMP102, V18|V09, power
            on = self.power_enabled
            volts = chip_volts(phys.voltage_levels[0], self.spec)
            rails = (round(1.8 * ADC_PER_VOLT) << 16 | round(0.9 * ADC_PER_VOLT)) if on else 0
            words = [
                self.mhz,
                self.led,
                0xFFFFFFFF,
                V25_ADC,
                round(volts * ADC_PER_VOLT),
                int(hottest) & 0xFFFFFFFF,
                rails,
                int(on),
            ]
        else:  # mini: spi, led, -1, voltage code, 12 V, copper, fan NTC, pg
            code = self.spec.voltage_codec.encode(phys.voltage_levels[0])
            fan_side = phys.ambient_c + (hottest - phys.ambient_c) / 2
            words = [
                self.spi,
                self.led,
                0xFFFFFFFF,
                code,
                round(2.4 * ADC_PER_VOLT),
                celsius_to_ntc_adc(hottest),
                celsius_to_ntc_adc(fan_side),
                1,
            ]
        return self._encode(T.STATUS, {"words": words})

    def _nano_firmware(self, now: float) -> None:
        """The nano's main loop and a3233_monitor: idle after 3 s of silence, the thermal
        clock loop every 5 s, power off while too hot."""
        if self.last_frame is not None and now - self.last_frame > IDLE_TIME_S:
            if self.power_enabled:
                self._power(False)
            self.works.clear()
            self.current = None
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

    # --- the chips --------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        with self.lock:
            if self.nano:
                self._nano_firmware(now)
            self.physics.advance(now)
            if self._last is None:
                self._last = now
                return
            elapsed, self._last = min(now - self._last, 0.25), now
            share = self.physics.ghs() / (self.physics.nominal_ghs() or 1)
            budget = int(elapsed * self.hashrate * share)
            while budget > 0:
                if self.current is None:
                    if not self.works:
                        return
                    self.current = [*self.works.popleft(), 0]
                work_id, midstate, tail, done = self.current
                n = min(budget, self.nonces_per_work - done)
                self._hash(work_id, midstate, tail, done, n)
                budget -= n
                self.current[3] += n
                if self.current[3] >= self.nonces_per_work:
                    self.current = None

    def _hash(self, work_id: int, midstate: bytes, tail: bytes, done: int, count: int) -> None:
        limit = 1 << (256 - self.nonce_mask)
        for i in range(done, done + count):
            nonce = (self.nonce_start + i) & 0xFFFFFFFF
            first = sha256.finish(midstate, tail + nonce.to_bytes(4, "little"), 64)
            value = int.from_bytes(hashlib.sha256(first).digest(), "little")
            if value >= limit:
                continue
            chip = nonce % self.spec.asic_count
            if not self.physics.chip_alive(0, chip):
                continue
            raw = (bswap32(nonce) + self.spec.nonce_correction) & 0xFFFFFFFF
            self.nonces.append(
                struct.pack(
                    ">IHBBIBBBB", work_id, 0, chip, 0, raw, 0, 0, len(self.works), len(self.nonces)
                )
            )


class EmulatedNano(EmulatedUsbDevice):
    """The stick on the virtual USB bus: its descriptors and its interrupt endpoints."""

    PRODUCTS = {"nano": (0x33F3, "Avalon nano", 0), "4-mini": (0x40F1, "Avalon4 mini", 1)}

    def __init__(
        self,
        device: NanoDevice,
        traffic,
        *,
        bus: int = 1,
        address: int = 9,
        disconnect_after: int | None = None,
    ):
        self.device = device
        self.traffic = traffic
        self.bus, self.address = bus, address
        self.product_id, self.product, self.interface = self.PRODUCTS[device.spec.name]
        self.connected = True
        self.disconnect_after = disconnect_after
        self.transfers = 0
        self.configuration = 1
        self.claimed: set[int] = set()
        self.strings = {1: "CANAAN", 2: self.product, 3: device.dna.hex()}

    def descriptor(self):
        return SimpleNamespace(
            bLength=18,
            bDescriptorType=1,
            bcdUSB=0x0200,
            bDeviceClass=0,
            bDeviceSubClass=0,
            bDeviceProtocol=0,
            bMaxPacketSize0=64,
            idVendor=0x29F1,
            idProduct=self.product_id,
            bcdDevice=0x0100,
            iManufacturer=1,
            iProduct=2,
            iSerialNumber=3,
            bNumConfigurations=1,
            address=self.address,
            bus=self.bus,
            port_number=2,
            port_numbers=(2,),
            speed=2,
        )

    def interfaces(self) -> dict[int, tuple[int, list]]:
        """interface -> (class, [(endpoint address, attributes, max packet)])."""
        hid = (0x03, [(0x81, 0x03, 40), (0x01, 0x03, 40)])
        return {0: hid} if self.interface == 0 else {0: (0x02, []), 1: hid}

    def write(self, ep: int, data: bytes) -> int:
        self._count_transfer()
        if ep != 0x01:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        self.traffic.record(">", data)
        reply = self.device.receive(bytes(data))
        if reply is not None:
            self.device.replies.append(reply)
        return len(data)

    def read(self, ep: int, size: int, timeout_ms: int) -> bytes:
        self._count_transfer()
        if ep != 0x81:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        if not self.device.replies:
            time.sleep(min(timeout_ms, 50) / 1000)
            raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
        reply = self.device.replies.popleft()
        self.traffic.record("<", reply)
        return reply[:size]
