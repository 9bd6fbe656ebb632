"""The Avalon nano 2 and Avalon4 mini over pyusb: 40-byte "CN" frames as HID reports on
interrupt endpoints (cgminer ``usbutils.c``: ``AV3U`` 29f1:33f3 interface 0, ``AV4M``
29f1:40f1 interface 1; IN 0x81, OUT 0x01, 40 bytes, 300 ms).  One device, no addresses.
The kernel's HID driver, when bound, is detached first.
"""

from __future__ import annotations

import usb.core
import usb.util

from firmware_protocols import PACKET_SIZE
from .usb_auc import find_usb, translate_usb_error
from .usb_pipe import UsbPipe

VENDOR_ID = 0x29F1
# product id -> (what it is, its HID interface)
STICKS = {0x33F3: ("Avalon nano", 0), 0x40F1: ("Avalon4 mini", 1)}
EP_IN, EP_OUT = 0x81, 0x01
TIMEOUT_MS = 300


def find_sticks(backend=None, bus: int | None = None, address: int | None = None) -> list:
    """Every nano and 4-mini (optionally the one at ``bus:address``)."""
    return find_usb(
        backend, bus, address, idVendor=VENDOR_ID, custom_match=lambda d: d.idProduct in STICKS
    )


class HidLink:
    multi_module = False
    family = "avalon_nano"

    def __init__(self, device, *, timeout_ms: int = TIMEOUT_MS):
        self.device = device
        self.product, self.interface = STICKS[device.idProduct]
        self.timeout_ms = timeout_ms
        self.name = f"usb://{device.bus}:{device.address}"
        try:
            if device.is_kernel_driver_active(self.interface):
                device.detach_kernel_driver(self.interface)
        except (NotImplementedError, usb.core.USBError):
            pass
        try:
            device.set_configuration()
            self.pipe = UsbPipe(device, self.interface, EP_OUT, EP_IN, PACKET_SIZE)
            self._drain()  # cgminer empties the FIFO before DETECT
        except usb.core.USBError as exc:
            raise translate_usb_error(exc, f"opening the {self.product}") from exc

    def _drain(self) -> None:
        for _ in range(8):
            try:
                self.pipe.read(PACKET_SIZE, 1)
            except usb.core.USBTimeoutError:
                return

    def xfer(
        self, address: int, frame: bytes, read: bool, patience: float | None = None
    ) -> bytes | None:
        """Write one report; with ``read``, the next report (None after the timeout)."""
        try:
            self.pipe.write(frame, self.timeout_ms)
            if not read:
                return None
            timeout = self.timeout_ms if patience is None else max(int(patience * 1000), 1)
            reply = self.pipe.read(PACKET_SIZE, timeout)
        except usb.core.USBTimeoutError:
            return None
        except usb.core.USBError as exc:
            raise translate_usb_error(exc, self.product) from exc
        return reply if len(reply) == PACKET_SIZE else None

    def info(self) -> dict:
        return {"product": self.product}

    def close(self) -> None:
        try:
            usb.util.dispose_resources(self.device)
        except usb.core.USBError:
            pass
