"""Avalon 2 / 3 (MM2, MM3) on a serial line: 39-byte "AV" frames built by hand from
cgminer driver-avalon2.c (docs/families.md, BFGMiner
driver-avalonmm.c, MM master firmware), CRC by the bitwise CRC-16/XMODEM of
tests/test_generations.py: host frames high byte first, device frames low byte first."""

import os
import select
import struct
import time

import pytest

import asicdrv
from asicdrv import LimitError
from asicdrv.emulator import Emulator
from asicdrv.mining.stratum import StratumJob
from blocks import BLOCK_170, notify_params
from conftest import FAST, run
from test_generations import be32, xmodem


def av(code, data, idx=1, cnt=1, crc_order="big"):
    data = data.ljust(32, b"\0")
    return b"AV" + bytes((code, idx, cnt)) + data + xmodem(data).to_bytes(2, crc_order)


def host_frames(emu, code):
    return [f for _, d, f in emu.traffic.frames if d == ">" and f[2] == code]


def settings_polls(emu):
    """The POLLINGs that carried settings: d[24..27] non-zero (MM2 firmware main.c)."""
    return [f for f in host_frames(emu, 16) if f[5 + 24 : 5 + 28] != bytes(4)]


def block_job():
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    return StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=1 / 65536
    ), nonce2


def test_detection_and_job_frames_are_byte_exact():
    """DETECT (10) carries the id in d[28..31]; a job is STATIC (11, pool difficulty
    clamped to 1..64 and pool number), TARGET (17), JOB_ID (12, the tag), the whole
    coinbase from IDX 1 (13), MERKLES (14), HEADER (15) x 4, then SET (19): fan PWM, the
    ADP3208D word for 1.0000 V (rev8(((0x78 - 80) << 1) | 1) << 8 = 0x8a00), 1500 MHz,
    nonce2 start and range."""
    job, nonce2 = block_job()
    emu = Emulator(model="MM2", modules=2, seed=4)
    with asicdrv.open("emu://", emulator=emu, start=False, **FAST) as chain:
        assert [m.model for m in chain.modules] == ["MM2", "MM2"]
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0, pool=1)
        deadline = time.monotonic() + 5  # the line is a pty: let it be read
        while not host_frames(emu, 19) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert host_frames(emu, 10)[:3] == [av(10, be32(0, 0, 0, 0, 0, 0, 0, i)) for i in range(3)]
    codes = [f[2] for _, d, f in emu.traffic.frames if d == ">" and f[2] not in (10, 16)]
    coinbase = job.coinbase_template
    chunks = (len(coinbase) + 31) // 32
    assert codes == [11, 17, 12] + [13] * chunks + [14] + [15] * 4 + [19]
    assert host_frames(emu, 11)[0] == av(11, be32(len(coinbase), job.nonce2_offset, 4, 36, 1, 1, 1))
    assert host_frames(emu, 12)[0] == av(12, struct.pack(">H", job.job_crc))
    assert host_frames(emu, 13)[0] == av(13, coinbase[:32], 1, chunks)
    fan = 0x3FF - 10 * 0x3FF // 100  # the fan starts at the 10 % floor
    assert host_frames(emu, 19)[0] == av(19, be32(fan, 0x8A00, 1500, nonce2, 0))


