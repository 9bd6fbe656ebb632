"""The emulator on a pseudo-terminal: bare 40-byte MM packets, one module, as an Avalon 2/3
serial line carries them.  The host opens the pty's path with pyserial like a real port."""
from __future__ import annotations

import os
import select
import threading
import tty

from firmware_protocols import PACKET_SIZE, PacketType
from ..transport.framing import FrameSync
from .bus import I2CBus
from .traffic import TrafficLog


class SerialServer:
    def __init__(self, bus: I2CBus, traffic: TrafficLog):
        self.bus = bus
        self.module = bus.modules[0]
        self.traffic = traffic
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.sync = FrameSync()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "SerialServer":
        self._thread = threading.Thread(target=self.serve_forever, name="emulator-pty",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                break
            for packet in self.sync.feed(data):
                self._answer(packet.to_bytes())

    def _answer(self, frame: bytes) -> None:
        self.traffic.record(">", frame)
        if frame[2] == PacketType.DETECT:
            self.module.module_id = None      # one module per line: DETECT always answers
        address = self.module.module_id or 0
        reply = self.bus.xfer(address, frame, PACKET_SIZE)
        if reply:
            self.traffic.record("<", reply)
            os.write(self.master, reply)

    def inject(self, data: bytes) -> None:
        """Write raw bytes onto the line, as line noise would."""
        os.write(self.master, data)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, *exc):
        self.close()
