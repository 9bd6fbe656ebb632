"""The AUC's differential test: USB packet scripts played to Canaan's AUC firmware (tag
AUC-20151208, built and run by auc_harness.py) and to our emulated AUC, each in front of
the same emulated modules, every reply compared byte for byte.

The packets are built here by hand from the firmware's ``lpcusbsio_i2c.h`` (header: length,
transaction id, session id, request) and cgminer's ``avalon8_auc_init_pkg`` (RESET, DEINIT,
INIT and INFO written as 64 bytes, XFER as its length), the MM frames as cgminer's
``avalon8_init_pkg`` fills them, never by our encoder.  Excluded by name: INFO's temperature
ADC (bytes 4-5), the board's sensor model vs the emulator's thermal model.  What the two
still do differently is listed in docs/emulator.md ("The AUC").
"""

from __future__ import annotations

import struct
import time

import pytest
import usb.core

from asicdrv.emulator import Emulator
from asicdrv.emulator.usb_backend import EmulatedUsbBackend
from auc_harness import FirmwareAuc
from test_wire_fidelity import cgminer_cmd, cgminer_xfer, detect_data, mm_frame

pytestmark = pytest.mark.firmware

RESET, DEINIT, INFO = cgminer_cmd(0xA0), cgminer_cmd(0xA2), cgminer_cmd(0xA6)
INIT = cgminer_cmd(0xA1, struct.pack("<II", 400_000, 19_200))
DETECT = cgminer_xfer(0, mm_frame(0x10, detect_data(1)))  # module 1 takes address 1
POLL = mm_frame(0x30, b"")
POLL_1 = cgminer_xfer(1, POLL)
NOBODY = 5  # an address no module holds


def rw(request: int, length: int, options: int, slave: int, data: bytes = b"") -> bytes:
    """0xA3 / 0xA4, LPCUSBSIO's RW request (CDC_I2C_RW_PARAMS_T): LE16 length, options,
    address, the data; options 3 = START and STOP."""
    body = struct.pack("<HBB", length, options, slave) + data
    return bytes((4 + len(body), 0x21, 0, request)) + body


def w(packet: bytes):
    return ("w", packet)


READ = ("r", 300)  # a reply is expected
NOTHING = ("r", 100)  # none is
INFO_READ = ("info", 300)

