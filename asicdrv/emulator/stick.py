"""What the emulated Avalon nano 2 and Avalon4 mini share (Avalon-nano firmware, master
b22b4ec, ``hid_main.c`` of each; cgminer ``driver-avalon-miner.c``): 40-byte "CN" frames
as HID reports, DETECT, the WORK pair, POLLING, the chips' hashing, and the stick on the
virtual USB bus with the descriptors its firmware hands its USB stack.

Every frame with a good CRC re-arms the firmware's 3 s idle timer (``timer_set(...,
IDLE_TIME)`` before the dispatch), whether or not it has a handler for it.
"""

from __future__ import annotations

import errno
import hashlib
import struct
import threading
import time
from collections import Counter, deque
from typing import Callable, TYPE_CHECKING

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
from ..models import ModelSpec
from .physics import ModulePhysics
from .usb_backend import EmulatedUsbDevice

if TYPE_CHECKING:
    import random

MAX_HASHRATE = 5_000  # hashes/s: the first SHA-256 runs in Python here
# the published master build of each firmware: its Makefile's AVAM_VERSION, the commit cut
# to 7 and a clean tree's "0"
FIRMWARE = {"nano": "3U1505-b22b4ec0", "4-mini": "4M1505-b22b4ec0"}
IDLE_TIME_S = 3.0  # IDLE_TIME in each firmware's defines.h
NO_NONCE = b"\xff" * 16  # a NONCE_M report slot that carries nothing


class StickDevice:
    """One stick's firmware: the frames in, the chips hashing, the replies out.  The
    nano and the 4-mini subclass it with what their ``hid_main.c`` does."""

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
        self.ignored: Counter = Counter()  # frame types the firmware has no handler for
        self._power_on()

    def _power_on(self) -> None:
        self.physics.reset()
        self.replies: deque = deque()
        self.last_frame: float | None = None
        self._last: float | None = None
        self.work_buffer = bytearray(64)  # the WORK pair's two halves, as received

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
            now = self.clock()
            self._firmware(now)  # a timeout that ran out before this frame came, first
            self.last_frame = now
            try:
                return self._handle(pkt)
            except (ProtocolError, ValueError, KeyError):
                self.rx_bad_frames += 1
                return None

    def _handle(self, pkt) -> bytes | None:
        raise NotImplementedError

    def _firmware(self, now: float) -> None:
        """The firmware's own timed work (idle timer, thermal loop) up to ``now``."""

    def _encode(self, ptype, fields=None, *, data=None, opt=0) -> bytes:
        return encode_packet(ptype, fields, data=data, opt=opt, dialect=AVALON_NANO)

    def _ackdetect(self) -> bytes:
        return self._encode(
            T.ACKDETECT,
            {"dna": self.dna, "version": self.version, "asic_count": self.spec.asic_count},
        )

    def _work_half(self, pkt) -> tuple[bytes, bytes, bytes, int] | None:
        """The firmware copies either half of a WORK into its buffer at ``(idx - 1) * 32``
        and takes the work at idx 2 (its check ``idx != 1 && idx != 2 && cnt != 2`` lets
        any idx 1 or 2 through): (work id bytes, midstate H0..H7, header tail, ntime roll)
        at idx 2, with whatever midstate the buffer holds."""
        if pkt.idx not in (1, 2):
            return None
        self.work_buffer[(pkt.idx - 1) * 32 : pkt.idx * 32] = pkt.data
        if pkt.idx != 2 or pkt.cnt != 2:
            return None
        first, second = bytes(self.work_buffer[:32]), bytes(self.work_buffer[32:])
        midstate = struct.pack(">8I", *reversed(struct.unpack(">8I", first)))
        tail = second[28:32] + second[24:28] + second[20:24]  # merkle, ntime, nbits
        return second[:6], midstate, tail, second[8]

    def _nonce_report(self, work_id: bytes, chip: int, ntime: int, nonce: int) -> bytes:
        """One 16-byte NONCE_M report: id(6), chip, ntime, the nonce as the chip reports it
        (its pipeline offset added, big-endian), then four counter bytes, zero (the nano's;
        the 4-mini fills its own as it sends the report)."""
        raw = (_bswap(nonce) + self.spec.nonce_correction) & 0xFFFFFFFF
        return (work_id + bytes((chip, ntime)) + raw.to_bytes(4, "big")).ljust(16, b"\0")

    def _nonce_m(self, reports: list[bytes]) -> bytes:
        self.nonces_sent += len(reports)
        data = b"".join(reports[:2]).ljust(32, b"\xff")
        return self._encode(T.NONCE, data=data)

    # --- the chips --------------------------------------------------------------------------
    def _budget(self, now: float) -> int:
        """Hashes the chips do from the last call to ``now`` at the physics' speed."""
        if self._last is None:
            self._last, self._carry = now, 0.0
            return 0
        elapsed, self._last = min(now - self._last, 0.25), now
        share = self.physics.ghs() / (self.physics.nominal_ghs() or 1)
        self._carry += elapsed * self.hashrate * share  # keep the fractions of a hash
        whole = int(self._carry)
        self._carry -= whole
        return whole

    def _solutions(self, midstate: bytes, tail: bytes, done: int, count: int, ntime: int = 0):
        """The header nonces among ``count`` from ``done`` that meet the chips' mask."""
        limit = 1 << (256 - self.nonce_mask)
        if ntime:
            rolled = (int.from_bytes(tail[4:8], "little") + ntime) & 0xFFFFFFFF
            tail = tail[:4] + rolled.to_bytes(4, "little") + tail[8:]
        for i in range(done, done + count):
            nonce = (self.nonce_start + i) & 0xFFFFFFFF
            first = sha256.finish(midstate, tail + nonce.to_bytes(4, "little"), 64)
            if int.from_bytes(hashlib.sha256(first).digest(), "little") < limit:
                yield nonce

    def advance(self, now: float) -> None:
        raise NotImplementedError


