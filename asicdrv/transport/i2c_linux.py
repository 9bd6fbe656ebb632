"""MM modules on a controller's own I2C bus, without an AUC (cgminer's
``--avalon8-iic-detect``): the kernel's i2c-dev, ``/dev/i2c-N``.

As cgminer's ``i2c-context.h``: select the module's 7-bit address with the ``I2C_SLAVE``
ioctl, write the 40-byte frame, wait 5 ms, read 40 bytes.  Address 0 is the broadcast
(general call).  A module with nothing to say does not acknowledge its address: the read
fails with ENXIO / EREMOTEIO, which is "no reply", not an error.  The bus behind the link is
a small object with ``write(address, data)`` and ``read(address, n)``: :class:`LinuxI2CBus`
here, or the emulator's in-process bus (``Emulator.i2c_device()``).

No library is needed: one ioctl, a write and a read, all in the standard library (smbus2
would bring I2C_RDWR messages that cgminer's plain write-then-read does not use).
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from typing import Protocol

from firmware_protocols import PACKET_SIZE
from ..errors import DeviceGone, DeviceNotFound, PermissionDenied, PortBusy, TransportError

I2C_SLAVE = 0x0703  # linux/i2c-dev.h
WRITE_TO_READ_S = 0.005  # cgminer sleeps 5 ms between the write and the read
READ_AGAIN_EVERY_S = 0.002
REPLY_TIMEOUT_S = 0.2
NO_ACK = (errno.ENXIO, errno.EREMOTEIO, errno.EAGAIN, errno.ETIMEDOUT)


class I2CBus(Protocol):
    def write(self, address: int, data: bytes) -> None: ...
    def read(self, address: int, size: int) -> bytes: ...  # b"": nobody acknowledged
    def close(self) -> None: ...


class LinuxI2CBus:
    """``/dev/i2c-N`` through i2c-dev."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise DeviceNotFound(
                f"{path} does not exist: is i2c-dev loaded (modprobe "
                f"i2c-dev) and is this the bus the modules are on?"
            ) from None
        except PermissionError:
            raise PermissionDenied(
                f"permission denied on {path}: add yourself to the i2c group and log in again"
            ) from None
        except OSError as exc:
            raise TransportError(f"cannot open {path}: {exc}") from exc
        self._address: int | None = None

    def _select(self, address: int) -> None:
        if address != self._address:
            try:
                fcntl.ioctl(self.fd, I2C_SLAVE, address)
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise PortBusy(
                        f"{self.path}: address {address} is claimed by a kernel driver"
                    ) from exc
                raise DeviceGone(f"{self.path}: the bus failed ({exc})") from exc
            self._address = address

    def write(self, address: int, data: bytes) -> None:
        self._select(address)
        try:
            os.write(self.fd, data)
        except OSError as exc:
            if exc.errno in NO_ACK:
                return  # nobody at that address: as the AUC, no reply
            raise DeviceGone(f"{self.path}: the bus failed ({exc})") from exc

    def read(self, address: int, size: int) -> bytes:
        self._select(address)
        try:
            return os.read(self.fd, size)
        except OSError as exc:
            if exc.errno in NO_ACK:
                return b""
            raise DeviceGone(f"{self.path}: the bus failed ({exc})") from exc

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class I2CLink:
    """The device layer's link over an :class:`I2CBus`."""

    multi_module = True

    def __init__(self, bus: I2CBus, name: str):
        self.bus = bus
        self.name = name
        self._lock = threading.Lock()

    def xfer(
        self, address: int, frame: bytes, read: bool, patience: float | None = None
    ) -> bytes | None:
        with self._lock:
            self.bus.write(address, frame)
            if not read:
                return None
            time.sleep(WRITE_TO_READ_S)
            deadline = time.monotonic() + (REPLY_TIMEOUT_S if patience is None else patience)
            while True:
                reply = self.bus.read(address, PACKET_SIZE)
                if len(reply) == PACKET_SIZE:
                    return reply
                if time.monotonic() >= deadline:
                    return None
                time.sleep(READ_AGAIN_EVERY_S)

    def info(self) -> dict:
        return {}

    def close(self) -> None:
        self.bus.close()