SCRIPTS = {
    # A2-A4: INFO's counts (the INFO itself; replies not yet given to USB + 1; a reply in the
    # IN endpoint), state 2
    "info at rest": [w(INFO), INFO_READ, w(INIT), READ, w(INFO), INFO_READ],
    "info with replies unread": [
        w(INFO),
        w(INFO),
        w(INFO),
        INFO_READ,
        INFO_READ,
        INFO_READ,
        NOTHING,
    ],
    # A5: RESET flushes nothing
    "reset keeps replies": [w(INFO), w(INFO), w(RESET), INFO_READ, INFO_READ, READ, NOTHING],
    # A6: the I2C port is up from power-on: no INIT needed
    "xfer without init": [w(RESET), READ, w(DETECT), READ, w(POLL_1), READ],
    # A7: DEINIT gates the I2C clock off; the XFER hangs, requests queue behind it, a RESET
    # aborts it (ERROR) and the queue runs; INIT brings the port back
    "deinit hangs the next xfer": [
        *(w(DEINIT), READ, w(DETECT), NOTHING, w(INFO), w(INFO), NOTHING, w(RESET)),
        *(READ, INFO_READ, INFO_READ, READ, NOTHING, w(DETECT), NOTHING, w(RESET), READ, READ),
        *(w(INIT), READ, w(DETECT), READ),
    ],
    # A8: NAK (0x02) for an unanswered SLA+W, with or without a read; SLAVE_NAK (0x04) for an
    # unanswered SLA+R (a read alone)
    "absent module": [
        *(w(cgminer_xfer(NOBODY, POLL)), READ, w(cgminer_xfer(NOBODY, POLL, 0)), READ),
        *(w(cgminer_xfer(NOBODY, b"")), READ, w(cgminer_xfer(NOBODY, b"", 0)), READ),
    ],
    # A9: a module with nothing ready does not acknowledge the read (SLAVE_NAK); one that
    # does gets 4 + rlen bytes, status OK, 0xFF past its reply
    "reads are rlen long": [
        *(w(DETECT), READ, w(cgminer_xfer(1, b"")), READ, w(cgminer_xfer(1, POLL, 60)), READ),
        *(w(cgminer_xfer(1, POLL, 10)), READ, w(cgminer_xfer(1, b"", 40)), READ),
    ],
    # A10: an empty XFER is a read of nothing, and takes the pending reply
    "empty xfer": [
        *(w(DETECT), READ, w(cgminer_xfer(1, POLL, 0)), READ),
        *(w(cgminer_xfer(1, b"", 0)), READ, w(cgminer_xfer(1, b"")), READ),
    ],
    # A11: the length byte is never read; a short packet is completed by its slot's old bytes
    "stale slot bytes": [
        *(w(DETECT), READ, w(POLL_1), READ, w(INFO), INFO_READ, w(INFO), INFO_READ),
        *(w(INFO), INFO_READ, w(POLL_1[:8]), READ),  # slot 1 again: POLL_1's frame
    ],
    "short packets": [  # every slot holds an INFO: a short packet is an INFO with its own bytes
        *[w(INFO), INFO_READ] * 4,
        *(w(bytes((4, 9))), INFO_READ, w(b""), INFO_READ, w(bytes((4, 1, 2))), INFO_READ),
    ],
    "wrong length byte": [w(bytes((60,)) + INFO[1:]), INFO_READ, w(b"\x02" + DETECT[1:]), READ],
    # A12: no full check: four replies behind the endpoint make the ring look empty
    "five unread replies": [*[w(INFO)] * 5, INFO_READ, NOTHING],
    "four unread replies": [*[w(INFO)] * 4, INFO_READ, INFO_READ, INFO_READ, INFO_READ, NOTHING],
    # A13: 0xA3 writes one byte more than asked and returns that many of its slot's old
    # bytes; 0xA4 reads; unknown commands answer INVALID_CMD
    "rw requests": [
        *(w(DETECT), READ, *[w(INFO), INFO_READ] * 3),  # the ACKDETECT's reply slot is next
        *(w(rw(0xA3, 40, 3, 1, POLL)), READ, w(rw(0xA4, 40, 3, 1)), READ),
        *(w(rw(0xA3, 40, 3, NOBODY, POLL)), READ, w(rw(0xA4, 8, 3, NOBODY)), READ),
        *(w(bytes((4, 7, 0, 0xB3))), READ),
    ],
    "rw without start hangs": [
        w(DETECT),
        READ,
        w(rw(0xA4, 8, 2, 1)),
        NOTHING,
        w(RESET),
        READ,
        READ,
    ],
    # ids echoed; INIT with delay 0 keeps the delay; the version string
    "ids and init": [
        *(w(bytes((4, 0x5A, 0x33, 0xA6)) + bytes(60)), INFO_READ),
        *(w(cgminer_cmd(0xA1, struct.pack("<II", 100_000, 0))), READ, w(DETECT), READ),
    ],
}


def play(device, script) -> list[str]:
    replies = []
    for step, value in script:
        if step == "w":
            device.write(0x01, value, 200)
            time.sleep(0.02)  # the firmware takes a packet a millisecond
            continue
        try:
            reply = bytes(device.read(0x81, 64, value))
        except usb.core.USBTimeoutError:
            replies.append("nothing")
            continue
        if step == "info":
            reply = reply[:4] + b"TT" + reply[6:]  # the temperature ADC: excluded
        replies.append(reply.hex())
    return replies


def replies_of(script, firmware: bool) -> list[str]:
    emu = Emulator(model="MM41", modules=2, seed=1)
    auc = FirmwareAuc(emu.i2c_xfer, emu.bus.answers) if firmware else None
    try:
        backend = EmulatedUsbBackend([auc]) if auc else emu.usb_backend()
        return play(usb.core.find(idVendor=0x29F1, backend=backend), script)
    finally:
        if auc:
            auc.close()
        emu.close()


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_emulated_auc_answers_as_its_firmware(name):
    script = SCRIPTS[name]
    firmware = replies_of(script, firmware=True)
    assert replies_of(script, firmware=False) == firmware
    assert any(r != "nothing" for r in firmware)
