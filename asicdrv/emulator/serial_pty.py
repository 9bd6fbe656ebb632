"""The emulator on a pseudo-terminal: bare 40-byte MM packets, one module, as an Avalon 2/3
serial line carries them.  The host opens the pty's path with pyserial like a real port."""

from __future__ import annotations

import os
import select
import threading
import tty

from firmware_protocols import PACKET_SIZE, PacketType
from firmware_protocols.dialects import AVALON2
from firmware_protocols.framing import FrameSync
from .bus import I2CBus
from .traffic import TrafficLog


def _nothing(now: float) -> list[bytes]:
    return []


class SerialServer:
    """Serves module 1.  A stalled module's reply goes out when it is ready; a
    ``disconnect`` fault closes the line after that many frames (the host sees EIO)."""

    def __init__(self, bus: I2CBus, traffic: TrafficLog, disconnect_after: int | None = None):
        self.bus = bus
        self.module = bus.modules[0]
        self.traffic = traffic
        self.disconnect_after = disconnect_after
        self.frames = 0
        self._sent_to = 0  # where the last frame went (its reply waits)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.sync = FrameSync()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "SerialServer":
        self._thread = threading.Thread(target=self.serve_forever, name="emulator-pty", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.005)
            if not ready:
                self._send_late_reply()
                self._send_unasked()
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                break
            for packet in self.sync.feed(data):
                self._take(packet)
                if self.disconnect_after is not None and self.frames >= self.disconnect_after:
                    self._unplug()
                    return

    def _take(self, packet) -> None:
        self._answer(packet.to_bytes())

    def _address(self) -> int:
        return self.module.module_id or 0

    def _answer(self, frame: bytes) -> None:
        self.frames += 1
        self.traffic.record(">", frame)
        if frame[2] == PacketType.DETECT:
            self.module.module_id = None  # one module per line: DETECT always answers
        self._sent_to = self._address()
        self._write(self.bus.xfer(self._sent_to, frame, PACKET_SIZE))

    def _send_late_reply(self) -> None:
        address = self._sent_to
        ready_at = self.bus.pending_ready(address)
        if ready_at is not None and ready_at <= self.bus.clock():
            self._write(self.bus.xfer(address, b"", PACKET_SIZE))

    def _send_unasked(self) -> None:
        with self.bus.lock:
            now = self.bus.clock()
            frames = [
                f for m in self.bus.modules for f in getattr(m, "take_unasked", _nothing)(now)
            ]
        for frame in frames:
            self._write(frame)

    def _write(self, reply: bytes) -> None:
        if reply:
            self.traffic.record("<", reply)
            os.write(self.master, reply)

    def _unplug(self) -> None:
        fd, self.master = self.master, -1
        try:
            os.close(fd)
        except OSError:
            pass

    def inject(self, data: bytes) -> None:
        """Write raw bytes onto the line, as line noise would."""
        os.write(self.master, data)

    def close(self) -> None:
        """Stop serving and close the pty, once: closing a descriptor twice would close
        whatever file has been given its number since."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        fds, self.master, self.slave = (self.master, self.slave), -1, -1
        for fd in fds:
            if fd < 0:
                continue
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, *exc):
        self.close()


class AvLineServer(SerialServer):
    """An Avalon 2/3 line: every module on one pty, 39-byte "AV" frames.  POLLING, TEST and
    REQUIRE go to the module whose id they carry (d[28..31]); DETECT, job frames and SET
    to all of them (a DETECT stops every module; the one it names answers)."""

    TARGETED = (PacketType.POLLING, PacketType.TEST, PacketType.SYNC)

    def __init__(self, bus: I2CBus, traffic: TrafficLog, disconnect_after: int | None = None):
        super().__init__(bus, traffic, disconnect_after)
        self.sync = FrameSync(AVALON2, from_device=False)

    def _take(self, packet) -> None:
        frame = packet.to_bytes()
        self.frames += 1
        self.traffic.record(">", frame)
        if packet.type == PacketType.DETECT:  # every module hears it; the named one answers
            self._sent_to = 0
            self._write(self.bus.xfer(0, frame, AVALON2.frame_size))
        elif packet.type in self.TARGETED:
            self._sent_to = int.from_bytes(packet.data[28:32], "big") + 1
            self._write(self.bus.xfer(self._sent_to, frame, AVALON2.frame_size))
        else:
            self.bus.xfer(0, frame, 0)
