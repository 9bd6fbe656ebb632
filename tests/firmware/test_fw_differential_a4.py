"""The Avalon 4 differential test: one script of host frames, built here by hand from MM
``avalon4`` ``main.c`` and cgminer ``driver-avalon4.c``, written over I2C to Canaan's
MM40/MM41/MM50 firmware and to our emulator of the same model; every reply compared field
by field.  Excluded by name, with the reason:

- ``dna``: each FPGA's own; ``version``: the build's commit (the model prefix is compared);
- ``temperature_mm``, ``fan_rpm``: two different sensor models (and the firmware's trimmed
  mean starts from zero);
- ``local_works``, ``hw_errors``, ``counts``: how many chip results came since the last
  report depends on timing;
- ``miner``, ``chip``: which chip finds the nonce;
- STATUS_MA's moving averages: per-chip error history.
"""

from __future__ import annotations

import struct
import threading
import time

import pytest

from asicdrv.emulator import Emulator
from blocks import BLOCK_170, notify_params
from firmware_protocols.mm import decode_device_frame
from harness import FirmwareI2CBus, FirmwareModule, build
from test_generations import be32, xmodem

pytestmark = pytest.mark.firmware

EXCLUDED = {
    "dna",
    "version",
    "temperature_mm",
    "fan_rpm",
    "local_works",
    "hw_errors",
    "counts",
    "miner",
    "chip",
    "data",
}
VOLTAGE = {"MM40": 0xC100, "MM41": 0xA900, "MM50": 0xA900}  # 0.6875 V: ADP3208D, NCP5392P
CPM_200 = 0x1E278447  # cgminer g_freq_array, 200 MHz (= system_config.h ASIC_PLL)
MINERS = {"MM40": 10, "MM41": 10, "MM50": 2}


def cn(code: int, data: bytes = b"", idx: int = 1, cnt: int = 1, opt: int = 0) -> bytes:
    """A host frame: "CN", type, OPT, IDX, CNT, 32 bytes, CRC-16/XMODEM high byte first
    (main.c decode_pkg)."""
    data = data.ljust(32, b"\0")
    return b"CN" + bytes((code, opt, idx, cnt)) + data + xmodem(data).to_bytes(2, "big")


