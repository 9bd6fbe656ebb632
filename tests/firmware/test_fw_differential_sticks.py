"""The sticks' differential test: one script of HID reports played to Canaan's nano and
4-mini firmware and to our emulated stick of the same model, the replies compared field
by field.

The frames are built here by hand from each firmware's ``hid_main.c`` (the 40-byte "CN"
frame, CRC-16/XMODEM over the 32 data bytes, the WORK pair as cgminer's
``driver-avalon-miner.c`` sends it), not by the driver's encoder.  Excluded by name:

- ``dna``: the serial number ROM of the board vs the emulator's seeded DNA;
- STATUS_M d[20] (nano: the TMP102) and d[20]/d[24] (4-mini: copper and fan-side NTC
  ADCs): the sensors are two different physical models (the stand-in reads the test's
  control file, the emulator its thermal model).
"""

from __future__ import annotations

import struct
import time

import pytest

from asicdrv.bitcoin import sha256
from asicdrv.emulator import Emulator
from blocks import BLOCK_170
from firmware_protocols import decode_packet
from firmware_protocols.dialects import AVALON_NANO
from stick_harness import FirmwareStick
from test_generations import xmodem
from test_nano import block_header

pytestmark = pytest.mark.firmware

NONCE = BLOCK_170["nonce"]
SENSOR_WORDS = {"nano": {5}, "4-mini": {5, 6}}


def cn(ptype: int, data: bytes = b"", idx: int = 1, cnt: int = 1, opt: int = 0) -> bytes:
    data = data.ljust(32, b"\0")
    return b"CN" + bytes((ptype, opt, idx, cnt)) + data + xmodem(data).to_bytes(2, "big")


def work_pair(work_id: int, roll: int = 0) -> list[bytes]:
    """WORK (0x24): the midstate of block 170's header, words H7..H0 big-endian; then the
    id, d[8] the ntime roll, d[20..31] nBits, nTime, the merkle tail as in the header."""
    header = block_header(NONCE)
    words = struct.unpack(">8I", sha256.midstate(header[:64]))
    second = struct.pack(">I", work_id).ljust(8, b"\0") + bytes((roll,))
    second = second.ljust(20, b"\0") + header[72:76] + header[68:72] + header[64:68]
    return [cn(0x24, struct.pack(">8I", *reversed(words)), 1, 2), cn(0x24, second, 2, 2)]


def play(device, script) -> list:
    """Each step: (frames, whether the last one is answered); the replies decoded."""
    replies = []
    for frames, answered, pause in script:
        for frame in frames:
            device.write(0x01, frame)
        time.sleep(pause)
        reply = None
        if answered:
            raw = bytes(device.read(0x81, 40, 1000))
            reply = decode_packet(raw, from_device=True, dialect=AVALON_NANO)
        replies.append(reply)
    return replies


def fields(pkt, model) -> dict:
    if pkt is None:
        return {}
    f = dict(pkt.fields())
    f.pop("dna", None)
    if "words" in f:
        f["words"] = [w for i, w in enumerate(f["words"]) if i not in SENSOR_WORDS[model]]
    if "reports" in f:
        f["reports"] = [dict(r) for r in f["reports"]]
    return {"type": pkt.type, "opt": pkt.opt, **f}


POLL = ([cn(0x30)], True, 0.02)


def nano_script():
    return [
        ([cn(0x10)], True, 0.02),  # DETECT
        POLL,  # idle: power off, LED green
        ([cn(0x22, bytes((0x00, 0x9B)))], False, 0.02),  # SET_VOLT: no handler
        ([cn(0x23, bytes.fromhex("1e278447" * 3))], False, 0.02),  # SET_FREQ: none
        ([cn(0x33)], False, 0.05),  # GET_FREQ: none, no reply
        (work_pair(1), False, 0.1),
        POLL,  # the nonce, labelled with the work's id
        POLL,  # powered: the clock of its loop, the core ADC, LED red
    ]


def mini_script():
    batch = [f for i in range(5) for f in work_pair(i + 1)]
    return [
        ([cn(0x10)], True, 0.02),  # DETECT: chips off
        POLL,
        (batch, False, 0.1),  # unpowered: the boot test's answers still shift out (M9)
        POLL,
        POLL,
        POLL,
        POLL,
        ([cn(0x25, struct.pack(">I", 0x80000000 | 2_000_000))], False, 0.02),  # SETM
        ([cn(0x22, bytes((0x00, 0x9B)))], False, 0.05),  # SET_VOLT: on
        ([cn(0x23, bytes.fromhex("1e278447" * 3))], False, 0.02),  # SET_FREQ, all
        ([cn(0x33)], True, 0.02),  # GET_FREQ, all
        ([cn(0x33, opt=3)], True, 0.02),  # GET_FREQ, chip 2
        POLL,  # powered: voltage code, power good
        (batch, False, 0.1),  # the first batch: the boot test's answers come out
        POLL,
        POLL,
        (batch, False, 0.1),
        POLL,
        (batch, False, 0.1),  # the first batch's nonces come out
        POLL,
        POLL,
        POLL,
        # TEST: 2 rounds at 0.7 V (0x93) and 200 MHz; per-chip counts, the summary
        (
            [cn(0x32, struct.pack(">II", 2, 0x93) + bytes(4) + bytes.fromhex("1e278447" * 3))],
            True,
            0.3,
        ),
        ([], True, 0.02),
        ([], True, 0.02),
        POLL,  # the chips are off again
    ]


@pytest.mark.parametrize("model", ["nano", "4-mini"])
def test_the_stick_and_its_emulator_answer_one_script_alike(model):
    script = nano_script() if model == "nano" else mini_script()
    stick = FirmwareStick(model, nonces=[NONCE])
    try:
        theirs = play(stick, script)
    finally:
        stick.close()
    emu = Emulator(model=model, seed=3, nonce_start=NONCE - 3, hashrate=5000)
    try:
        ours = play(emu.auc, script)
    finally:
        emu.close()
    for step, (a, b) in enumerate(zip(theirs, ours)):
        assert fields(a, model) == fields(b, model), f"step {step}: {script[step][0][0][:6].hex()}"
    assert any(p is not None and p.type == 0x42 for p in theirs)  # nonces did come back


@pytest.mark.parametrize("model", ["nano", "4-mini"])
def test_the_emulated_stick_enumerates_as_its_firmware_does(model):
    """Device descriptor, interfaces and strings as the firmware hands them to its USB
    stack (hid_desc.c): class 0xEF/2/1, the 4-mini's DFU interface 0, the serial string."""
    stick = FirmwareStick(model)
    emu = Emulator(model=model, seed=3, hashrate=0)
    try:
        keys = "bcdUSB bDeviceClass bDeviceSubClass bDeviceProtocol bMaxPacketSize0 idVendor"
        keys += " idProduct bcdDevice iManufacturer iProduct iSerialNumber bNumConfigurations"
        theirs, ours = stick.descriptor(), emu.auc.descriptor()
        assert {k: getattr(ours, k) for k in keys.split()} == {
            k: getattr(theirs, k) for k in keys.split()
        }
        assert emu.auc.interfaces() == stick.interfaces()
        assert emu.auc.strings == stick.strings
    finally:
        stick.close()
        emu.close()
