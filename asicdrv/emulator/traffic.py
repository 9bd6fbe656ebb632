"""The emulator's traffic log: every frame in and out, with time.

Lines read ``SECONDS > HEX`` (host to device) or ``SECONDS < HEX`` (device to host), which
``asicdrv decode`` reads from stdin.  The last frames are also kept in memory.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import IO


class TrafficLog:
    def __init__(self, sink: IO[str] | None = None, keep: int = 10_000):
        self.sink = sink
        self.frames: deque[tuple[float, str, bytes]] = deque(maxlen=keep)
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def record(self, direction: str, frame: bytes) -> None:
        t = time.monotonic() - self._start
        with self._lock:
            self.frames.append((t, direction, bytes(frame)))
            if self.sink is not None:
                self.sink.write(f"{t:.6f} {direction} {bytes(frame).hex()}\n")
                self.sink.flush()

    def lines(self) -> list[str]:
        with self._lock:
            return [f"{t:.6f} {d} {f.hex()}" for t, d, f in self.frames]
