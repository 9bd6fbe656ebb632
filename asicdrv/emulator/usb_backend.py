"""A pyusb backend (``usb.backend.IBackend``) on which the emulated AUC is a USB device.

``usb.core.find(idVendor=0x29f1, idProduct=0x33f2, backend=emu.usb_backend())`` returns
the bridge with its real descriptors and strings, and bulk transfers on 0x01 / 0x81 speak
the AUC protocol, so the driver's real pyusb code path runs against the emulator.
(pyftdi's virtual USB backend is the public example of the technique.)
"""

from __future__ import annotations

import errno
import threading
import time
from types import SimpleNamespace

import usb.backend
import usb.core

from firmware_protocols import auc
from .auc_bridge import AucBridge
from .traffic import TrafficLog

_STRINGS = {1: auc.USB_MANUFACTURER, 2: auc.USB_PRODUCT, 3: "AUC0000001"}
_LANG_EN_US = 0x0409
_GET_DESCRIPTOR = 6
_DESC_STRING = 3


def no_device() -> usb.core.USBError:
    return usb.core.USBError("No such device (it may have been disconnected)", -4, errno.ENODEV)


class EmulatedUsbDevice:
    """What every emulated USB device shares: plugged in or not, and the ``disconnect``
    fault that unplugs it after so many transfers."""

    connected = True
    disconnect_after: int | None = None
    transfers = 0
    bus = 1
    address = 1

    def _device_descriptor(
        self,
        device_class: tuple[int, int, int],
        vendor: int,
        product: int,
        *,
        port: int,
        speed: int,
        bcd_usb: int = 0x0200,
        bcd_device: int = 0x0100,
        max_packet0: int = 64,
        string_indexes: tuple[int, int, int] = (1, 2, 3),
        configurations: int = 1,
    ):
        """The device descriptor as pyusb's backend hands it over, at this device's place
        on the bus (``self.bus``, ``self.address``)."""
        return SimpleNamespace(
            bLength=18,
            bDescriptorType=1,
            bcdUSB=bcd_usb,
            bDeviceClass=device_class[0],
            bDeviceSubClass=device_class[1],
            bDeviceProtocol=device_class[2],
            bMaxPacketSize0=max_packet0,
            idVendor=vendor,
            idProduct=product,
            bcdDevice=bcd_device,
            iManufacturer=string_indexes[0],
            iProduct=string_indexes[1],
            iSerialNumber=string_indexes[2],
            bNumConfigurations=configurations,
            address=self.address,
            bus=self.bus,
            port_number=port,
            port_numbers=(port,),
            speed=speed,
        )

    def _count_transfer(self) -> None:
        if not self.connected:
            raise no_device()
        self.transfers += 1
        if self.disconnect_after is not None and self.transfers > self.disconnect_after:
            self.connected = False
            raise no_device()


class EmulatedAuc(EmulatedUsbDevice):
    """One AUC on the virtual bus."""

    def __init__(
        self,
        bridge: AucBridge,
        traffic: TrafficLog,
        *,
        bus: int = 1,
        address: int = 7,
        disconnect_after: int | None = None,
    ):
        self.bridge = bridge
        self.traffic = traffic
        self.bus = bus
        self.address = address
        self.connected = True
        self.disconnect_after = disconnect_after
        self.transfers = 0
        self.lock = threading.Lock()
        # enumerated by the operating system: it arrives configured
        self.configuration = auc.USB_CONFIGURATION
        self.claimed: set[int] = set()

    strings = _STRINGS

    def interfaces(self) -> dict[int, tuple[int, list]]:
        """interface -> (class, [(endpoint address, attributes, max packet)]): the CDC
        communication interface (no endpoint in use) and the data interface (bulk)."""
        return {0: (0x02, []), 1: (0x0A, [(auc.EP_IN, 0x02, 64), (auc.EP_OUT, 0x02, 64)])}

    def descriptor(self):
        """The AUC: a CDC device (class 2), speed 3 as libusb reports it for the bridge."""
        return self._device_descriptor(
            (0x02, 0, 0), auc.USB_VENDOR_ID, auc.USB_PRODUCT_ID, port=1, speed=3
        )

    @property
    def replies(self) -> list[bytes]:
        """What a host's read would get next: the reply in the IN endpoint, if any (the
        sticks' devices have the same view of their queue)."""
        pending = self.bridge.next_reply()
        return [] if pending is None else [pending[0]]

    def write(self, ep: int, data: bytes) -> int:
        """A bulk OUT transfer: 64-byte USB packets, each an AUC request of its own (a
        short one is a whole request too: cgminer writes XFERs at their length)."""
        with self.lock:
            self._count_transfer()
            if ep != auc.EP_OUT:
                raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
            self.traffic.record(">", data)
            for i in range(0, max(len(data), 1), auc.AUC_PACKET_SIZE):
                self.bridge.handle(bytes(data[i : i + auc.AUC_PACKET_SIZE]))
            return len(data)

    def read(self, ep: int, size: int, timeout_ms: int) -> bytes:
        """A bulk IN transfer: the reply in the endpoint, exactly as long as its length
        byte, once the AUC has finished it (on the emulator's clock), within the timeout."""
        with self.lock:
            self._count_transfer()
            if ep != auc.EP_IN:
                raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        deadline = time.monotonic() + (timeout_ms / 1000 if timeout_ms else 1.0)
        while True:
            with self.lock:
                pending = self.bridge.next_reply()
                wait = 0.001 if pending is None else pending[1] - self.bridge.clock()
                if wait <= 0:
                    reply = self.bridge.take_reply()
                    break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
            time.sleep(min(wait, remaining))
        if len(reply) > size:  # libusb: the device sent more than was asked for
            raise usb.core.USBError("Overflow", -8, errno.EOVERFLOW)
        self.traffic.record("<", reply)
        return reply


