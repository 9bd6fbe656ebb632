"""What real host software sends, and what a real AUC and MM answer (issue: emulator
fidelity).  Frames here are built by hand from cgminer's driver-avalon8.c and the AUC
firmware's packet format, checked with binascii's CRC-16/XMODEM, never by our encoder."""

import binascii
import struct
import threading
import time

import pytest
import usb.core

import asicdrv
from asicdrv import Emulator
from asicdrv.transport.usb_auc import AucLink
from blocks import GENESIS, notify_params
from conftest import FAST
from firmware_protocols import PacketType as T, auc, decode_packet, describe_frame

AUC_READ = 0x81
AUC_WRITE = 0x01


def mm_frame(ptype: int, data: bytes, idx: int = 1, cnt: int = 1, opt: int = 0) -> bytes:
    """struct avalon8_pkg as avalon8_init_pkg fills it: CN, type, opt, idx, cnt, data,
    CRC-16/XMODEM of the data, high byte first."""
    data = data.ljust(32, b"\0")
    return (
        b"CN" + bytes([ptype, opt, idx, cnt]) + data + binascii.crc_hqx(data, 0).to_bytes(2, "big")
    )


def cgminer_xfer(slave: int, frame: bytes = b"", rlen: int = 40) -> bytes:
    """avalon8_auc_init_pkg(XFER) written as avalon8_auc_xfer writes it: wbuf[0] bytes."""
    return bytes([8 + len(frame), 0, 0, 0xA5, len(frame), rlen, 0, slave]) + frame


def cgminer_cmd(command: int, payload: bytes = b"") -> bytes:
    """RESET / DEINIT / INIT / INFO: always the full 64 bytes."""
    return bytes([4 + len(payload), 0, 0, command]) + payload.ljust(60, b"\0")


def open_auc(emu):
    dev = usb.core.find(idVendor=0x29F1, idProduct=0x33F2, backend=emu.usb_backend())
    assert dev is not None
    return dev


def exchange(dev, packet: bytes, rlen: int) -> bytes:
    """cgminer's avalon8_auc_xfer: write, wait, read rlen + 4 and insist the count read
    equals rlen + 4 and rbuf[0]."""
    assert dev.write(AUC_WRITE, packet, 200) == len(packet)
    reply = bytes(dev.read(AUC_READ, 64, 200))
    assert len(reply) == rlen + 4 == reply[0], reply.hex()
    return reply


def detect_data(module_id: int) -> bytes:
    return bytes(28) + struct.pack(">I", module_id)


def test_cgminer_session_with_short_xfers_and_exact_replies():
    emu = Emulator(modules=2, seed=3)
    dev = open_auc(emu)
    # the device arrives configured, as one enumerated by Linux: no set_configuration()
    assert dev.get_active_configuration().bConfigurationValue == 1
    with pytest.raises(usb.core.USBTimeoutError):  # avalon8_auc_init: drain a read
        dev.read(AUC_READ, 64, 50)
    exchange(dev, cgminer_cmd(0xA0), 0)  # RESET
    exchange(dev, cgminer_cmd(0xA2), 0)  # DEINIT
    init = exchange(dev, cgminer_cmd(0xA1, struct.pack("<II", 400_000, 19_200)), 12)
    assert init[4:].startswith(b"AUC-")
    detect = mm_frame(0x10, detect_data(1))
    packet = cgminer_xfer(0, detect)
    assert len(packet) == 48 and packet[:8] == bytes.fromhex("300000a528280000")
    ack = decode_packet(exchange(dev, packet, 40)[4:])
    assert ack.type == T.ACKDETECT and ack.fields()["asic_count"] == 104
    poll = exchange(dev, cgminer_xfer(1, mm_frame(0x30, b"")), 40)
    assert decode_packet(poll[4:]).type == T.STATUS
    # a broadcast with nothing to read: the 4-byte header only
    exchange(dev, cgminer_xfer(0, mm_frame(0x17, b""), rlen=0), 0)
    # the read-again XFER: 8 bytes, nothing written; with no reply ready the module does
    # not acknowledge the read (MM4 i2c_phy.v): the header alone, SLAVE_NAK
    read_again = cgminer_xfer(1, b"")
    assert read_again == bytes.fromhex("080000a500280001")
    dev.write(AUC_WRITE, read_again, 200)
    assert exchange_read(dev) == bytes([4, 0, 0, auc.AucStatus.SLAVE_NAK])


