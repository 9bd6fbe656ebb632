"""The emulator's traffic log: every frame in and out, with time.

Lines read ``SECONDS > HEX`` (host to device) or ``SECONDS < HEX`` (device to host), which
``asicdrv decode`` reads from stdin.  The last frames are also kept in memory.
"""

from __future__ import annotations

import binascii
import threading
import time
from collections import deque

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import IO

NONCE_TYPE = 0x42


class TrafficLog:
    def __init__(self, sink: IO[str] | None = None, keep: int = 10_000):
        self.sink = sink
        self.frames: deque[tuple[float, str, bytes]] = deque(maxlen=keep)
        self.nonces_out = 0  # NONCE frames with a good CRC handed to the host's link
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def record(self, direction: str, frame: bytes) -> None:
        t = time.monotonic() - self._start
        if direction == "<" and _good_nonce(frame):
            self.nonces_out += 1
        with self._lock:
            self.frames.append((t, direction, bytes(frame)))
            if self.sink is not None:
                self.sink.write(f"{t:.6f} {direction} {bytes(frame).hex()}\n")
                self.sink.flush()

    def lines(self) -> list[str]:
        with self._lock:
            return [f"{t:.6f} {d} {f.hex()}" for t, d, f in self.frames]


def _good_nonce(frame: bytes) -> bool:
    """A NONCE with a good CRC, bare (40 bytes) or inside an AUC reply (4 + 40)."""
    mm = frame[4:44] if len(frame) == 44 else frame
    return (
        len(mm) == 40
        and mm[:2] == b"CN"
        and mm[2] == NONCE_TYPE
        and binascii.crc_hqx(mm[6:38], 0) == int.from_bytes(mm[38:40], "big")
    )
