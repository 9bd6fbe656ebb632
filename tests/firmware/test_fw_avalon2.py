"""Avalon 2/3 (MM2, MM3) against Canaan's own firmware, built and run by harness.py: the
driver, unmodified, on a serial line whose modules run the vendor's code."""

from __future__ import annotations

import contextlib
import time
from collections import Counter

import pytest

import asicdrv
from asicdrv.mining.stratum import StratumJob
from blocks import BLOCK_170, GENESIS, notify_params
from conftest import FAST, wait_for
from harness import FirmwareModule, SerialLine, build

pytestmark = pytest.mark.firmware


def block_job(block):
    params, en1, size, nonce2 = notify_params(block)
    job = StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=1 / 65536
    )
    return job, nonce2


@contextlib.contextmanager
def firmware_line(model: str, modules: int = 1, **settings):
    elf = build(model)
    mods = [FirmwareModule(elf, module_id=i, **settings) for i in range(modules)]
    line = SerialLine(mods)
    try:
        for m in mods:
            m.wait_event("READY", timeout=10)  # boot (and the MM3's chip test) is over
        yield line, mods
    finally:
        line.close()
        for m in mods:
            m.close()


@pytest.mark.parametrize("model", ["MM3", "MM2"])
@pytest.mark.parametrize("block", [BLOCK_170, GENESIS], ids=["block170", "genesis"])
def test_the_vendor_firmware_mines_a_known_block_through_the_driver(model, block):
    nonces = [block["nonce"]]
    with firmware_line(model, nonces=nonces) as (line, mods):
        with asicdrv.open(line.url, **FAST) as chain:
            assert [m.model for m in chain.modules] == [model]
            assert chain.modules[0].version == mods[0].version
            job, nonce2 = block_job(block)
            chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
            share = chain.next_share(timeout=20)
            story = line_story(line, mods, chain) if share is None else ""
    assert share is not None and share.hash == block["hash"], story
    assert mods[0].events("FOUND")


def line_story(line, mods, chain) -> str:
    """What a failed run looked like: the frames each way, the board's events and what the
    chain made of them."""
    module = chain.status().modules[0]
    return (
        f"host sent {sorted(Counter(host_codes(line)).items())}; "
        f"modules sent {sorted(Counter(host_codes(line, side='device')).items())}; "
        f"events {[(round(t, 2), ' '.join(w)[:40]) for t, w in mods[0].events()][-25:]}; "
        f"module state {module.state}, failed polls {module.failed_polls}, "
        f"rejected {module.rejected}, crc errors {module.crc_errors}"
    )


def mine(chain, block=BLOCK_170):
    job, nonce2 = block_job(block)
    chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
    return job


def host_codes(line, start=0, side="host"):
    data = bytes((line.host_bytes if side == "host" else line.device_bytes)[start:])
    return [data[i + 2] for i in range(len(data) - 2) if data[i : i + 2] == b"AV"]


def test_status_reads_power_clock_and_voltage_as_the_firmware_sends_them():
    """F1: power good is five bits in the low end of d[24..27] (timer.c read_power_good);
    F3: the clock is plain MHz (miner.c get_asic_freq).  Both read true on a powered MM3,
    and an unpowered board's power lines (after a chip test, main.c: ASIC_0V) are not read
    as a failure."""
    with firmware_line("MM3", nonces=[BLOCK_170["nonce"]], delay_scale=0.003) as (line, mods):
        with asicdrv.open(line.url, frequency=400, voltage_level=6625, **FAST) as chain:
            mine(chain)
            mods[0].wait_event("HASHING")
            module = chain.refresh(timeout=5).modules[0]
            chain.test_chips()
            chain.idle(timeout=5)
            after_test = chain.refresh(timeout=5).modules[0]
    assert module.power_good is True
    assert module.extra["clock_mhz"] == 400
    assert module.voltages_v == [0.6625] * 5
    assert mods[0].events("POWER")[-1][1] == ["POWER", "off"]
    assert after_test.power_good is None


