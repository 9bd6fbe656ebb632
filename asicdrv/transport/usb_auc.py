"""The AUC (USB -> I2C bridge) over pyusb, as cgminer's avalon8 driver drives it:
reset, deinit, init (tried twice); XFERs written at their own length with a short wait; a
short reply is read again (an XFER with nothing to write) until the module's reply is there
or the USB timeout has passed.

Every request carries a transaction id that the AUC echoes; a reply with another id is one
an earlier, timed-out request left behind, and is never taken for this one's.  When that
late reply carries a frame (a nonce, a chip test's result), the frame is kept with the
address its XFER read from (:attr:`AucLink.late`), for the device layer to hand to that
module: a slow AUC delays a nonce, it does not lose it.
"""

from __future__ import annotations

import errno
import time
from collections import deque

import usb.core
import usb.util

from firmware_protocols import PACKET_SIZE, ProtocolError, auc
from .usb_pipe import UsbPipe
from ..errors import DeviceGone, DeviceNotFound, PermissionDenied, PortBusy, Timeout, TransportError

UDEV_HINT = (
    'add a udev rule, e.g. SUBSYSTEM=="usb", ATTR{idVendor}=="29f1", '
    'ATTR{idProduct}=="33f2", MODE="0666" in /etc/udev/rules.d/99-avalon.rules, '
    "then replug"
)


def translate_usb_error(exc: usb.core.USBError, what: str) -> TransportError:
    if isinstance(exc, usb.core.USBTimeoutError) or exc.errno == errno.ETIMEDOUT:
        return Timeout(f"{what}: no reply in time")
    if exc.errno in (errno.ENODEV, errno.ENXIO, errno.ENOENT):
        return DeviceGone(f"{what}: the device disappeared ({exc.strerror or exc})")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"{what}: permission denied on USB; {UDEV_HINT}")
    if exc.errno == errno.EBUSY:
        return PortBusy(f"{what}: the device is in use by another program (cgminer?)")
    return TransportError(f"{what}: USB error: {exc}")


def find_aucs(backend=None, bus: int | None = None, address: int | None = None) -> list:
    """Every AUC on the bus (optionally the one at ``bus:address``)."""
    return find_usb(backend, bus, address, idVendor=auc.USB_VENDOR_ID, idProduct=auc.USB_PRODUCT_ID)


def find_usb(backend, bus: int | None, address: int | None, **match) -> list:
    """USB devices matching ``match`` (pyusb's find), optionally the one at bus:address."""
    if backend is None:  # libusb-1.0 first, as pyusb would, without loading its other two
        from usb.backend import libusb1

        backend = libusb1.get_backend()
    try:
        devices = list(usb.core.find(find_all=True, backend=backend, **match) or [])
    except usb.core.NoBackendError:
        raise DeviceNotFound("no USB backend: install libusb-1.0 (apt install libusb-1.0-0)")
    except usb.core.USBError as exc:
        raise translate_usb_error(exc, "USB enumeration") from exc
    if bus is not None:
        devices = [d for d in devices if d.bus == bus and d.address == address]
    return devices


LATE_FRAMES_KEPT = 64
LATE_IN_A_ROW_LIMIT = 100  # cgminer's xfer_err_cnt: then the AUC is initialised again