def _bswap(value: int) -> int:
    return int.from_bytes(value.to_bytes(4, "little"), "big")


# the descriptors each firmware's hid_desc.c gives its USB stack (class 0xEF/2/1, the
# strings; the 4-mini's interface 0 is DFU, its HID interface 1)
PRODUCTS = {
    "nano": (0x33F3, "Avalon nano", "20150518", {0: (0x03, [(0x81, 0x03, 40), (0x01, 0x03, 40)])}),
    "4-mini": (
        0x40F1,
        "Avalon4 mini",
        "20150512",
        {0: (0xFE, []), 1: (0x03, [(0x81, 0x03, 40), (0x01, 0x03, 40)])},
    ),
}


class EmulatedStick(EmulatedUsbDevice):
    """The stick on the virtual USB bus: its descriptors and its interrupt endpoints."""

    def __init__(
        self,
        device: StickDevice,
        traffic,
        *,
        bus: int = 1,
        address: int = 9,
        disconnect_after: int | None = None,
    ):
        self.device = device
        self.traffic = traffic
        self.bus, self.address = bus, address
        self.product_id, product, serial, self._interfaces = PRODUCTS[device.spec.name]
        self.connected = True
        self.disconnect_after = disconnect_after
        self.transfers = 0
        self.configuration = 1
        self.claimed: set[int] = set()
        self.strings = {1: "CANAAN", 2: product, 3: serial, 4: "HID"}

    def descriptor(self):
        """Class 0xEF/2/1 (interface association), as the sticks' hid_desc.c says."""
        return self._device_descriptor((0xEF, 0x02, 0x01), 0x29F1, self.product_id, port=2, speed=2)

    def interfaces(self) -> dict[int, tuple[int, list]]:
        """interface -> (class, [(endpoint address, attributes, max packet)])."""
        return self._interfaces

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