def test_a_line_with_one_module_keeps_hashing_between_detect_intervals():
    """F5: any DETECT stops every module on the line until its next job (main.c); the
    driver no longer re-detects a line whose modules are all present."""
    with firmware_line("MM3", nonces=[BLOCK_170["nonce"]]) as (line, mods):
        with asicdrv.open(line.url, **FAST) as chain:  # re-detect every 0.3 s
            mine(chain)
            mods[0].wait_event("HASHING")
            mark = len(line.host_bytes)
            time.sleep(2.5)
            assert chain.refresh(timeout=5).modules[0].state == "ok"
            codes = host_codes(line, mark)
    assert 10 not in codes  # no DETECT while mining
    assert mods[0].events("HASHING")[-1][1] == ["HASHING", "on"]


def test_settings_on_a_poll_show_in_the_next_status_not_its_reply():
    """F2: the firmware answers a settings POLLING first and applies it after (main.c
    polling() then adjust_fan/set_voltage/set_asic_freq): the driver reads the new clock
    from a later STATUS."""
    with firmware_line("MM3", nonces=[BLOCK_170["nonce"]]) as (line, mods):
        with asicdrv.open(line.url, frequency=400, **FAST) as chain:
            mine(chain)
            mods[0].wait_event("HASHING")
            chain.set_frequency(450)
            module = wait_for(
                lambda: chain.refresh(timeout=5).modules[0].extra["clock_mhz"] == 450, 10
            )
    assert module


def test_the_host_cuts_off_before_the_firmware_ignores_it():
    """F10: the firmware ignores SET at 90 C on either sensor and idles itself at 90 C on
    both (main.c IDLE_TEMP); cgminer's 98 C cutoff could never act.  The host's A2/3
    cutoff (85 C, hottest sensor) comes first and switches the regulators off."""
    with firmware_line("MM3", nonces=[BLOCK_170["nonce"]]) as (line, mods):
        with asicdrv.open(line.url, **FAST) as chain:
            mine(chain)
            mods[0].wait_event("HASHING")
            mods[0].set(temp=(1, 87))
            cut = wait_for(lambda: chain.refresh(timeout=5).modules[0].state == "cutoff", 10)
            powered_off = wait_for(lambda: mods[0].events("POWER")[-1][1] == ["POWER", "off"], 5)
    assert cut, "the host did not cut off at 87 C"
    assert powered_off


def test_require_is_answered_with_status():
    """F11: type 18 is REQUIRE in this firmware (main.c get_pkg): a STATUS for the id."""
    import os
    import select

    from test_avalon2 import av
    from test_generations import be32

    with firmware_line("MM3") as (line, mods):
        fd = os.open(line.path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, av(18, be32(0, 0, 0, 0, 0, 0, 0, 0)))
            data = b""
            while len(data) < 39 and select.select([fd], [], [], 2)[0]:
                data += os.read(fd, 64)
        finally:
            os.close(fd)
    assert data[:3] == b"AV\x18" and len(data) == 39


def test_the_chip_test_reads_each_miners_result_and_waits_for_the_whole_test():
    """F7: one TEST_RET per miner, IDX 1, d[0] = miner + 1, d[1..10] failed cores per chip
    (alink.c alink_asic_test).  F8: the MM tests every core (about 47 s on a real MM3,
    shortened here by the board model's delay scale) and answers nothing meanwhile; the
    chain waits and listens.  A dead chip 1 of miner 3 is named, and nothing else."""
    with firmware_line("MM3", nonces=[BLOCK_170["nonce"]], delay_scale=0.003) as (line, mods):
        mods[0].set(dead=[(3, 1)])
        with asicdrv.open(line.url, **FAST) as chain:
            started = time.monotonic()
            result = chain.test_chips()
            took = time.monotonic() - started
            status = chain.refresh(timeout=5).modules[0]
    assert result == {1: {0: [], 1: [], 2: [], 3: [1], 4: []}}  # every miner: the whole test
    assert status.chip_test == {0: [], 1: [], 2: [], 3: [1], 4: []}
    assert took > 0