def test_replies_echo_ids_and_carry_the_i2c_status():
    emu = Emulator(seed=1)
    dev = open_auc(emu)
    for packet in (cgminer_cmd(0xA0), cgminer_cmd(0xA1, struct.pack("<II", 400_000, 0))):
        dev.write(AUC_WRITE, packet, 200)
        dev.read(AUC_READ, 64, 200)
    request = bytearray(cgminer_xfer(0, mm_frame(0x10, detect_data(1))))
    request[1:3] = b"\x5a\x33"  # transaction and session ids
    dev.write(AUC_WRITE, bytes(request), 200)
    reply = bytes(dev.read(AUC_READ, 64, 200))
    assert reply[1:4] == b"\x5a\x33\x00"  # echoed; status 0 = OK
    # nobody at 5: the SLA+W is not acknowledged (I2C state 0x20), which the firmware's
    # master reports as NAK (i2c_lpc11uxx.c), and nothing is read
    dev.write(AUC_WRITE, cgminer_xfer(5, mm_frame(0x30, b"")), 200)
    assert bytes(dev.read(AUC_READ, 64, 200)) == bytes([4, 0, 0, auc.AucStatus.NAK])
    # a read alone starts with SLA+R: unanswered (0x48), that is SLAVE_NAK
    dev.write(AUC_WRITE, cgminer_xfer(5, b""), 200)
    assert bytes(dev.read(AUC_READ, 64, 200)) == bytes([4, 0, 0, auc.AucStatus.SLAVE_NAK])
    dev.write(AUC_WRITE, bytes([4, 7, 0, 0xB3]), 200)  # not a command the AUC knows
    assert bytes(dev.read(AUC_READ, 64, 200)) == bytes([4, 7, 0, auc.AucStatus.INVALID_CMD])


def test_reset_keeps_unread_replies_and_info_counts_as_the_firmware_does():
    """cdc_i2c.c: RESET only aborts a hung transfer; INFO's reqcnt counts the INFO itself,
    its respcnt the replies not yet given to USB plus one, tx_flags bit 0 a reply waiting
    in the IN endpoint for the host."""
    emu = Emulator(seed=1)
    dev = open_auc(emu)
    for _ in range(3):  # three requests, nothing read
        dev.write(AUC_WRITE, cgminer_cmd(0xA6), 200)
    dev.write(AUC_WRITE, cgminer_cmd(0xA0), 200)  # RESET
    counts = []
    for _ in range(3):
        info = auc.decode_info(exchange_read(dev)[4:])
        counts.append((info["request_queue"], info["response_queue"], info["tx_flags"]))
    assert counts == [(1, 1, 0), (1, 1, 1), (1, 2, 1)]
    assert exchange_read(dev) == bytes([4, 0, 0, 0])  # the RESET's own reply, last
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(AUC_READ, 64, 50)


def test_four_unread_replies_behind_the_endpoint_are_lost():
    """The reply ring has no full check (cdc_i2c.c): with one reply in the endpoint, the
    fourth behind it makes the ring look empty."""
    emu = Emulator(seed=1)
    dev = open_auc(emu)
    for _ in range(5):
        dev.write(AUC_WRITE, cgminer_cmd(0xA6), 200)
    assert exchange_read(dev)[0] == 11  # the first INFO, from the endpoint
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(AUC_READ, 64, 50)


def test_an_xfer_after_deinit_hangs_until_a_reset():
    """DEINIT gates the I2C block's clock off (NXP's Chip_I2C_DeInit): the next XFER waits
    for a state change that never comes; a RESET aborts it (ERROR), INIT brings the bus back."""
    emu = Emulator(seed=1)
    dev = open_auc(emu)
    assert exchange(dev, cgminer_cmd(0xA2), 0) == bytes([4, 0, 0, 0])
    detect = cgminer_xfer(0, mm_frame(0x10, detect_data(1)))
    dev.write(AUC_WRITE, detect, 200)
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(AUC_READ, 64, 50)
    dev.write(AUC_WRITE, cgminer_cmd(0xA0), 200)
    assert exchange_read(dev) == bytes([4, 0, 0, auc.AucStatus.ERROR])
    assert exchange_read(dev) == bytes([4, 0, 0, 0])
    assert (
        exchange(dev, cgminer_cmd(0xA1, struct.pack("<II", 400_000, 0)), 12)[4:] == b"AUC-20151208"
    )
    assert decode_packet(exchange(dev, detect, 40)[4:]).type == T.ACKDETECT


def test_the_reply_waits_for_the_write_to_read_delay():
    """XFER: the bytes at the bus clock, then xferDelay busy-loop ticks (4800 a millisecond,
    cgminer's figure) before the read: a 40 + 40-byte XFER after INIT(400 kHz, 19200) is
    ready no sooner than 4 ms + 83 bytes of 9 bits at 400 kHz (5.87 ms) after the write."""
    emu = Emulator(seed=1)
    dev = open_auc(emu)
    exchange(dev, cgminer_cmd(0xA1, struct.pack("<II", 400_000, 19_200)), 12)
    exchange(dev, cgminer_xfer(0, mm_frame(0x10, detect_data(1))), 40)
    start = time.monotonic()
    dev.write(AUC_WRITE, cgminer_xfer(1, mm_frame(0x30, b"")), 200)
    reply = exchange_read(dev)
    assert time.monotonic() - start >= 0.004 + 83 * 9 / 400_000
    assert decode_packet(reply[4:]).type == T.STATUS


