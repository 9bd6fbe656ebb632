"""Golden vectors: the spec's worked checks (section 6) and cgminer's packet builders.

Every expected value here is written out by hand from the spec or from reading cgminer's
driver-avalon8.c, never produced by our encoder.
"""

import binascii
import struct

import pytest

from firmware_protocols import PacketType as T, auc, crc16, decode_packet, encode_packet
from firmware_protocols.encodings import (
    asic_timeout,
    fan_percent_to_pwm,
    mhz_to_pll_word,
    pvt_code_to_celsius,
    voltage_level_to_word,
)


def test_crc16_check_values():
    assert crc16(b"123456789") == 0x31C3
    assert crc16(bytes(32)) == 0x0000


def test_detect_for_module_1():
    # spec 6: bytes 0..5 = 43 4E 10 00 01 01, bytes 34..37 = 00 00 00 01
    frame = encode_packet(T.DETECT, {"module_id": 1})
    assert len(frame) == 40
    assert frame[0:6] == bytes.fromhex("434E10000101")
    assert frame[34:38] == bytes.fromhex("00000001")
    assert frame[6:34] == bytes(28)
    # CRC big-endian over the data only: CRC-16/XMODEM of 31 zero bytes then 0x01 is 0x1021
    # (the polynomial itself, since a single 1 bit shifts through one step of the register).
    assert frame[38:40] == bytes.fromhex("1021")


def test_polling_fan_words():
    # spec 6: fan 100 % -> PWM 0, POLLING data[4:8] = 80 00 00 00; 5 % -> 0x3CC
    assert fan_percent_to_pwm(100) == 0
    assert fan_percent_to_pwm(5) == 0x3CC
    frame = encode_packet(T.POLLING, {"fan": {"change": True, "pwm": 0}})
    assert frame[6 + 4 : 6 + 8] == bytes.fromhex("80000000")
    frame = encode_packet(T.POLLING, {"fan": {"change": True, "pwm": 0x3CC}, "reboot": 1})
    assert frame[6 + 4 : 6 + 9] == bytes.fromhex("800003CC01")


def test_voltage_words():
    # spec 6: level -3 -> 0x8083, level 5 -> 0x8005 (cgminer encode_voltage)
    assert voltage_level_to_word(-3) == 0x8083
    assert voltage_level_to_word(5) == 0x8005
    frame = encode_packet(T.SET_VOLT, {"voltage_words": [0x8005, 0x8083, 0, 0, 0, 0, 0, 0]})
    assert frame[6:14] == bytes.fromhex("0000800500008083")


def test_set_pll_851_default():
    # cgminer avalon8_set_freq() for the 851 default {0, 0, 0, 850}: cpm_table[0] three
    # times, cpm_table[34] = 0x00908421, then 100, then 419430400 / 850 * 83 / 100 = 409561.
    assert mhz_to_pll_word(850) == 0x00908421
    assert mhz_to_pll_word(0) == 0x04400000
    assert asic_timeout([0, 0, 0, 850]) == 409561
    frame = encode_packet(
        T.SET_PLL,
        {
            "pll_words": [mhz_to_pll_word(f) for f in (0, 0, 0, 850)],
            "pll_param": 100,
            "asic_timeout": asic_timeout([0, 0, 0, 850]),
        },
        idx=1,
        cnt=4,
    )
    assert frame[2:6] == bytes.fromhex("25000104")
    assert frame[6:30] == bytes.fromhex("044000000440000004400000009084210000006400063FD9")


def test_set_851_defaults():
    # avalon8_init_setting(): freq_sel 3 at data[4:8]; flags smart speed | nonce check<<1 |
    # roll<<2 = 0x07 at data[8]; nonce mask 27 at data[9]; mux_h2l 1, h2ltime0_spd 3,
    # spdlow 2, spdhigh 3 as u32 from data[10].
    frame = encode_packet(
        T.SET,
        {
            "freq_sel": 3,
            "nonce_mask": 27,
            "mux_l2h": 0,
            "mux_h2l": 1,
            "h2ltime0_spd": 3,
            "spdlow": 2,
            "spdhigh": 3,
            "flags": {"smart_speed": True, "nonce_check": True, "roll_enable": True},
        },
    )
    assert frame[6:38] == bytes.fromhex(
        "0000000000000003071B00000000000000010000000300000002000000030000"
    )


