"""Avalon 4 (MM40, MM41, MM50) against Canaan's own firmware (branch ``avalon4``, built and
run by harness.py), on an I2C bus through the project's own I2C link class."""

from __future__ import annotations

import contextlib
import time

import pytest

import asicdrv
from asicdrv.transport.i2c_linux import I2CLink
from blocks import BLOCK_170, GENESIS
from conftest import FAST, wait_for
from harness import FirmwareI2CBus, FirmwareModule, build
from test_fw_avalon2 import block_job

pytestmark = pytest.mark.firmware


@contextlib.contextmanager
def firmware_chain(model: str, modules: int = 1, chain_options=None, **settings):
    elf = build(model)
    mods = [FirmwareModule(elf, module_id=i, **settings) for i in range(modules)]
    try:
        for m in mods:
            m.wait_event("READY", timeout=15)  # boot and its chip test are over
        link = I2CLink(FirmwareI2CBus(mods), f"fw-i2c://{model}")
        with asicdrv.Chain(link, url=link.name, **{**FAST, **(chain_options or {})}) as chain:
            yield chain, mods
    finally:
        for m in mods:
            m.close()


def mine(chain, block=BLOCK_170):
    job, nonce2 = block_job(block)
    chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)


@pytest.mark.parametrize("model", ["MM41", "MM40", "MM50"])
@pytest.mark.parametrize("block", [BLOCK_170, GENESIS], ids=["block170", "genesis"])
def test_the_vendor_mm4_firmware_mines_a_known_block_through_the_driver(model, block):
    """G1, G2, G3: the regulators come on with SET_VOLT, the chips get their PLL words with
    SET_FREQ, and the job sent right after the power-on block is whole: the share comes."""
    with firmware_chain(model, nonces=[block["nonce"]]) as (chain, mods):
        assert [m.model for m in chain.modules] == [model]
        assert chain.modules[0].version == mods[0].version
        mine(chain, block)
        share = chain.next_share(timeout=20)
    assert share is not None and share.hash == block["hash"]
    assert mods[0].events("FOUND")


def test_the_boards_are_powered_clocked_and_read_true():
    """G1: SET only records the voltage word; SET_VOLT switches both blades' regulators
    (shifter.c).  G2: the chips' PLL words come with SET_FREQ (api.c set_asic_freq_i).
    G4: STATUS carries the average in plain MHz.  G5: a status round completes without 0x48.
    Idle: the regulators go off and power good reads unknown, not failed."""
    with firmware_chain("MM41", nonces=[BLOCK_170["nonce"]], chain_options={"frequency": 250}) as (
        chain,
        mods,
    ):
        mine(chain)
        mods[0].wait_event("HASHING")
        status = chain.refresh(timeout=3).modules[0]
        chain.idle(timeout=5)
        idle = wait_for(lambda: chain.refresh(timeout=3).modules[0].power_good is None, 5)
    on = [e[1] for e in mods[0].events("POWER") if e[0] > 0.2]  # after the boot test
    assert ["POWER", "blade", "0", "on", "a900"] in on and [
        "POWER",
        "blade",
        "1",
        "on",
        "a900",
    ] in on
    assert on[-2:] == [["POWER", "blade", "0", "off"], ["POWER", "blade", "1", "off"]]
    # 250 MHz is CPM word 0x26298447 in cgminer's g_freq_array (driver-avalon4.h)
    plls = [e[1][3:] for e in mods[0].events("PLL")]
    assert ["26298447"] * 3 in plls  # the job's SET_FREQ
    assert plls[-1] == ["1e678447"] * 3  # idle: 100 MHz, as cgminer's cutoff
    assert status.power_good is True and status.extra["clock_mhz"] == 250
    assert status.reading_ages_s["status"] is not None and status.reading_ages_s["status"] < 3
    assert idle


def test_the_mm50s_status_ma_does_not_lose_the_module():
    """G6: the MM50 sends STATUS_MA in its status round with the miner index in OPT where
    every other reply has the DNA byte (main.c encode_pkg): not another module."""
    with firmware_chain("MM50", nonces=[BLOCK_170["nonce"]]) as (chain, mods):
        mine(chain)
        for _ in range(3):
            status = chain.refresh(timeout=3)
        assert [m.state for m in status.modules] == ["ok"]
        share = chain.next_share(timeout=10)
    assert share is not None


def test_the_chip_test_names_a_dead_chip_on_the_vendor_firmware():
    """G7, G8: TEST at the firmware's own test point; TEST_RET per four chips of each miner
    and a summary (api.c api_asic_testcores).  The board model's test RAM holds our own
    vectors (docs/firmware-tier.md); chip 1 of miner 3 is dead."""
    with firmware_chain("MM41", nonces=[BLOCK_170["nonce"]]) as (chain, mods):
        mods[0].set(dead=[(3, 1)])
        result = chain.test_chips()
    expected = {m: ([1] if m == 3 else []) for m in range(10)}
    assert result == {1: expected}
    tested = [e[1] for e in mods[0].events("POWER") if e[0] > 0.2]
    assert ["POWER", "blade", "0", "on", "a100"] in tested  # ASIC_CORETEST_VOLT, 0.7875 V