def exchange_read(dev) -> bytes:
    reply = bytes(dev.read(AUC_READ, 64, 200))
    assert len(reply) == reply[0]
    return reply


def test_a_stale_reply_left_in_the_auc_is_skipped_by_the_driver():
    emu = Emulator(seed=1)
    dev = open_auc(emu)
    link = AucLink(dev, wait_s=0)
    dev.write(AUC_WRITE, cgminer_cmd(0xA6), 200)  # another program's request, never read
    reply = link.xfer(0, mm_frame(0x10, detect_data(1)), read=True)
    assert decode_packet(reply).type == T.ACKDETECT
    assert link.stale_replies == 1


def test_two_threads_sharing_the_auc_keep_every_module():
    """cgminer's API thread and mining thread interleave transfers; so do ours (the poller
    and auc_info).  No reply may be taken for another's, no module detached."""
    emu = Emulator(modules=2, seed=2)
    with asicdrv.open("emu://?link=usb", emulator=emu, **FAST) as chain:
        errors = []

        def ask_info():
            try:
                for _ in range(60):
                    assert chain.auc_info()["version"].startswith("AUC-")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=ask_info) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        status = chain.refresh(timeout=10)
    assert not errors
    assert [m.state for m in status.modules] == ["ok", "ok"]
    assert all(m.crc_errors == 0 for m in status.modules)


def test_genesis_nonce_travels_as_header_bytes_76_to_79():
    """The frame carries 1d ac 2b 7c for the genesis block (cgminer reads d[12..15] with
    be32toh, stores htole32 into its word-swapped work, flip80 restores the header)."""
    params, en1, size, nonce2 = notify_params(GENESIS, job_id="g")
    job = asicdrv.StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size)
    url = f"emu://?nonce_start={GENESIS['nonce']}&nonce_mask=32&hashrate=20000"
    with asicdrv.open(url, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        share = chain.next_share(timeout=20)
        frames = [
            f
            for _, d, f in chain.emulator.traffic.frames
            if d == "<" and len(f) == 40 and f[2] == 0x42
        ]
    assert frames and frames[0][6 + 12 : 6 + 16] == bytes.fromhex("1dac2b7c")
    assert share.nonce == 2083236893 and share.submit_params("w")[4] == "7c2bac1d"


def test_avalon8_branch_types_are_named_by_direction_and_accepted():
    assert describe_frame(mm_frame(0x50, b""), from_device=True)["type"] == "STATUS_MINER_EN"
    assert describe_frame(mm_frame(0x50, b""), from_device=False)["type"] == "SET_ASIC_OTP"
    assert describe_frame(mm_frame(0x50, b""))["type"] == "SET_ASIC_OTP/STATUS_MINER_EN"
    assert describe_frame(mm_frame(0x2A, b""))["type"] == "SET_ASIC_OTP"
    power = describe_frame(mm_frame(0x2E, struct.pack(">I", 2)))
    assert power["type"] == "SET_POWER_MODE" and power["mode"] == 2
    names = {code: describe_frame(mm_frame(code, b""))["type"] for code in range(0x2B, 0x30)}
    assert names == {
        0x2B: "SET_ADJ_FAC_UP",
        0x2C: "SET_ADJ_FAC_DOWN",
        0x2D: "SET_ADJ_CONTROL",
        0x2E: "SET_POWER_MODE",
        0x2F: "SET_MINER_EN",
    }
    emu = Emulator(seed=1, chip_thread=False)
    emu.i2c_xfer(0, mm_frame(0x10, detect_data(1)), 40)
    for code in range(0x2A, 0x30):
        emu.i2c_xfer(1, mm_frame(code, struct.pack(">I", 1)), 0)
    assert emu.modules[0].rx_bad_frames == 0
    assert emu.modules[0].power_mode == 1 and emu.modules[0].miner_enable == 1


def test_a_50ms_stall_is_read_again_not_lost_on_every_link():
    job_params, en1, size, nonce2 = notify_params(GENESIS, job_id="s")
    job = asicdrv.StratumJob.from_notify(job_params, extranonce1=en1, extranonce2_size=size)
    for link in ("inprocess", "usb", "serial"):
        url = (
            f"emu://?link={link}&faults=stall:0.05&nonce_start={GENESIS['nonce']}"
            f"&nonce_mask=32&hashrate=20000"
        )
        start = time.monotonic()
        with asicdrv.open(url, **FAST) as chain:
            assert len(chain.modules) == 1, link
            chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
            share = chain.next_share(timeout=20)
            assert share is not None and share.hash == GENESIS["hash"], link
        assert time.monotonic() - start < 25
