"""The I2C bus of MM modules (the AUC that puts it on USB: auc_bridge.py).

An XFER writes one MM packet to an address (0 = broadcast) and reads up to ``rlen`` bytes
of the addressed module's reply.  On a broadcast DETECT the first undetected module in the
chain wins the bus, takes the id and answers; the others stay undetected.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TYPE_CHECKING

from firmware_protocols import PacketType
from .firmware import MMFirmware

if TYPE_CHECKING:
    import random


class I2CBus:
    def __init__(
        self,
        modules: list[MMFirmware],
        rng: random.Random,
        *,
        clock: Callable[[], float] = time.monotonic,
        drop=None,
        crc_errors=None,
        stall=None,
    ):
        self.modules = modules
        self.rng = rng
        self.clock = clock
        self._drop = drop or (lambda position: 0.0)
        self._crc_errors = crc_errors or (lambda position: 0.0)
        self._stall = stall or (lambda position: 0.0)
        self._pending: dict[int, tuple[float, bytes]] = {}  # address -> (ready at, reply)
        self.lock = threading.RLock()

    def _addressed(self, address: int) -> MMFirmware | None:
        for module in self.modules:
            if module.module_id == address:
                return module
        return None

    def answers(self, address: int, reading: bool = False, at: float | None = None) -> bool:
        """Whether the address phase of an I2C transfer is acknowledged, as the MM4's I2C
        core decides it (``i2c_phy.v``, MM repository, branch avalon4): a write by the
        module holding ``address`` or, at 0 (a general call), by every module; a read only
        by a module with a whole reply ready to send (its transmit FIFO holds a packet,
        ``PKG_LEN``), so a module with nothing to say does not answer."""
        with self.lock:
            if reading:
                return self._ready(address, self.clock() if at is None else at) is not None
            if address == 0:
                return bool(self.modules)
            return self._addressed(address) is not None

    def xfer(self, address: int, write: bytes, rlen: int) -> bytes:
        """Write ``write`` (may be empty: a read-again) and read back at most ``rlen``.
        A reply that is not ready yet (a stalled module) stays pending for a read-again.
        Idleness is judged once, from when the host's frame arrived."""
        arrived = self.clock()
        with self.lock:
            self._check_idle(arrived)
            if write:
                self._deliver(address, write, max(arrived, self.clock()))
            return self._take(address, self.clock())[:rlen] if rlen else b""

    def write(self, address: int, frame: bytes, at: float | None = None) -> None:
        """A write phase to ``address`` ends: the module(s) take the frame.  Idleness is
        timed from when the host's frame arrived, not from when this busy emulator got to
        it: a slow emulator must not lose modules by its own slowness."""
        arrived = self.clock() if at is None else at
        with self.lock:
            self._check_idle(arrived)
            self._deliver(address, frame, max(arrived, self.clock()))

    def read(self, address: int, at: float | None = None) -> bytes:
        """A read phase from ``address``: the module hands over its pending reply if it is
        ready by ``at`` (default now), else nothing (b"")."""
        with self.lock:
            now = self.clock() if at is None else at
            self._check_idle(now)
            return self._take(address, now)

    def _ready(self, address: int, now: float) -> bytes | None:
        """The reply pending at ``address`` if it is ready by ``now``."""
        pending = self._pending.get(address)
        return pending[1] if pending is not None and pending[0] <= now else None

    def _take(self, address: int, now: float) -> bytes:
        reply = self._ready(address, now)
        if reply is None:
            return b""  # nothing (yet)
        del self._pending[address]
        return reply

    def _check_idle(self, arrived: float) -> None:
        for module in self.modules:
            module.check_idle(arrived)

    def _deliver(self, address: int, frame: bytes, now: float) -> None:
        self._pending.pop(address, None)  # a new request replaces an unread reply
        if address == 0:
            answered = False
            for module in self.modules:
                reply = module.receive(frame, broadcast=True, now=now)
                if reply is not None and not answered:  # DETECT: the first one answers
                    self._queue(0, module, reply, now)
                    answered = len(frame) > 2 and frame[2] == PacketType.DETECT
                    if answered and module.detect_takes_address:
                        break  # the others stay undetected (and never see it)
            return
        addressed = self._addressed(address)
        if addressed is None:
            return  # nobody there: no ACK, no reply
        module = addressed
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
        """Let every module catch up: temperatures and hashing (the chip thread calls this;
        tests on a fake clock call it by hand).  The lock is taken per module, so host
        transfers interleave with the hashing.  Idle timers are judged as host frames
        arrive (:meth:`xfer`), never by the emulator's own pace."""
        for module in self.modules:
            with self.lock:
                module.advance(self.clock())

    def pending_ready(self, address: int) -> float | None:
        """When the reply pending at ``address`` is ready (None: nothing pending)."""
        with self.lock:
            pending = self._pending.get(address)
            return None if pending is None else pending[0]
