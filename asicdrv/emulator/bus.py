"""The I2C bus of MM modules, and the AUC bridge that puts it on USB.

An XFER writes one MM packet to an address (0 = broadcast) and reads up to ``rlen`` bytes
of the addressed module's reply.  On a broadcast DETECT the first undetected module in the
chain wins the bus, takes the id and answers; the others stay undetected.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Callable

from firmware_protocols import PacketType, auc
from firmware_protocols.encodings import celsius_to_auc_adc
from .firmware import MMFirmware

AUC_VERSION = b"AUC-20190328"
AUC_PCB_RISE_C = 8.0


class I2CBus:
    def __init__(self, modules: list[MMFirmware], rng: random.Random, *,
                 clock: Callable[[], float] = time.monotonic,
                 drop=None, crc_errors=None, stall=None):
        self.modules = modules
        self.rng = rng
        self.clock = clock
        self._drop = drop or (lambda position: 0.0)
        self._crc_errors = crc_errors or (lambda position: 0.0)
        self._stall = stall or (lambda position: 0.0)
        self._pending: dict[int, tuple[float, bytes]] = {}  # address -> (ready at, reply)
        self.lock = threading.RLock()
        self.transfers = 0

    def _addressed(self, address: int) -> MMFirmware | None:
        for module in self.modules:
            if module.module_id == address:
                return module
        return None

    def xfer(self, address: int, write: bytes, rlen: int) -> bytes:
        """Write ``write`` (may be empty: a read-again) and read back at most ``rlen``."""
        with self.lock:
            self.transfers += 1
            now = self.clock()
            if write:
                self._deliver(address, write, now)
            if not rlen:
                return b""
            pending = self._pending.get(address)
            if pending is None or pending[0] > now:
                return b""               # nothing (yet): the host sees a short reply
            del self._pending[address]
            return pending[1][:rlen]

    def _deliver(self, address: int, frame: bytes, now: float) -> None:
        self._pending.pop(address, None)        # a new request replaces an unread reply
        if address == 0:
            for module in self.modules:
                reply = module.receive(frame, broadcast=True, now=now)
                if reply is not None:           # DETECT: the first one answers
                    self._queue(0, module, reply, now)
                    if len(frame) > 2 and frame[2] == PacketType.DETECT:
                        break
            return
        module = self._addressed(address)
        if module is None:
            return                              # nobody there: no ACK, no reply
        reply = module.receive(frame, broadcast=False, now=now)
        if reply is not None:
            self._queue(address, module, reply, now)

    def _queue(self, address: int, module: MMFirmware, reply: bytes, now: float) -> None:
        position = module.position
        if self.rng.random() < self._drop(position):
            return
        if self.rng.random() < self._crc_errors(position):
            corrupted = bytearray(reply)
            corrupted[6 + self.rng.randrange(32)] ^= 1 << self.rng.randrange(8)
            reply = bytes(corrupted)
        self._pending[address] = (now + self._stall(position), reply)

    def advance_all(self) -> None:
        """Let every module catch up (for callers that watch the boards, not the wire)."""
        with self.lock:
            now = self.clock()
            for module in self.modules:
                module.advance(now)


class AucBridge:
    """The AUC: 64-byte USB packets in, 64-byte replies out, XFERs onto the I2C bus."""

    def __init__(self, bus: I2CBus, ambient_c: Callable[[], float]):
        self.bus = bus
        self.ambient_c = ambient_c
        self.initialised = False
        self.clock_hz = 0
        self.xfer_delay = 0
        self.bad_packets = 0
        self.requests = 0
        self.responses = 0

    def handle(self, packet: bytes) -> bytes | None:
        """One host packet; the reply the host will read, or None for garbage."""
        try:
            request = auc.decode_request(packet)
        except Exception:  # noqa: BLE001 - a bridge never dies on what the host sends
            self.bad_packets += 1
            return None
        self.requests = (self.requests + 1) & 0xFF
        command = request.command
        if command is auc.AucCommand.RESET:
            self.initialised = False
            data = b""
        elif command is auc.AucCommand.DEINIT:
            self.initialised = False
            data = b""
        elif command is auc.AucCommand.INIT:
            self.initialised = True
            self.clock_hz = request.fields["clock_hz"]
            self.xfer_delay = request.fields["xfer_delay"]
            data = AUC_VERSION
        elif command is auc.AucCommand.INFO:
            adc = celsius_to_auc_adc(self.ambient_c() + AUC_PCB_RISE_C)
            data = auc.build_info_data(adc, self.requests, self.responses, 0,
                                       int(self.initialised))
        else:  # XFER
            if not self.initialised:
                data = b""
            else:
                f = request.fields
                data = self.bus.xfer(f["slave"], f["write"], f["rlen"])
        self.responses = (self.responses + 1) & 0xFF
        return auc.build_reply(data)