class EmulatedUsbBackend(usb.backend.IBackend):
    """The backend: every method speaks for the devices of one emulator."""

    def __init__(self, devices: list):
        self.devices = devices

    # --- enumeration and descriptors ---------------------------------------------------------
    def enumerate_devices(self):
        return [d for d in self.devices if d.connected]

    def get_parent(self, dev):
        return None

    def get_device_descriptor(self, dev):
        return dev.descriptor()

    def get_configuration_descriptor(self, dev, config):
        if config != 0:
            raise usb.core.USBError("Entity not found", -5, errno.ENOENT)
        interfaces = dev.interfaces()
        total = 9 + sum(9 + 7 * len(eps) for _, eps in interfaces.values())
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=2,
            wTotalLength=total,
            bNumInterfaces=len(interfaces),
            bConfigurationValue=dev.configuration or 1,
            iConfiguration=0,
            bmAttributes=0x80,
            bMaxPower=50,
            extra_descriptors=[],
        )

    def get_interface_descriptor(self, dev, intf, alt, config):
        interfaces = dev.interfaces()
        if config != 0 or alt != 0 or intf not in interfaces:
            raise usb.core.USBError("Entity not found", -5, errno.ENOENT)
        cls, eps = interfaces[intf]
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=4,
            bInterfaceNumber=intf,
            bAlternateSetting=0,
            bNumEndpoints=len(eps),
            bInterfaceClass=cls,
            bInterfaceSubClass=0x02 if cls == 2 else 0,
            bInterfaceProtocol=0,
            iInterface=0,
            extra_descriptors=[],
        )

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        interfaces = dev.interfaces()
        if (
            config != 0
            or alt != 0
            or intf not in interfaces
            or not 0 <= ep < len(interfaces[intf][1])
        ):
            raise usb.core.USBError("Entity not found", -5, errno.ENOENT)
        address, attributes, size = interfaces[intf][1][ep]
        return SimpleNamespace(
            bLength=7,
            bDescriptorType=5,
            bEndpointAddress=address,
            bmAttributes=attributes,
            wMaxPacketSize=size,
            bInterval=1 if attributes == 0x03 else 0,
            bRefresh=0,
            bSynchAddress=0,
            extra_descriptors=[],
        )

    # --- handles -------------------------------------------------------------------------------
    def open_device(self, dev):
        if not dev.connected:
            raise no_device()
        return dev

    def close_device(self, dev_handle):
        pass

    def set_configuration(self, dev_handle, config_value):
        if not dev_handle.connected:
            raise no_device()
        dev_handle.configuration = config_value

    def get_configuration(self, dev_handle):
        if not dev_handle.connected:
            raise no_device()
        return dev_handle.configuration

    def set_interface_altsetting(self, dev_handle, intf, altsetting):
        pass

    def claim_interface(self, dev_handle, intf):
        if not dev_handle.connected:
            raise no_device()
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle, intf):
        dev_handle.claimed.discard(intf)

    def is_kernel_driver_active(self, dev_handle, intf):
        return False

    def detach_kernel_driver(self, dev_handle, intf):
        pass

    def attach_kernel_driver(self, dev_handle, intf):
        pass

    def clear_halt(self, dev_handle, ep):
        pass

    def reset_device(self, dev_handle):
        if not dev_handle.connected:
            raise no_device()

    # --- transfers -----------------------------------------------------------------------------
    def bulk_write(self, dev_handle, ep, intf, data, timeout):
        return dev_handle.write(ep, bytes(data))

    def bulk_read(self, dev_handle, ep, intf, buff, timeout):
        data = dev_handle.read(ep, len(buff), timeout)
        buff[: len(data)] = type(buff)(buff.typecode, data)
        return len(data)

    intr_write = bulk_write  # the nano's HID reports: interrupt endpoints
    intr_read = bulk_read

    def ctrl_transfer(self, dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout):
        if not dev_handle.connected:
            raise no_device()
        if bmRequestType & 0x80 and bRequest == _GET_DESCRIPTOR and wValue >> 8 == _DESC_STRING:
            index = wValue & 0xFF
            if index == 0:
                raw = bytes((4, _DESC_STRING)) + _LANG_EN_US.to_bytes(2, "little")
            elif index in dev_handle.strings:
                text = dev_handle.strings[index].encode("utf-16-le")
                raw = bytes((2 + len(text), _DESC_STRING)) + text
            else:
                raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
            raw = raw[: len(data)]
            data[: len(raw)] = type(data)(data.typecode, raw)
            return len(raw)
        if bmRequestType & 0x80:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        return len(data) if data is not None else 0
