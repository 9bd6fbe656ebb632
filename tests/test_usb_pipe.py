"""The USB pipe's direct libusb path (transport/usb_pipe.py): what pyusb's libusb-1.0
backend would hand it is stood in for by a ctypes function with libusb_bulk_transfer's
signature (libusb.h: handle, endpoint, buffer, length, &transferred, timeout), so the very
ctypes call the pipe makes on hardware is made here, and its errors map as pyusb's do."""

from __future__ import annotations

import ctypes
import errno

import pytest
import usb.core

from asicdrv.errors import DeviceGone, Timeout
from asicdrv.transport.usb_auc import translate_usb_error
from asicdrv.transport.usb_pipe import LibusbTransfers

TRANSFER = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_ubyte,
    ctypes.POINTER(ctypes.c_ubyte),
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_int),
    ctypes.c_uint,
)


class FakeLibusb:
    """A device behind libusb_bulk_transfer: OUT packets are kept, IN packets come from
    ``replies``; ``result`` (code, bytes moved) is what the next call returns."""

    def __init__(self):
        self.written: list[tuple[int, bytes, int]] = []
        self.replies: list[bytes] = []
        self.result: tuple[int, int] | None = None
        self.function = TRANSFER(self._transfer)

    def _transfer(self, handle, ep, buffer, length, transferred, timeout):
        if self.result is not None:
            code, moved = self.result
            transferred[0] = moved
            return code
        if ep & 0x80:
            reply = self.replies.pop(0)[:length]
            ctypes.memmove(buffer, reply, len(reply))
            transferred[0] = len(reply)
        else:
            self.written.append((ep, ctypes.string_at(buffer, length), timeout))
            transferred[0] = length
        return 0


@pytest.fixture
def pipe():
    lib = FakeLibusb()
    transfers = LibusbTransfers(lib.function, ctypes.c_void_p(0x1234), 64)
    return lib, transfers.write_to(0x01), transfers.read_from(0x81)


def test_packets_go_out_and_come_back_byte_for_byte(pipe):
    lib, write, read = pipe
    packet = bytes(range(48))
    assert write(packet, 200) == 48
    assert write(b"\x08\x01\x00\xa5", 200) == 4  # a shorter one: only its own bytes
    assert lib.written == [(0x01, packet, 200), (0x01, b"\x08\x01\x00\xa5", 200)]
    lib.replies = [b"\x2c\x01\x00\x00" + bytes(range(40)), b"\x04\x02\x00\x04"]
    assert read(64, 200) == b"\x2c\x01\x00\x00" + bytes(range(40))
    assert read(64, 200) == b"\x04\x02\x00\x04"  # the reply is as long as it is


def test_a_packet_longer_than_the_buffer_still_goes_whole(pipe):
    lib, write, _ = pipe
    assert write(bytes(100), 200) == 100
    assert lib.written[-1][1] == bytes(100)


@pytest.mark.parametrize(
    "code, error, number",
    [
        (-4, DeviceGone, errno.ENODEV),  # LIBUSB_ERROR_NO_DEVICE: unplugged
        (-7, Timeout, errno.ETIMEDOUT),  # LIBUSB_ERROR_TIMEOUT with nothing moved
    ],
)
def test_libusb_errors_become_the_errors_pyusb_gives(pipe, code, error, number):
    lib, write, read = pipe
    lib.result = (code, 0)
    for call in (lambda: write(b"x", 200), lambda: read(64, 200)):
        with pytest.raises(usb.core.USBError) as raised:
            call()
        assert raised.value.errno == number
        assert isinstance(translate_usb_error(raised.value, "AUC XFER"), error)


def test_a_timeout_that_moved_bytes_is_no_error(pipe):
    """libusb: a transfer can time out after part of the data went; pyusb then returns
    the count, and so does the pipe."""
    lib, write, _ = pipe
    lib.result = (-7, 3)
    assert write(b"abcdef", 200) == 3


def test_the_pipe_calls_libusb_itself_when_pyusb_runs_on_libusb():
    """On pyusb's libusb-1.0 backend (its ``lib`` and the handle's ``handle``) the pipe
    makes the transfer call itself; on another backend it uses the backend's own."""
    from types import SimpleNamespace

    from asicdrv import Emulator
    from asicdrv.transport.usb_pipe import UsbPipe

    emu = Emulator(modules=1, seed=1)
    try:
        backend = emu.usb_backend()
        device = usb.core.find(idVendor=0x29F1, backend=backend)
        plain = UsbPipe(device, 1, 0x01, 0x81)
        assert plain.write(b"\x04\x01\x00\xa6" + bytes(60), 200) == 64  # INFO, emulated AUC
        assert plain.read(64, 200)[:4] == b"\x0b\x01\x00\x00"
        lib = FakeLibusb()
        backend.lib = SimpleNamespace(libusb_bulk_transfer=lib.function)
        emu.auc.handle = ctypes.c_void_p(0x1234)  # what pyusb's libusb handle carries
        direct = UsbPipe(device, 1, 0x01, 0x81)
        direct.write(b"\x04\x02\x00\xa6", 200)
        assert lib.written == [(0x01, b"\x04\x02\x00\xa6", 200)]
    finally:
        emu.close()