def test_nonce_decode_from_hand_built_frame():
    # decode_pkg() AVA8_P_NONCE: chip<<16 | miner, nonce2, ntime offset (big-endian); the
    # four nonce bytes are the block header's bytes 76..79 as they stand (cgminer reads them
    # be32toh, stores htole32 into its word-swapped work, then flip80 restores the header):
    # the genesis block's nNonce 2083236893 = 0x7c2bac1d travels as 1d ac 2b 7c.  Job crc
    # big-endian, pool number low byte first.
    header_nonce_bytes = struct.pack("<I", 2083236893)
    assert header_nonce_bytes == bytes.fromhex("1dac2b7c")
    data = (
        bytes.fromhex("000700020000123400000001")
        + header_nonce_bytes
        + bytes.fromhex("ABCD0100")
        + bytes(12)
    )
    frame = b"CN" + bytes([0x42, 0, 1, 1]) + data + binascii.crc_hqx(data, 0).to_bytes(2, "big")
    fields = decode_packet(frame).fields()
    assert fields == {
        "chip": 7,
        "miner": 2,
        "nonce2": 0x1234,
        "ntime_offset": 1,
        "nonce": 2083236893,
        "job_crc": 0xABCD,
        "pool": 1,
    }


def test_ackdetect_decode_from_hand_built_frame():
    data = (
        bytes.fromhex("0011223344556677")
        + b"851-2019030401\0"
        + bytes.fromhex("00000068")
        + bytes(5)
    )
    frame = b"CN" + bytes([0x40, 0, 1, 1]) + data + crc16(data).to_bytes(2, "big")
    fields = decode_packet(frame).fields()
    assert fields == {
        "dna": bytes.fromhex("0011223344556677"),
        "version": "851-2019030401",
        "asic_count": 104,
    }


def test_job_id_pool_is_little_endian():
    # avalon8_stratum_pkgs(): data[0..1] = crc high, low; data[2..3] = pool low, high.
    frame = encode_packet(T.JOB_ID, {"job_crc": 0x1234, "pool": 0x0102})
    assert frame[6:10] == bytes.fromhex("12340201")


def test_pvt_temperature():
    # spec: 60 + 200 * (code / 4094 - 0.5) - 0.625; the mid code 2047 gives 59.375
    assert pvt_code_to_celsius(2047) == pytest.approx(59.375)
    assert pvt_code_to_celsius(4094) == pytest.approx(159.375)


def test_auc_packets():
    # avalon8_auc_init_pkg(): INIT length 12, speed and delay little-endian
    assert auc.build_init() == bytes.fromhex("0C0000A1801A0600004B0000") + bytes(52)
    assert auc.build_reset() == bytes.fromhex("040000A0") + bytes(60)
    assert auc.build_deinit() == bytes.fromhex("040000A2") + bytes(60)
    assert auc.build_info() == bytes.fromhex("040000A6") + bytes(60)
    detect = encode_packet(T.DETECT, {"module_id": 1})
    xfer = auc.build_xfer(0, detect, rlen=40)
    assert xfer[:8] == bytes.fromhex("300000A528280000")  # 8 + 40, wlen 40, rlen 40, addr 0
    # cgminer writes wbuf[0] bytes of an XFER: 48 here, nothing padded
    assert xfer[8:] == detect and len(xfer) == 48
    assert xfer == bytes.fromhex("300000a528280000434e10000101") + bytes(28) + bytes.fromhex(
        "000000011021"
    )
    # the read-again of avalon8_iic_xfer_pkg: no write, rlen 40, 8 bytes in all
    assert auc.build_xfer(3, b"", rlen=40) == bytes.fromhex("080000a500280003")