class AucLink:
    multi_module = True

    def __init__(
        self,
        device,
        *,
        clock_hz: int = auc.DEFAULT_I2C_CLOCK_HZ,
        xfer_delay: int = auc.DEFAULT_XFER_DELAY,
        wait_s: float = 0.0,
        timeout_ms: int = auc.USB_TIMEOUT_MS,
    ):
        self.device = device
        self.timeout_ms = timeout_ms
        # cgminer sleeps xdelay / 4800 + 1 ms between the XFER write and the read; the
        # bulk IN transfer completes when the AUC has the reply anyway, so by default the
        # read is issued at once and waits for it (one wake-up a transfer, not two)
        self.wait_s = wait_s
        self.name = f"usb://{device.bus}:{device.address}"
        self.version = ""
        self.short_replies = 0
        self.stale_replies = 0  # replies to an earlier request with no frame in them
        self.late_replies = 0  # replies to an earlier request whose frame was kept
        self.late_answers = 0  # XFERs whose reply was not there within the USB timeout
        self.late_in_a_row = 0
        self.late_in_a_row_limit = LATE_IN_A_ROW_LIMIT
        self.reinits = 0  # times the AUC was initialised again after that many
        self._settings = (clock_hz, xfer_delay)
        # frames in late replies, with the address their XFER read from; at most this many
        # wait (the device layer takes them after every poll)
        self.late: deque[tuple[int, bytes]] = deque()
        self._read_from: dict[int, int] = {}  # trans_id -> address, for reading XFERs
        self._trans_id = 0
        try:
            if device.is_kernel_driver_active(auc.USB_INTERFACE):
                device.detach_kernel_driver(auc.USB_INTERFACE)
        except (NotImplementedError, usb.core.USBError):
            pass
        try:
            device.set_configuration(auc.USB_CONFIGURATION)
            self.pipe = UsbPipe(device, auc.USB_INTERFACE, auc.EP_OUT, auc.EP_IN)
        except usb.core.USBError as exc:
            raise translate_usb_error(exc, "opening the AUC") from exc
        self._init_twice()

    def _init_twice(self) -> None:
        last: Timeout | None = None
        for _ in range(2):  # cgminer tries the init sequence twice
            try:
                self._init_bridge()
                return
            except Timeout as exc:
                last = exc
        assert last is not None
        raise last

    def _next_id(self) -> int:
        self._trans_id = self._trans_id % 255 + 1  # 1..255; 0 is cgminer's
        self._read_from.pop(self._trans_id, None)  # what this id meant 255 requests ago
        return self._trans_id

    def _read_id(self, address: int, read: bool) -> int:
        """The next transaction id, remembered with ``address`` when the XFER reads."""
        trans_id = self._next_id()
        if read:
            self._read_from[trans_id] = address
        return trans_id

    def late_summary(self) -> str:
        """For a screen: how many of this AUC's replies came too late, or "" if none did."""
        if not self.late_answers:
            return ""
        return (
            f"{self.late_answers} of the AUC's replies came after its {self.timeout_ms} ms "
            f"USB timeout (a busy or hung AUC, not the modules: power-cycle it, check its cable)"
        )

    def _call(self, packet: bytes, what: str, wait_s: float = 0.0, late_ok: bool = False) -> bytes:
        """Write ``packet`` (made with :meth:`_next_id`), wait ``wait_s``, read its reply,
        return its data.  With ``late_ok``, a reply not there within the USB timeout is
        no data (b""): the request went out, and its reply, when it comes, is taken as a
        late one by a later call."""
        trans_id = packet[1]
        try:
            self.pipe.write(packet, self.timeout_ms)
        except usb.core.USBError as exc:
            raise translate_usb_error(exc, what) from exc
        if wait_s:
            time.sleep(wait_s)
        try:
            for _ in range(auc.QUEUE_SLOTS + 1):
                reply = self.pipe.read(auc.AUC_PACKET_SIZE, self.timeout_ms)
                if len(reply) < auc.AUC_HEADER_SIZE or reply[1] == trans_id:
                    break
                self._keep_late(reply)
        except usb.core.USBError as exc:
            error = translate_usb_error(exc, what)
            if late_ok and isinstance(error, Timeout):
                self.late_answers += 1
                self.late_in_a_row += 1
                if self.late_in_a_row >= self.late_in_a_row_limit:
                    self._init_again(what)
                return b""
            raise error from exc
        self.late_in_a_row = 0
        return auc.reply_data(reply)

    def _init_again(self, what: str) -> None:
        """As cgminer after 100 failed transfers in a row: RESET (it aborts a transfer the
        AUC hangs in), DEINIT, INIT; an AUC that does not answer even that is gone."""
        self.reinits += 1
        try:
            self._init_twice()  # its replies, read in time, set late_in_a_row back to 0
        except Timeout as exc:
            raise DeviceGone(
                f"{what}: the AUC stopped answering, and again after a reset ({exc})"
            ) from exc

    def _keep_late(self, reply: bytes) -> None:
        """A reply to an earlier request whose read timed out: a frame in it still belongs
        to the module that XFER read from."""
        address = self._read_from.pop(reply[1], None)
        try:
            data = auc.reply_data(reply)
        except ProtocolError:
            data = b""
        if not address or _nothing(data) or len(self.late) >= LATE_FRAMES_KEPT:
            self.stale_replies += 1  # nothing in it, or nobody took the frames before it
            return
        self.late_replies += 1
        self.late.append((address, data[:PACKET_SIZE]))

    def _init_bridge(self) -> None:
        clock_hz, xfer_delay = self._settings
        self._call(auc.build_reset(self._next_id()), "AUC reset")
        self._call(auc.build_deinit(self._next_id()), "AUC deinit")
        init = auc.build_init(clock_hz, xfer_delay, self._next_id())
        version = self._call(init, "AUC init")
        self.version = version.decode("ascii", "replace")

    def xfer(
        self, address: int, frame: bytes, read: bool, patience: float | None = None
    ) -> bytes | None:
        """One XFER; a reply with nothing in it (the module had nothing ready yet) is read
        again until ``patience`` seconds (default: the USB timeout) have passed.  Nothing
        is a short reply (an MM4 does not acknowledge a read with no reply ready: the AUC
        says SLAVE_NAK) or bytes that are all 0xFF (the idle bus: what the AUC reads from a
        slave that acknowledged and then drives nothing).  An AUC that does not answer
        within the USB timeout gives nothing too (cgminer's avalon8_auc_xfer counts a
        failed read as a failed transfer, not a lost device); the frame in its late reply
        is kept for the module (:attr:`late`)."""
        rlen = PACKET_SIZE if read else 0
        packet = auc.build_xfer(address, frame, rlen, self._read_id(address, read))
        data = self._call(packet, "AUC XFER", self.wait_s, late_ok=True)
        if not read:
            return None
        if not _nothing(data):
            return data[:PACKET_SIZE]
        self.short_replies += 1
        budget = self.timeout_ms / 1000 if patience is None else patience
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            again = auc.build_xfer(address, b"", rlen, self._read_id(address, True))
            data = self._call(again, "AUC XFER (read again)", self.wait_s or 0.002, late_ok=True)
            if not _nothing(data):
                return data[:PACKET_SIZE]
        return None

    def info(self) -> dict:
        data = self._call(auc.build_info(self._next_id()), "AUC info")
        result: dict = auc.decode_info(data)
        result["version"] = self.version
        return result

    def close(self) -> None:
        try:
            usb.util.dispose_resources(self.device)
        except usb.core.USBError:
            pass


def _nothing(data: bytes) -> bool:
    """A reply that carries no frame: short, or the idle bus (every byte 0xFF)."""
    return len(data) < PACKET_SIZE or data[:PACKET_SIZE].count(0xFF) == PACKET_SIZE
