"""The differential test: one script of host frames played to Canaan's MM2/MM3 firmware and
to our emulator of the same model, the replies compared field by field.

The frames are built here by hand from the firmware's decode_pkg() and cgminer's
driver-avalon2.c (header_bin, STATIC, TARGET), not by the driver's encoder.  Fields that
legitimately differ are excluded by name, with the reason:

- ``version``: the build's commit (compared: the model's prefix up to the dash);
- ``temperatures``, ``fans_rpm``: the sensors are two different physical models;
- ``local_works``, ``hw_errors``: the count of chip results since the last STATUS
  depends on when the chips report (the firmware's stand-in chips report only solutions);
- ``miner``: which miner of the module finds a nonce.
"""

from __future__ import annotations

import os
import select
import time

import pytest

from asicdrv.emulator import Emulator
from blocks import BLOCK_170, notify_params
from firmware_protocols import decode_packet
from firmware_protocols.dialects import AVALON2
from test_avalon2 import av
from test_fw_avalon2 import firmware_line
from test_generations import be32

pytestmark = pytest.mark.firmware

EXCLUDED = {"version", "temperatures", "fans_rpm", "local_works", "hw_errors", "miner"}
HEADER_PADDING = bytes.fromhex(
    "000000800000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000080020000"
)  # cgminer's workpadding after the 80-byte header


def vid_word(level: int) -> int:
    """ADP3208D VID word for a level in 0.1 mV: code 0x78 - level/125, shifted left with
    the enable bit, bit-reversed in the high byte (cgminer encode_voltage)."""
    code = (0x78 - level // 125) << 1 | 1
    return int(f"{code:08b}"[::-1], 2) << 8


def job_frames() -> tuple[list[bytes], int]:
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    _, prevhash, coinb1, coinb2, branch, version, nbits, ntime, _ = params
    coinbase = bytes.fromhex(coinb1 + en1) + bytes(size) + bytes.fromhex(coinb2)
    nonce2_offset = len(bytes.fromhex(coinb1 + en1))
    header = bytes.fromhex(version + prevhash) + bytes(32) + bytes.fromhex(ntime + nbits)
    header += bytes(4) + HEADER_PADDING
    assert len(header) == 128
    target = (0xFFFF << 208).to_bytes(32, "little")  # difficulty 1, as cgminer set_target
    chunks = [coinbase[i : i + 32] for i in range(0, len(coinbase), 32)]
    frames = [
        av(11, be32(len(coinbase), nonce2_offset, size, 36, len(branch), 1, 1)),
        av(17, target),
        av(12, b"\x12\x34\x00\x00"),
        *[av(13, c, i + 1, len(chunks)) for i, c in enumerate(chunks)],
        *[av(14, bytes.fromhex(b), i + 1, len(branch)) for i, b in enumerate(branch)],
        *[av(15, header[i * 32 : (i + 1) * 32], i + 1, 4) for i in range(4)],
        av(19, be32(0x3FF - 0x3FF // 2, vid_word(6625), 400, nonce2, 0)),
    ]
    return frames, nonce2


def poll(apply=False, fan=0x1FF, level=6625, mhz=400, led=0):
    if not apply:
        return av(16, be32(0, 0, 0, led, 0, 0, 0, 0))
    return av(16, be32(fan, vid_word(level), mhz, led, 0, 0, 1, 0))


class Wire:
    """Raw frames on a pty: write one, read what comes back within ``wait`` seconds."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.buffer = b""

    def send(self, frame: bytes, wait: float = 0.3, want: int = 1) -> list[bytes]:
        os.write(self.fd, frame)
        return self.read(wait, want)

    def read(self, wait: float, want: int) -> list[bytes]:
        deadline = time.monotonic() + wait
        frames: list[bytes] = []
        while time.monotonic() < deadline and len(frames) < want:
            if select.select([self.fd], [], [], 0.02)[0]:
                self.buffer += os.read(self.fd, 4096)
            while b"AV" in self.buffer and len(self.buffer) - self.buffer.index(b"AV") >= 39:
                start = self.buffer.index(b"AV")
                frames.append(self.buffer[start : start + 39])
                self.buffer = self.buffer[start + 39 :]
        return frames

    def close(self) -> None:
        os.close(self.fd)


def play(path: str, test_wait: float, miners: int) -> dict[str, list[dict]]:
    """The script; each step's replies decoded (type name and fields)."""
    wire = Wire(path)
    frames, _ = job_frames()
    steps: dict[str, list[bytes]] = {}
    try:
        steps["detect id 0"] = wire.send(av(10, be32(0, 0, 0, 0, 0, 0, 0, 0)))
        steps["detect id 1 (nobody)"] = wire.send(av(10, be32(0, 0, 0, 0, 0, 0, 0, 1)), want=0)
        steps["require"] = wire.send(av(18, be32(0, 0, 0, 0, 0, 0, 0, 0)))
        steps["plain poll"] = wire.send(poll())
        steps["settings poll"] = wire.send(poll(apply=True, mhz=425, level=7000))
        steps["next poll"] = wire.send(poll())
        for frame in frames:
            os.write(wire.fd, frame)
        nonce = []
        deadline = time.monotonic() + 10
        while not nonce and time.monotonic() < deadline:
            nonce = [f for f in wire.send(poll(), wait=0.2) if f[2] == 23]
        steps["nonce"] = nonce
        steps["status while mining"] = wire.send(poll())
        # as the driver does: a DETECT of the id first stops the work and flushes the chips'
        # queue (a test sent while hashing reads hash results: every core fails)
        steps["detect before the test"] = wire.send(av(10, be32(0, 0, 0, 0, 0, 0, 0, 0)))
        wire.send(av(20, be32(0, 0, 0, 0, 0, 0, 0, 0)), want=0, wait=0)
        steps["chip test"] = wire.read(test_wait, miners)
    finally:
        wire.close()
    return {name: [decoded(f) for f in replies] for name, replies in steps.items()}


def decoded(frame: bytes) -> dict:
    pkt = decode_packet(frame, from_device=True, dialect=AVALON2)
    fields = {k: v for k, v in pkt.fields().items() if not k.startswith("_")}
    if "version" in fields:
        fields["model prefix"] = fields["version"].split("-")[0]
    return {"type": pkt.type.name, "idx": pkt.idx, **fields}


def compared(replies: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in EXCLUDED} for r in replies]


@pytest.mark.parametrize("model", ["MM3", "MM2"])
def test_the_emulator_answers_the_script_as_the_firmware_does(model):
    miners = 5 if model == "MM3" else 10
    with firmware_line(model, nonces=[BLOCK_170["nonce"]], delay_scale=0.003) as (line, _):
        firmware = play(line.path, test_wait=30, miners=miners)
    emu = Emulator(model=model, modules=1, seed=3, nonce_start=BLOCK_170["nonce"], nonce_mask=32)
    with emu.serve_serial() as server:
        emulated = play(server.path, test_wait=10, miners=miners)
    assert firmware["nonce"], "the firmware found no nonce: the script is wrong"
    assert len(firmware["chip test"]) == miners
    for step in firmware:
        assert compared(emulated[step]) == compared(firmware[step]), step
