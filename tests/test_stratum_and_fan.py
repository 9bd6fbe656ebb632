"""Stratum byte orders on real data, and the fan PID's arithmetic."""

import pytest

from asicdrv import JobError, StratumJob
from asicdrv.bitcoin.core import display_hash, sha256d, swap_words
from asicdrv.device.fan import FanPid
from asicdrv.device.jobs import build_job_packets
from blocks import BLOCK_170, GENESIS, notify_params
from firmware_protocols import PacketType as T, decode_packet


def test_prevhash_is_word_swapped_and_header_bin_is_the_swapped_header():
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    job = StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size)
    # stratum sends block 169's hash word-swapped: first word of internal order reversed
    prev_internal = bytes.fromhex(BLOCK_170["prevhash"])[::-1]
    assert params[1][:8] == prev_internal[:4][::-1].hex()
    assert job.prevhash_internal == prev_internal
    header = job.header(nonce2, 0, BLOCK_170["nonce"])
    assert display_hash(sha256d(header)) == BLOCK_170["hash"]
    # cgminer's header_bin: each word of the real header byte-swapped (merkle and nonce 0)
    real = bytearray(header)
    real[36:68] = bytes(32)
    real[76:80] = bytes(4)
    assert job.header_bin[:80] == swap_words(bytes(real))
    assert job.header_bin[:4] == bytes.fromhex("00000001")
    assert len(job.header_bin) == 128 and job.header_bin[-4:] == bytes.fromhex("80020000")


def test_nonce2_goes_into_the_coinbase_little_endian():
    params, en1, size, nonce2 = notify_params(GENESIS)
    job = StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size)
    assert job.coinbase(nonce2) == GENESIS["coinbase"]
    assert job.extranonce2(0x01020304).hex() == "04030201"
    wide = StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=8)
    assert wide.extranonce2(0x01020304).hex() == "0403020100000000"
    assert wide.mm_nonce2_size == 4


def test_job_packets_in_cgminer_order_with_midstate():
    params, en1, size, _ = notify_params(GENESIS)
    job = StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size)
    packets = [decode_packet(f) for f in build_job_packets(job, clean=True)]
    types = [p.type for p in packets]
    # coinbase 204 bytes, nonce2 at 64: midstate + 140 bytes = 1 + 5 packets
    assert types == [T.STATIC, T.TARGET, T.JOB_ID] + [T.COINBASE] * 6 + [T.HEADER] * 4 + [T.JOB_FIN]
    static = packets[0].fields()
    assert static == {
        "coinbase_len": 204,
        "nonce2_offset": 64,
        "nonce2_size": 4,
        "merkle_offset": 36,
        "merkle_count": 0,
        "nonce2_start": 0,
        "nonce2_range": 0xFFFFFFFF,
        "clean": 1,
    }
    import hashlib

    # the midstate is SHA-256's state after the first 64 coinbase bytes: finishing it by
    # hand must give hashlib's digest of the whole coinbase
    from asicdrv.bitcoin.sha256 import finish

    tail = job.coinbase_template[64:]
    assert finish(packets[3].data, tail, 64) == hashlib.sha256(job.coinbase_template).digest()
    assert [p.idx for p in packets[3:9]] == [1, 2, 3, 4, 5, 6]
    assert all(p.cnt == 6 for p in packets[3:9])


def test_bad_notify_params_are_job_errors():
    params, en1, size, _ = notify_params(GENESIS)
    with pytest.raises(JobError):
        StratumJob.from_notify(params[:5], extranonce1=en1, extranonce2_size=size)
    with pytest.raises(JobError, match="extranonce2 size"):
        StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=2)
    bad = list(params)
    bad[2] = "zz"
    with pytest.raises(JobError, match="coinb1 is not hex"):
        StratumJob.from_notify(bad, extranonce1=en1, extranonce2_size=size)
    bad = list(params)
    bad[4] = ["00" * 32] * 31
    with pytest.raises(JobError, match="at most 30"):
        StratumJob.from_notify(bad, extranonce1=en1, extranonce2_size=size)


def test_fan_pid_steps():
    pid = FanPid(target_c=90)
    assert pid.update(40) == 5  # below 50 degC: minimum
    assert pid.update(70) == 70  # first reading in range: u starts at t
    # e0 = 95-90 = 5, e1 = 70-90 = -20: u += 2*(5+20) + 5*5/100 = 50.25 -> clamped to 100
    assert pid.update(95) == 100
    assert pid.update(101) == 100  # above 100 degC: maximum
    pid = FanPid(target_c=90)
    pid.update(80)
    # e0 = -9, e1 = -10: u = 80 + 2*1 + 5*(-9)/100 = 81.55 -> 82
    assert pid.update(81) == 82
    assert pid.update(81) == 81  # e0 = e1 = -9: only I acts: 81.55 - 0.45 = 81.10


@pytest.mark.parametrize(
    "change, message",
    [
        ({"params": None}, "list of 9 params"),
        ({2: "abc"}, "coinb1 is not hex"),
        ({5: "ffffffffff"}, "version must be 4 bytes"),
        ({7: "-1"}, "ntime is not hex"),
        ({6: "1d00ffff00"}, "nbits must be 4 bytes"),
        ({1: "00" * 31}, "prevhash must be 32 bytes"),
        ({4: "not a list"}, "merkle_branch must be a list"),
        ({"difficulty": float("nan")}, "finite number above 0"),
        ({"difficulty": 0}, "finite number above 0"),
        ({"difficulty": float("inf")}, "finite number above 0"),
        ({"extranonce2_size": "4"}, "whole number"),
    ],
)
def test_every_malformed_notify_is_one_job_error(change, message):
    """The job is refused when it is made, never later inside submit()."""
    params, en1, size, _ = notify_params(GENESIS)
    params = list(params)
    kwargs = {"extranonce1": en1, "extranonce2_size": size, "difficulty": 1.0}
    for key, value in change.items():
        if key == "params":
            params = value
        elif isinstance(key, int):
            params[key] = value
        else:
            kwargs[key] = value
    with pytest.raises(JobError, match=message):
        StratumJob.from_notify(params, **kwargs)
