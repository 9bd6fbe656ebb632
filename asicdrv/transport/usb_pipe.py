"""One interface's OUT and IN endpoints, with pyusb's per-transfer bookkeeping done once.

``Device.write``/``read`` look the endpoint up, claim the interface, convert the data and
build a result array on every call: more Python than the rest of a poll.  A pipe does that
once at open.  Then, on pyusb's libusb-1.0 backend, each transfer is one ctypes call of
``libusb_bulk_transfer`` (or ``libusb_interrupt_transfer``) with buffers made once; on any
other backend (the emulator's), the backend's own ``bulk_write``/``bulk_read`` (pyusb's
backend interface).  Errors are ``usb.core.USBError`` with the errno pyusb would give, so
callers translate them as before.

The open handle is pyusb's (``Device._ctx``, stable across pyusb 1.x); a device object
without one (a wrapper, another library's) gets the plain ``Device.write``/``read``.
"""

from __future__ import annotations

import array
import ctypes
import errno

import usb.core
import usb.util

# libusb_error -> errno, as pyusb's libusb1 backend maps them
_LIBUSB_ERRNO = {
    -1: errno.EIO,
    -2: errno.EINVAL,
    -3: errno.EACCES,
    -4: errno.ENODEV,
    -5: errno.ENOENT,
    -6: errno.EBUSY,
    -7: errno.ETIMEDOUT,
    -8: errno.EOVERFLOW,
    -9: errno.EPIPE,
    -10: errno.EINTR,
    -11: errno.ENOMEM,
    -12: errno.ENOSYS,
}
_LIBUSB_TIMEOUT = -7


class UsbPipe:
    def __init__(self, device, interface: int, ep_out: int, ep_in: int, size: int = 64):
        self.device = device
        self.ep_out, self.ep_in = ep_out, ep_in
        self._in = array.array("B", bytes(size))
        self._fast = False
        ctx = getattr(device, "_ctx", None)
        if ctx is None or not hasattr(ctx, "managed_open"):
            return
        usb.util.claim_interface(device, interface)
        ctx.managed_open()
        backend, handle = ctx.backend, ctx.handle
        interrupt = _is_interrupt(device, interface, ep_out)
        self._write = backend.intr_write if interrupt else backend.bulk_write
        self._read = backend.intr_read if interrupt else backend.bulk_read
        self._handle, self._interface = handle, interface
        self._fast = True
        name = "libusb_interrupt_transfer" if interrupt else "libusb_bulk_transfer"
        transfer = getattr(getattr(backend, "lib", None), name, None)
        raw_handle = getattr(handle, "handle", None)
        if transfer is not None and raw_handle is not None:
            self.libusb: LibusbTransfers | None = LibusbTransfers(transfer, raw_handle, size)
            self.write = self.libusb.write_to(ep_out)  # type: ignore[method-assign]
            self.read = self.libusb.read_from(ep_in)  # type: ignore[method-assign]

    def write(self, data: bytes, timeout_ms: int) -> int:
        if not self._fast:
            return int(self.device.write(self.ep_out, data, timeout_ms))
        return int(
            self._write(
                self._handle, self.ep_out, self._interface, array.array("B", data), timeout_ms
            )
        )

    def read(self, size: int, timeout_ms: int) -> bytes:
        """Up to ``size`` bytes (one transfer)."""
        if not self._fast:
            return bytes(self.device.read(self.ep_in, size, timeout_ms))
        buffer = self._in if size == len(self._in) else array.array("B", bytes(size))
        count = self._read(self._handle, self.ep_in, self._interface, buffer, timeout_ms)
        return buffer[:count].tobytes()


class LibusbTransfers:
    """Synchronous libusb transfers through one ctypes function (``transfer(handle, ep,
    buffer, length, &transferred, timeout)``, as libusb declares both transfer calls),
    with the buffers and the count made once."""

    def __init__(self, transfer, handle, size: int):
        self.transfer, self.handle = transfer, handle
        self.out = (ctypes.c_ubyte * 64)()
        self._into(size)
        self.count = ctypes.c_int()
        self.count_ref = ctypes.byref(self.count)

    def _into(self, size: int) -> None:
        # the IN buffer over a bytearray: a reply is copied out with one slice
        self.into_bytes = bytearray(size)
        self.into = (ctypes.c_ubyte * size).from_buffer(self.into_bytes)

    def write_to(self, ep: int):
        def write(data: bytes, timeout_ms: int) -> int:
            size = len(data)
            if size > len(self.out):
                self.out = (ctypes.c_ubyte * size)()
            ctypes.memmove(self.out, data, size)
            code = self.transfer(self.handle, ep, self.out, size, self.count_ref, timeout_ms)
            if code:
                self._check(code)
            return self.count.value

        return write

    def read_from(self, ep: int):
        def read(size: int, timeout_ms: int) -> bytes:
            if size > len(self.into_bytes):
                self._into(size)
            code = self.transfer(self.handle, ep, self.into, size, self.count_ref, timeout_ms)
            if code:
                self._check(code)
            return bytes(self.into_bytes[: self.count.value])

        return read

    def _check(self, code: int) -> None:
        # like pyusb: a timeout that moved bytes is no error (libusb documents it so)
        if code < 0 and not (code == _LIBUSB_TIMEOUT and self.count.value):
            raise _usb_error(code)


def _usb_error(code: int) -> usb.core.USBError:
    number = _LIBUSB_ERRNO.get(code, errno.EIO)
    text = f"libusb error {code} ({errno.errorcode.get(number, '?')})"
    if code == _LIBUSB_TIMEOUT:
        return usb.core.USBTimeoutError(text, code, number)
    return usb.core.USBError(text, code, number)


def _is_interrupt(device, interface: int, ep_out: int) -> bool:
    """Whether the OUT endpoint is an interrupt endpoint (the nano's HID reports) rather
    than bulk (the AUC)."""
    try:
        intf = device.get_active_configuration()[(interface, 0)]
        for ep in intf:
            if ep.bEndpointAddress == ep_out:
                return usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_INTR
    except (usb.core.USBError, KeyError, IndexError, NotImplementedError):
        pass
    return False
