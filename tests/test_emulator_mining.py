"""The emulator finds real nonces: known blocks replayed, nonce2 and ntime rolled."""

import pytest

from asicdrv.bitcoin.core import display_hash, hash_value, mask_target
from asicdrv.emulator import Emulator
from asicdrv.device.jobs import build_job_packets
from asicdrv.mining.stratum import StratumJob
from blocks import BLOCK_170, GENESIS, notify_params
from emu_wire import FakeClock, detect_all, poll, poll_until, send
from firmware_protocols import PacketType as T, encode_packet


def easy(mask):
    """A share difficulty whose TARGET lets through every hash a chip with ``mask``
    reports (the diff-1 target is about 2**224)."""
    return 2.0 ** (mask - 33)


def job_for(block, **kw):
    params, en1, en2_size, nonce2 = notify_params(block)
    return StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=en2_size, **kw), nonce2


@pytest.mark.parametrize("block", [GENESIS, BLOCK_170], ids=["genesis", "block170"])
def test_known_block_is_found_by_the_emulator(block):
    job, nonce2 = job_for(block)
    # the host's reconstruction of the block is right before the emulator sees it
    assert display_hash(job.hash(nonce2, 0, block["nonce"])) == block["hash"]
    clock = FakeClock()
    emu = Emulator(seed=1, nonce_start=block["nonce"], nonce_mask=32, clock=clock)
    detect_all(emu)
    send(emu, 0, build_job_packets(job, nonce2_start=nonce2, nonce2_range=0, clean=True))
    nonce = poll_until(emu, 1, T.NONCE, clock=clock).fields()
    assert nonce["nonce"] == block["nonce"]
    assert (nonce["nonce2"], nonce["ntime_offset"]) == (nonce2, 0)
    assert nonce["job_crc"] == job.job_crc and nonce["pool"] == 0
    assert (nonce["miner"] * 26 + nonce["chip"]) == block["nonce"] % 104
    digest = job.hash(nonce["nonce2"], nonce["ntime_offset"], nonce["nonce"])
    assert display_hash(digest) == block["hash"]


def test_nonce2_and_ntime_roll_and_every_nonce_meets_the_mask():
    job, _ = job_for(BLOCK_170, difficulty=easy(10))
    clock = FakeClock()
    emu = Emulator(seed=2, nonce_mask=10, nonces_per_work=4096, clock=clock, hashrate=200_000)
    detect_all(emu)
    flags = {"roll_enable": True, "nonce_check": True, "smart_speed": True}
    send(emu, 1, [encode_packet(T.SET, {"nonce_mask": 10, "flags": flags})])
    send(emu, 0, build_job_packets(job, nonce2_start=100, nonce2_range=50, clean=True))
    found = []
    for _ in range(600):
        clock.advance(0.02)
        pkt = poll_until(emu, 1, T.NONCE, clock=clock)
        found.append(pkt.fields())
        if len({(f["nonce2"], f["ntime_offset"]) for f in found}) >= 6 and len(found) > 20:
            break
    assert {f["ntime_offset"] for f in found} == {0, 1, 2}
    assert all(100 <= f["nonce2"] <= 150 for f in found)
    assert len({f["nonce2"] for f in found}) >= 2
    for f in found:
        digest = job.hash(f["nonce2"], f["ntime_offset"], f["nonce"])
        assert hash_value(digest) <= mask_target(10)
        assert f["nonce"] % 104 == f["miner"] * 26 + f["chip"]


def test_dead_chip_never_reports_and_bad_nonce_fault_reports_wrong_nonces():
    job, _ = job_for(GENESIS, difficulty=easy(8))
    clock = FakeClock()
    emu = Emulator(
        modules=2,
        seed=3,
        nonce_mask=8,
        clock=clock,
        hashrate=25_000,  # about a nonce a poll: the chips hash no more than is read
        faults="dead_chip:0.3@1,bad_nonce:1.0@2",
    )
    detect_all(emu)
    send(emu, 0, build_job_packets(job, clean=True))
    good, bad = [], []
    # 500 good nonces: a live chip 0.3 of the 104 is missing from them 1 time in 120
    while len(good) < 500 or len(bad) < 10:  # both polled: an unpolled MM goes idle
        clock.advance(0.02)
        emu.advance()
        for address, found in ((1, good), (2, bad)):
            pkt = poll(emu, address)
            if pkt is not None and pkt.type == T.NONCE:
                found.append(pkt.fields())
    assert all((f["miner"], f["chip"]) != (0, 3) for f in good)
    assert all(
        hash_value(job.hash(f["nonce2"], f["ntime_offset"], f["nonce"])) <= mask_target(8)
        for f in good
    )
    assert all(
        hash_value(job.hash(f["nonce2"], f["ntime_offset"], f["nonce"])) > mask_target(8)
        for f in bad
    )


def test_hashing_follows_frequency_and_stops_with_plls_off():
    job, _ = job_for(GENESIS)
    clock = FakeClock()
    emu = Emulator(seed=4, nonce_mask=8, clock=clock)
    detect_all(emu)
    send(emu, 0, build_job_packets(job, clean=True))
    emu.advance()
    clock.advance(0.1)
    emu.advance()
    nominal = emu.modules[0].scanner.hashes_done
    plls_off = {"pll_words": [0x04400000] * 4}
    send(emu, 1, [encode_packet(T.SET_PLL, plls_off, idx=m, cnt=4) for m in (1, 2)])
    clock.advance(0.1)
    emu.advance()
    half = emu.modules[0].scanner.hashes_done - nominal
    assert half == pytest.approx(nominal / 2, rel=0.05)
    send(emu, 1, [encode_packet(T.SET_PLL, plls_off, idx=m, cnt=4) for m in (3, 4)])
    before = emu.modules[0].scanner.hashes_done
    clock.advance(0.1)
    emu.advance()
    assert emu.modules[0].scanner.hashes_done == before


def test_the_mm_forwards_only_nonces_that_meet_the_host_target():
    """Chips report at their mask; the MM sends the host only what meets TARGET (MM4
    miner.c), so under cgminer's diff >= 1 no sub-difficulty nonce reaches the host."""
    job, _ = job_for(GENESIS, difficulty=easy(12))
    target = int(0xFFFF * 2**208 / easy(12))
    clock = FakeClock()
    emu = Emulator(seed=5, nonce_mask=8, clock=clock, hashrate=200_000)
    detect_all(emu)
    send(emu, 0, build_job_packets(job, clean=True))
    forwarded = [poll_until(emu, 1, T.NONCE, clock=clock).fields() for _ in range(20)]
    for f in forwarded:
        assert hash_value(job.hash(f["nonce2"], f["ntime_offset"], f["nonce"])) <= target
    chip_works = sum(map(sum, emu.modules[0]._chip_works))
    assert chip_works > 4 * len(forwarded)  # mask 8 finds ~16x what target 12 keeps