def test_settings_ride_on_the_next_poll():
    """MM2 firmware: a POLLING whose d[24..27] is non-zero applies fan d[0], voltage d[4]
    and clock d[8]; LED in d[12..15], the id in d[28..31]."""
    emu = Emulator(model="MM3", modules=1, seed=4)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.set_frequency(425)  # the MM3 boots at 400 MHz (ASIC_FREQUENCY)
        chain.set_voltage_level(7000)
        chain.set_fan(60)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and emu.modules[0].physics.frequencies != [[425]] * 5:
            time.sleep(0.02)
        with pytest.raises(LimitError, match="300..2000"):
            chain.set_frequency(2100)
    assert emu.modules[0].physics.voltage_levels == [7000] * 5
    word = int(f"{(0x78 - 56) << 1 | 1:08b}"[::-1], 2) << 8  # rev8 by hand
    polls = settings_polls(emu)
    assert av(16, be32(0x3FF - 60 * 0x3FF // 100, word, 425, 0, 0, 0, 1, 0)) in polls


def test_unchanged_settings_are_not_sent_again():
    """MM firmware main.c: a POLLING with d[24..27] non-zero ends in alink_flush_fifo, which
    drops the chips' queued work and any nonce not yet read (the vendor-firmware run lost a
    block that way, one run in many, with the fan adjusted every 50 ms).  cgminer sends
    settings only in SET; the host sends a settings POLLING only when the fan, voltage or
    clock it carries changed, and again after the module lost them."""
    emu = Emulator(model="MM3", modules=1, seed=4)
    job, nonce2 = block_job()
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.set_fan(60)  # no PID: the duty stays
        # the PID's first step may have gone out before set_fan (a loaded machine is slow
        # to get here): what counts is what follows
        before = len(settings_polls(emu))
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        time.sleep(2)  # 40 fan intervals
        polls = settings_polls(emu)
        assert len(polls) - before <= 1, len(polls)  # the fan duty once (SET carried the rest)
        chain.set_fan(70)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and emu.modules[0].physics.fan_percent != 70:
            time.sleep(0.02)
        polls = settings_polls(emu)
    assert polls[-1][5:9] == (0x3FF - 70 * 0x3FF // 100).to_bytes(4, "big")
    assert len(polls) - before <= 2, len(polls)


def test_the_fan_pid_moves_an_mm_fan_in_steps_worth_a_flush():
    """Each fan change on an Avalon 2/3 is a settings POLLING, which flushes the chips'
    work (F12): the PID's duty goes out when it moved 5 points or more, and the duty shown
    is the one sent."""
    emu = Emulator(model="MM3", modules=1, seed=4)
    job, nonce2 = block_job()
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        time.sleep(3)  # the boards warm from cold: the PID ramps the fan up
        for _ in range(40):  # the duty shown is the last one the module got (one may be
            shown = chain.status().modules[0].fan_percent  # on its way when read)
            polls = settings_polls(emu)
            duties = [round((0x3FF - int.from_bytes(f[5:9], "big")) * 100 / 0x3FF) for f in polls]
            if duties and duties[-1] == shown:
                break
            time.sleep(0.05)
    assert len(duties) >= 2, duties  # the fan did follow the heat
    assert all(abs(b - a) >= 5 for a, b in zip(duties, duties[1:])), duties
    assert shown == duties[-1], (shown, duties)


def hand_nonce(wire_id, nonce2):
    """NONCE (23): miner, pool, nonce2, ntime, the nonce + 0x180 (as read big-endian from
    the header's four nonce bytes), the job tag, the module id; CRC low byte first."""
    job, _ = block_job()
    raw = int.from_bytes(struct.pack("<I", BLOCK_170["nonce"]), "big") + 0x180
    data = be32(3, 0, nonce2, 0, raw) + struct.pack(">H", job.job_crc) + bytes(6) + be32(wire_id)
    return av(23, data, crc_order="little")


def test_a_hand_built_nonce_from_the_second_module_becomes_the_block():
    job, nonce2 = block_job()
    emu = Emulator(model="MM2", modules=2, seed=4, hashrate=0)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        emu.modules[1].nonces.append(hand_nonce(1, nonce2))
        share = chain.next_share(timeout=10)
    assert share is not None and share.hash == BLOCK_170["hash"]
    assert (share.module, share.miner) == (2, 3)


def test_every_avalon2_model_mines_block_170_on_its_line():
    for model in ("MM2", "MM3"):
        job, nonce2 = block_job()
        url = f"emu://?model={model}&nonce_start={BLOCK_170['nonce']}&nonce_mask=32"
        with asicdrv.open(url, **FAST) as chain:
            assert chain.link.name.endswith("family=avalon2")
            chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
            share = chain.next_share(timeout=20)
            status = chain.refresh(timeout=10)
        assert share is not None and share.hash == BLOCK_170["hash"], model
        assert status.modules[0].hashrate_ghs > 0 and status.modules[0].temperature_c
        assert status.modules[0].power_good is True, model  # one byte, 10 miners


def test_the_line_answers_bfgminers_back_to_back_detects():
    """BFGMiner writes four DETECTs (ids 0..3) at once, then reads 39-byte frames until a
    read times out (driver-avalonmm.c:169-232): two modules, two ACKDETECTs."""
    emu = Emulator(model="MM3", modules=2, seed=4)
    with emu.serve_serial() as server:
        fd = os.open(server.path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"".join(av(10, be32(0, 0, 0, 0, 0, 0, 0, i)) for i in range(4)))
            data = b""
            while select.select([fd], [], [], 0.3)[0]:
                data += os.read(fd, 4096)
        finally:
            os.close(fd)
    frames = [data[i : i + 39] for i in range(0, len(data), 39)]
    assert [f[2] for f in frames] == [25, 25]
    for wire_id, f in enumerate(frames):
        assert f[5:20].rstrip(b"\0").decode().startswith("33")  # an Avalon 3
        assert f[5 + 28 : 5 + 32] == be32(wire_id)
        assert int.from_bytes(f[37:39], "little") == xmodem(f[5:37])


def test_a_serial_line_needs_its_family_named_and_scan_finds_it():
    with pytest.raises(LimitError, match="avalon2"):
        asicdrv.open("serial:///dev/null?family=avalon9")
    out = run("scan", "--device", "emu://?model=MM3&modules=3")
    assert out.returncode == 0 and out.stdout.count("  MM3  ") == 3
    with pytest.raises(LimitError, match="over serial"):
        asicdrv.open("emu://?model=MM2&link=usb")