def test_after_an_overheat_the_work_starts_again():
    """G10: at 65 C the MM41 idles itself (main.c: voltage off, g_new_stratum = 0) as the
    host cuts off; when it cools, only FINISH starts its work again (SET alone does not).
    The firmware's temperature is a trimmed mean of ten 1-second samples (twipwm.c)."""
    with firmware_chain("MM41", nonces=[BLOCK_170["nonce"]]) as (chain, mods):
        mine(chain)
        mods[0].wait_event("HASHING")
        mods[0].set(temp=(1, 125))  # sensor 1 (0x49) is read_temp's; the LM75 range is -55..125 C
        cut = wait_for(lambda: chain.refresh(timeout=3).modules[0].state == "cutoff", 20)
        assert cut, "no cutoff"
        mods[0].wait_event("HASHING", after=1)  # the firmware stopped its work too
        mods[0].set(temp=(1, -55))  # the mean falls faster
        resumed = wait_for(lambda: chain.refresh(timeout=3).modules[0].state == "ok", 30)
        assert resumed, "no resume"
        mods[0].wait_event("HASHING", after=2, timeout=10)
    hashing = [e[1][1] for e in mods[0].events("HASHING")]
    assert hashing[:3] == ["on", "off", "on"]


def test_a_settings_change_between_jobs_does_not_repeat_work():
    """G9: every SET restarts the module at its window's start (main.c: mw->nonce2 =
    offset + range / 64 * id); a settings change between jobs moves the window on, so the
    chips do not hash again what they hashed before it."""
    with firmware_chain("MM41", nonces=[BLOCK_170["nonce"]]) as (chain, mods):
        job, nonce2 = block_job(BLOCK_170)
        chain.submit(job, extranonce2_start=nonce2)  # the rest of the nonce2 space
        mods[0].wait_event("NONCE2")
        time.sleep(0.5)
        chain.set_frequency(225)
        mods[0].wait_event("NONCE2", after=1, timeout=10)
    first, second = (int(e[1][2], 16) for e in mods[0].events("NONCE2")[:2])
    assert second > first + 1_000_000  # past anything worked since the job


def test_every_power_good_line_counts_on_the_mm50():
    """G13: the MM50 reports ten power-good lines though it has two miners (timer.c
    read_power_good; main.c pgcheck reads two groups of five); one line down is a power
    fault, not a good board."""
    with firmware_chain("MM50", nonces=[BLOCK_170["nonce"]]) as (chain, mods):
        mine(chain)
        mods[0].wait_event("HASHING")
        good = chain.refresh(timeout=3).modules[0].power_good
        mods[0].set(pg_fail=1 << 7)
        bad = wait_for(lambda: chain.refresh(timeout=3).modules[0].power_good is False, 5)
    assert good is True and bad


def test_the_selftest_command_passes_a_healthy_mm41_firmware(capsys):
    """The command a technician runs, given the firmware's I2C bus through a registered
    link scheme (asicdrv.register_link_scheme, as pyserial's URL handlers): the selftest
    passes on a healthy MM41 (settings read back, sensors, chip test, and the known answer,
    which is block 170 itself: miner.c test_nonce counts anything under 32 zero bits as a
    hardware error; and the job after the chip test must wait out the regulators coming
    back on, which the test switched off)."""
    import json

    from asicdrv.cli import main

    module = FirmwareModule(build("MM41"), nonces=[BLOCK_170["nonce"]])
    try:
        module.wait_event("READY", timeout=15)
        bus = FirmwareI2CBus([module])
        asicdrv.register_link_scheme("fwtest", lambda url: I2CLink(bus, url))
        capsys.readouterr()
        main(["selftest", "--json", "--device", "fwtest://MM41?polling_delay=0.002"])
        selftest = json.loads(capsys.readouterr().out)
    finally:
        module.close()
    story = (  # what the bus carried and what the board did, should it fail
        f"host wrote types {[f[2] for _, f in bus.writes][-40:]}; "
        f"events {[(round(t, 2), ' '.join(w)[:40]) for t, w in module.events()][-30:]}"
    )
    assert selftest["ok"], ([c for c in selftest["checks"] if not c["ok"]], story)
    checks = {c["check"]: c["detail"] for c in selftest["checks"]}
    assert "1889418792" in checks["known answer"]  # block 170's nonce
    assert "PLLs [200, 200, 200], core 0.688 V" in checks["settings"]