def settings(model: str, nonce2: int) -> list[bytes]:
    miners, word = MINERS[model], VOLTAGE[model]
    slots = [0] * 16
    for i in range(miners):  # cgminer avalon4_set_voltage's slot order
        slots[(4 + i // 5 * 5) - i + i // 5 * 5] = word
    mhz = 200 | 200 << 10 | 200 << 20
    return [
        cn(0x22, b"".join(s.to_bytes(2, "big") for s in slots)),  # SET_VOLT
        cn(0x20, be32(0, word, mhz, nonce2, 0) + bytes((1, 255, 3))),  # SET
        cn(0x23, be32(CPM_200, CPM_200, CPM_200)),  # SET_FREQ
    ]


def job(model: str) -> tuple[list[bytes], list[bytes], int]:
    """cgminer avalon4_stratum_pkgs for block 170: STATIC, TARGET, JOB_ID, the coinbase
    as its prehash (the SHA-256 initial state here: nothing precedes nonce2's block) then
    the rest, MERKLES, the 128-byte header_bin."""
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    _, prevhash, coinb1, coinb2, branch, version, nbits, ntime, _ = params
    coinbase = bytes.fromhex(coinb1 + en1) + bytes(size) + bytes.fromhex(coinb2)
    offset = len(bytes.fromhex(coinb1 + en1))
    iv = be32(0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C)
    iv += be32(0x1F83D9AB, 0x5BE0CD19)
    chunks = [iv] + [coinbase[i : i + 32] for i in range(0, len(coinbase), 32)]
    header = bytes.fromhex(version + prevhash) + bytes(32) + bytes.fromhex(ntime + nbits)
    header += bytes(4) + bytes.fromhex("000000800000000000000000000000000000000000000000")
    header = header.ljust(124, b"\0") + bytes.fromhex("80020000")
    frames = [
        cn(0x11, be32(len(coinbase), offset, size, 36, len(branch), 1, 0)),
        cn(0x16, (0xFFFF << 208).to_bytes(32, "little")),
        cn(0x12, b"\x12\x34"),
        *[cn(0x13, c, i + 1, len(chunks)) for i, c in enumerate(chunks)],
        *[cn(0x14, bytes.fromhex(b), i + 1, len(branch)) for i, b in enumerate(branch)],
        *[cn(0x15, header[i * 32 : (i + 1) * 32], i + 1, 4) for i in range(4)],
    ]
    return frames, settings(model, nonce2), nonce2


SLOW_S = 5.0


def ask(bus, address: int, frame: bytes, wait: float = 0.01, patience: float = 0.5) -> list[bytes]:
    """The reply to ``frame``, read again until it is ready (the firmware under qemu on a
    loaded machine can take longer than ``wait``), or none after ``patience``.  A frame
    nobody acknowledged is written again: main.c sends ACKDETECT before it takes its new
    address (iic_addr_set), so under qemu a poll right after the detect can meet nobody."""
    deadline = time.monotonic() + patience
    while bus.write(address, frame) is False and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(wait)
    while True:
        reply = bus.read(address, 40)
        if len(reply) == 40:
            return [reply]
        if time.monotonic() >= deadline:
            return []
        time.sleep(0.005)


def play(bus, model: str) -> dict[str, list[bytes]]:
    steps: dict[str, list[bytes]] = {}
    poll = cn(0x30)
    # replies that must come, read again for up to SLOW_S: qemu can be starved for seconds
    # when four workers share two cores (a status reply came after 2 s once today)
    steps["detect"] = ask(bus, 0, cn(0x10, be32(0, 0, 0, 0, 0, 0, 0, 1)), 0.02, SLOW_S)
    steps["status round"] = [r for _ in range(4) for r in ask(bus, 1, poll, patience=SLOW_S)]
    frames, per_module, _ = job(model)
    for frame in per_module:
        bus.write(1, frame)
        time.sleep(0.35)  # a power-on blocks the MM: each blade 100 ms, then a chip reset
    # the settings burst can block the firmware under qemu past 0.5 s on a loaded machine
    steps["status after the settings"] = [
        r for _ in range(4) for r in ask(bus, 1, poll, patience=SLOW_S)
    ]
    for frame in frames:
        bus.write(0, frame)
        time.sleep(0.002)
    for frame in per_module:
        bus.write(1, frame)
        time.sleep(0.05)
    bus.write(0, cn(0x21))  # FINISH
    nonce: list[bytes] = []
    deadline = time.monotonic() + 10
    while not nonce and time.monotonic() < deadline:
        nonce = [r for r in ask(bus, 1, poll) if r[2] == 0x42]
    steps["nonce"] = nonce
    return steps


def fields(frame: bytes) -> dict:
    pkt = decode_device_frame(frame)
    out = {k: v for k, v in pkt.fields().items() if not k.startswith("_") and k not in EXCLUDED}
    if "version" in pkt.fields():
        out["model prefix"] = pkt.fields()["version"][:2]
    return {"type": getattr(pkt.type, "name", pkt.type), **out}


@pytest.mark.parametrize("model", ["MM41", "MM40", "MM50"])
def test_the_emulated_mm4_answers_the_script_as_the_firmware_does(model):
    module = FirmwareModule(build(model), nonces=[BLOCK_170["nonce"]])
    try:
        module.wait_event("READY", timeout=15)
        firmware = play(FirmwareI2CBus([module]), model)
    finally:
        module.close()
    emu = Emulator(model=model, modules=1, seed=3, nonce_start=BLOCK_170["nonce"], nonce_mask=32)
    try:
        emulated = play(emu.i2c_device(), model)
    finally:
        emu.close()
    assert firmware["nonce"], "the firmware found no nonce: the script is wrong"
    for step in firmware:
        got = [fields(f) for f in emulated[step]]
        want = [fields(f) for f in firmware[step]]
        assert got == want, step
    assert struct.unpack(">I", firmware["nonce"][0][6 + 20 : 6 + 24])  # a raw nonce came


def test_the_temperature_starts_from_zero_on_both():
    """G12: read_temp (twipwm.c) takes a sample a second into ten that start at 0 and
    reports their mean without the highest and lowest: the first readings after power-on
    are low, rising over ten seconds, on the firmware and on the emulated MM41 alike."""

    def temperatures(bus) -> list[int]:
        ask(bus, 0, cn(0x10, be32(0, 0, 0, 0, 0, 0, 0, 1)), 0.02)
        out = []
        for _ in range(12):  # a poll every 0.3 s keeps the MM's 3 s idle timer away
            out += [struct.unpack(">i", r[6:10])[0] for r in ask(bus, 1, cn(0x30)) if r[2] == 0x41]
            time.sleep(0.3)
        return out

    module = FirmwareModule(build("MM41"), temp=(1, 25))  # 0x49: read_temp
    emu = Emulator(model="MM41", modules=1, seed=3, ambient_c=25)
    readings: dict[str, list[int]] = {}
    try:
        module.wait_event("READY", timeout=15)
        buses = {"firmware": FirmwareI2CBus([module]), "emulator": emu.i2c_device()}
        threads = [
            threading.Thread(target=lambda k=k, b=b: readings.__setitem__(k, temperatures(b)))
            for k, b in buses.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        module.close()
        emu.close()
    for reading in (readings["firmware"], readings["emulator"]):
        first, later = reading[0], reading[-1]
        assert first <= 3 and 0 < later < 25, reading  # 25 C only after ten seconds


def test_each_module_starts_its_nonce2_where_the_firmware_puts_it():
    """G11: SET's window is split in 64 by module id: module k starts at start + range/64
    x k (main.c); the emulated MM4 starts where the firmware does."""
    start, span = 0x01000000, 0x40000000
    frames, per_module, _ = job("MM41")
    mhz = 200 | 200 << 10 | 200 << 20
    per_module[1] = cn(0x20, be32(0, VOLTAGE["MM41"], mhz, start, span) + bytes((1, 255, 3)))

    def first_nonce2(bus) -> None:
        ask(bus, 0, cn(0x10, be32(0, 0, 0, 0, 0, 0, 0, 1)), 0.02)
        for frame in frames:
            bus.write(0, frame)
            time.sleep(0.002)
        for frame in per_module:
            bus.write(1, frame)
            time.sleep(0.35)
        bus.write(0, cn(0x21))
        time.sleep(0.5)

    module = FirmwareModule(build("MM41"))
    emu = Emulator(model="MM41", modules=1, seed=3)
    try:
        module.wait_event("READY", timeout=15)
        first_nonce2(FirmwareI2CBus([module]))
        first_nonce2(emu.i2c_device())
        firmware = int(module.wait_event("NONCE2")[1][2], 16)
        emulated = emu.modules[0].scanner.job.nonce2_start
    finally:
        module.close()
        emu.close()
    assert firmware == start + span // 64 * 1 == emulated