def test_a_chip_test_cut_short_reports_nothing_as_passed():
    """F8: results that did not come are not passes: a test given too little time names
    no miner at all (selftest then says 'not tested')."""
    with firmware_line("MM3", delay_scale=0.05) as (line, mods):  # a test of a few seconds
        with asicdrv.open(line.url, **FAST) as chain:
            result = chain.test_chips(timeout=0.3)
    assert result == {1: {}}


def test_selftest_passes_a_healthy_mm3_and_names_a_dead_chip():
    """F9: the firmware counts any hash without 32 leading zero bits as a hardware error
    (miner.c test_nonce), so the selftest's known answer for the A2/3 is block 170 itself;
    the chip test and known answer both run against the vendor firmware: with chip 7 of
    miner 2 dead, the chip test fails on that chip alone and every other check passes."""
    import json

    from conftest import run

    with firmware_line("MM3", nonces=[BLOCK_170["nonce"]], delay_scale=0.003) as (line, mods):
        mods[0].set(dead=[(2, 7)])
        out = run("selftest", "--device", line.url, "--json", timeout=120)
        sick = json.loads(out.stdout)
    checks = {c["check"]: c for c in sick["checks"]}
    assert checks["known answer"]["ok"] and checks["sensors"]["ok"] and checks["settings"]["ok"]
    failed = {c["check"] for c in sick["checks"] if not c["ok"]}
    assert failed == {"chip test"}
    assert sick["chip_maps"]["1"]["2"] == "." * 7 + "X" + ".."


def test_a_voltage_change_blocks_each_mm_and_no_module_is_lost():
    """F6: a settings POLLING that changes the voltage blocks the MM about 400 ms
    (shifter.c: 100 ms, then gpio_reset_asic 3 x 100 ms); its reply then comes after the
    next module's poll has begun.  Replies are matched to the module they name, none is
    dropped, and no module is called lost (which would DETECT and stop the line, F5)."""
    with firmware_line("MM3", modules=2, nonces=[BLOCK_170["nonce"]]) as (line, mods):
        with asicdrv.open(line.url, **FAST) as chain:
            assert [m.id for m in chain.modules] == [1, 2]
            mine(chain)
            for m in mods:
                m.wait_event("HASHING")
            mark = len(line.host_bytes)
            before = [len(m.events("POWER")) for m in mods]
            chain.set_voltage_level(7000)
            for m, seen in zip(mods, before):
                m.wait_event("POWER", after=seen)
            time.sleep(1.0)
            status = chain.refresh(timeout=5)
            codes = host_codes(line, mark)
    assert [m.state for m in status.modules] == ["ok", "ok"]
    assert 10 not in codes
    assert all(m.events("POWER")[-1][1] == ["POWER", "on", "8100"] for m in mods)  # 0.7 V
    assert [m.voltages_v[0] for m in status.modules] == [0.7, 0.7]


def test_settings_made_earlier_are_kept_by_the_next_open():
    """F4: the firmware keeps its clock and voltage between host sessions (nothing resets
    them but a settings POLLING or SET); a later open that names no settings adopts what
    a powered board runs instead of re-applying the defaults (450 MHz, 0.6625 V)."""
    with firmware_line("MM3") as (line, mods):
        with asicdrv.open(line.url, frequency=400, voltage_level=7000, **FAST) as chain:
            wait_for(lambda: chain.refresh(timeout=5).modules[0].extra["clock_mhz"] == 400, 10)
        with asicdrv.open(line.url, **FAST) as chain:
            time.sleep(0.5)
            status = chain.refresh(timeout=5).modules[0]
            settings = chain.settings()[1]
    assert status.extra["clock_mhz"] == 400 and status.voltages_v[0] == 0.7
    assert settings["frequencies_mhz"][0] == [400] and status.settings_source == "board"
    assert mods[0].events("POWER")[-1][1] == ["POWER", "on", "8100"]  # 0.7 V, untouched
