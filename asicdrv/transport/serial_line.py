"""MM packets over a serial line, via pyserial.

Without a family: bare 40-byte "CN" packets to one module (what ``asicdrv emulate
--serial`` serves).  ``family="avalon2"`` (or ``avalon3``): the Avalon 2/3 line, 39-byte
"AV" frames to up to four daisy-chained modules at 115200 8N1 (cgminer's PL2303 set-up;
BFGMiner opens any tty the same way).  Replies are found in the byte stream by
:class:`FrameSync` (resynchronising on the magic).
"""

from __future__ import annotations

import errno
import time
from collections import deque

import serial

from ..errors import (
    CrcError,
    DeviceGone,
    DeviceNotFound,
    LimitError,
    PermissionDenied,
    PortBusy,
    TransportError,
)
from firmware_protocols.dialects import DIALECTS
from firmware_protocols.framing import FrameSync

try:  # POSIX: pyserial's tcflush can fail with termios.error, which is no OSError
    from termios import error as TermiosError
except ImportError:  # pragma: no cover - elsewhere it cannot happen

    class TermiosError(Exception):  # type: ignore[no-redef]
        pass


FAMILIES = {"avalon2": "avalon2", "avalon3": "avalon2"}  # family option -> dialect


class SerialLink:
    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        timeout_s: float = 0.2,
        family: str | None = None,
    ):
        if (
            isinstance(baudrate, bool)
            or not isinstance(baudrate, int)
            or not 50 <= baudrate <= 4_000_000
        ):
            raise LimitError(
                f"baud rate must be a whole number from 50 to 4000000, got {baudrate!r}"
            )
        if family is not None and family not in FAMILIES:
            raise LimitError(
                f"serial family must be one of {', '.join(FAMILIES)} (or none "
                f"for bare CN packets), got {family!r}"
            )
        self.family = FAMILIES.get(family) if family is not None else None
        self.multi_module = self.family is not None  # a daisy chain of modules
        self.name = f"serial://{port}" + (f"?family={family}" if family else "")
        self.timeout_s = timeout_s
        self.waiting: deque[bytes] = deque()  # frames read but not handed out yet
        self.sync = (
            FrameSync(DIALECTS[self.family], from_device=True)
            if self.family
            else FrameSync(from_device=True, any_crc_order=True)
        )
        try:
            self.port = serial.Serial(port, baudrate, timeout=timeout_s, exclusive=True)
            # whatever the modules said before this host opened the line is not a reply
            self.port.reset_input_buffer()
        except serial.SerialException as exc:
            raise _translate(exc, port) from exc
        except (OSError, TermiosError) as exc:
            raise DeviceGone(f"{self.name}: the serial port failed ({exc})") from exc

    def xfer(
        self, address: int, frame: bytes, read: bool, patience: float | None = None
    ) -> bytes | None:
        """Write a packet; with ``read``, the first good frame back within ``patience``
        (default 200 ms).  When only corrupted frames came, that is a :class:`CrcError`
        (the chain counts it), not a silent timeout."""
        try:
            if read and self.family is None:
                # one module: whatever is waiting is stale.  On an Avalon 2/3 line every
                # reply names its module and a late one may carry a nonce: none is dropped
                self.port.reset_input_buffer()
                self.sync.buffer.clear()
                self.waiting.clear()
            self.port.write(frame)
            if not read:
                return None
            if self.waiting:
                return self.waiting.popleft()
            crc_before = self.sync.crc_errors
            deadline = time.monotonic() + (
                self.timeout_s if patience is None else max(patience, 0.05)
            )
            while time.monotonic() < deadline:
                chunk = self.port.read(self.port.in_waiting or self.sync.dialect.frame_size)
                packets = self.sync.feed(chunk) if chunk else []
                if packets:
                    self.waiting.extend(p.to_bytes() for p in packets[1:])
                    return packets[0].to_bytes()
            if self.sync.crc_errors > crc_before:
                raise CrcError(
                    f"{self.name}: only corrupted replies "
                    f"({self.sync.crc_errors - crc_before} with a bad CRC)"
                )
            return None
        except (serial.SerialException, OSError, TermiosError) as exc:
            # a port that went away fails in read/write (OSError) or, inside pyserial's
            # reset_input_buffer, in tcflush (termios.error, not an OSError)
            raise DeviceGone(f"{self.name}: the serial port failed ({exc})") from exc

    def read_frames(self, patience: float) -> list[bytes]:
        """Frames the modules sent unasked (a chip test's results), read for up to
        ``patience`` seconds without flushing anything."""
        deadline = time.monotonic() + patience
        frames: list[bytes] = list(self.waiting)
        self.waiting.clear()
        try:
            while time.monotonic() < deadline and not frames:
                chunk = self.port.read(self.port.in_waiting or self.sync.dialect.frame_size)
                frames += [p.to_bytes() for p in self.sync.feed(chunk)] if chunk else []
        except (serial.SerialException, OSError, TermiosError) as exc:
            raise DeviceGone(f"{self.name}: the serial port failed ({exc})") from exc
        return frames

    def info(self) -> dict:
        return {"skipped_bytes": self.sync.skipped_bytes, "crc_errors": self.sync.crc_errors}

    def close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass
        server, self.server = getattr(self, "server", None), None
        if server is not None:  # an emulator pty opened for this link
            server.close()


def _translate(exc: serial.SerialException, port: str) -> TransportError:
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text:
        return DeviceNotFound(f"serial port {port} does not exist")
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return PermissionDenied(
            f"permission denied on {port}: add yourself to the dialout "
            f"group (sudo usermod -aG dialout $USER) and log in again"
        )
    if code == errno.EBUSY or "lock" in text or "busy" in text.lower():
        return PortBusy(f"serial port {port} is busy: another program has it open")
    return TransportError(f"cannot open {port}: {exc}")
