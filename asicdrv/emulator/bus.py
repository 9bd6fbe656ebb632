"""The I2C bus of MM modules, and the AUC bridge that puts it on USB.

An XFER writes one MM packet to an address (0 = broadcast) and reads up to ``rlen`` bytes
of the addressed module's reply.  On a broadcast DETECT the first undetected module in the
chain wins the bus, takes the id and answers; the others stay undetected.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from typing import Callable

from firmware_protocols import PacketType, auc
from firmware_protocols.encodings import celsius_to_auc_adc
from .firmware import MMFirmware

AUC_VERSION = b"AUC-20190328"
AUC_PCB_RISE_C = 8.0
AUC_INFO_STATE = 2


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
        self.transfers = 0

    def _addressed(self, address: int) -> MMFirmware | None:
        for module in self.modules:
            if module.module_id == address:
                return module
        return None

    def answers(self, address: int) -> bool:
        """Whether the address phase of an I2C transfer to ``address`` is acknowledged:
        the broadcast address, or a module that has taken it."""
        with self.lock:
            return address == 0 or self._addressed(address) is not None

    def xfer(self, address: int, write: bytes, rlen: int) -> bytes:
        """Write ``write`` (may be empty: a read-again) and read back at most ``rlen``.
        A reply that is not ready yet (a stalled module) stays pending for a read-again.
        Idleness is timed from when the host's frame arrived, not from when this busy
        emulator got to it: a slow emulator must not lose modules by its own slowness."""
        arrived = self.clock()
        with self.lock:
            self.transfers += 1
            now = self.clock()
            for module in self.modules:
                module.check_idle(arrived)
            if write:
                self._deliver(address, write, now)
            if not rlen:
                return b""
            pending = self._pending.get(address)
            if pending is None or pending[0] > now:
                return b""  # nothing (yet): the host sees a short reply
            del self._pending[address]
            return pending[1][:rlen]

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


class AucBridge:
    """The AUC: USB packets in (4..64 bytes), exact-length replies out, XFERs onto the I2C
    bus.  Replies wait in a queue of four slots, as in the firmware (``cdc_i2c.c``); a RESET
    flushes it."""

    def __init__(self, bus: I2CBus, ambient_c: Callable[[], float]):
        self.bus = bus
        self.ambient_c = ambient_c
        self.initialised = False
        self.clock_hz = 0
        self.xfer_delay = 0
        self.bad_packets = 0
        self.replies: deque[bytes] = deque()
        self.replies_dropped = 0  # the host did not read and the queue was full

    def handle(self, packet: bytes) -> None:
        """One host packet; its reply (if any) joins the reply queue."""
        try:
            request = auc.decode_request(packet)
        except auc.UnknownTypeError:
            self.bad_packets += 1
            self._reply(b"", packet[1], packet[2], auc.AucStatus.INVALID_CMD)
            return
        except Exception:  # noqa: BLE001 - a bridge never dies on what the host sends
            self.bad_packets += 1
            if len(packet) >= auc.AUC_HEADER_SIZE:
                self._reply(b"", packet[1], packet[2], auc.AucStatus.INVALID_PARAM)
            return
        status = auc.AucStatus.OK
        command = request.command
        if command is auc.AucCommand.RESET:
            self.replies.clear()  # abort: pending replies are thrown away
            self.initialised = False
            data = b""
        elif command is auc.AucCommand.DEINIT:
            self.initialised = False
            data = b""
        elif command is auc.AucCommand.INIT:
            self.initialised = True
            self.clock_hz = request.fields["clock_hz"]
            if request.fields["xfer_delay"]:  # 0 keeps the previous delay
                self.xfer_delay = request.fields["xfer_delay"]
            data = AUC_VERSION
        elif command is auc.AucCommand.INFO:
            adc = celsius_to_auc_adc(self.ambient_c() + AUC_PCB_RISE_C)
            # queue depths: nothing waits to be sent; this reply will wait to be read
            # the state byte: the published AUC firmware always reports 2 (cdc_i2c.c)
            data = auc.build_info_data(
                adc, 0, min(len(self.replies) + 1, auc.QUEUE_SLOTS), 0, AUC_INFO_STATE
            )
        elif not self.initialised:
            data, status = b"", auc.AucStatus.ERROR
        else:  # XFER
            f = request.fields
            data = self.bus.xfer(f["slave"], f["write"], f["rlen"])
            if len(data) < f["rlen"]:
                status = auc.AucStatus.PARTIAL_DATA if data else auc.AucStatus.SLAVE_NAK
        self._reply(data, request.trans_id, request.session_id, status)

    def _reply(self, data: bytes, trans_id: int, session_id: int, status: int) -> None:
        if len(self.replies) >= auc.QUEUE_SLOTS:
            self.replies.popleft()
            self.replies_dropped += 1
        self.replies.append(auc.build_reply(data, trans_id, session_id, status))

    def next_reply(self) -> bytes | None:
        return self.replies.popleft() if self.replies else None
