"""Modules that come back, readings that are fresh, settings that stick, nothing lost
(issues: robustness, robustness continued, emulator fidelity 5-6)."""

import time

import pytest

import asicdrv
from asicdrv import Emulator
from blocks import BLOCK_170, GENESIS, notify_params
from conftest import FAST, wait_for


def job_for(block, difficulty=2**-24, job_id="r1", clean=False, prevhash=None):
    params, en1, size, nonce2 = notify_params(block, job_id=job_id)
    params = list(params)
    params[8] = clean
    if prevhash is not None:
        params[1] = prevhash
    return asicdrv.StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=difficulty
    )


def states(chain):
    return {m.id: m.state for m in chain.status().modules}


def test_a_module_silent_for_three_seconds_comes_back():
    emu = Emulator(modules=2, seed=4)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        dna = {m.id: m.dna for m in chain.modules}
        emu.set_faults("drop:1.0@2")  # its replies stop
        assert wait_for(lambda: states(chain).get(2) == "lost")
        time.sleep(3.2)
        emu.set_faults("")
        assert wait_for(lambda: len(chain.modules) == 2, 15)
        back = {m.id: m.dna for m in chain.modules}
        assert sorted(back.values()) == sorted(dna.values())
        assert all(m.state == "ok" for m in chain.status().modules)
        assert emu.modules[1].idle_reverts >= 1  # it let go of its id


def test_close_then_open_on_a_powered_chain():
    emu = Emulator(modules=2, seed=5)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        first = sorted(m.dna for m in chain.modules)
    start = time.monotonic()
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:  # the MMs still hold ids
        assert sorted(m.dna for m in chain.modules) == first
    assert time.monotonic() - start < 8


def test_a_silent_module_in_the_middle_does_not_hide_the_next_one():
    emu = Emulator(modules=3, seed=6, faults="drop:1.0@2")
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        assert [m.id for m in chain.modules] == [1, 3]
        status = chain.status()
        assert 2 in status.missing  # shown, not forgotten
        ids = [m.module_id for m in emu.modules]
        assert len(set(i for i in ids if i)) == len([i for i in ids if i])  # no shared id
        emu.set_faults("")
        assert wait_for(lambda: len(chain.modules) == 3, 15)
        assert not chain.status().missing
        ids = [m.module_id for m in emu.modules]
        assert sorted(ids) == [1, 2, 3]


def test_a_lost_ackdetect_at_open_is_recovered():
    emu = Emulator(modules=2, seed=7, faults="crc_errors:1.0@2")
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        assert [m.id for m in chain.modules] == [1]
        assert 2 in chain.status().missing
        emu.set_faults("")
        assert wait_for(lambda: len(chain.modules) == 2, 15)
        assert len({m.dna for m in chain.modules}) == 2


def test_settings_stick_across_opens_and_defaults_only_for_a_fresh_board():
    emu = Emulator(seed=8)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        assert chain.settings()[1]["source"] == "host"  # just powered: defaults
        assert chain.settings()[1]["frequencies_mhz"][0] == [0, 0, 0, 850]
        chain.set_frequency(700)
        chain.set_voltage_level(3)
    time.sleep(3.3)  # long enough to revert ids
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        settings = chain.settings()[1]
        assert settings["source"] == "board"
        assert settings["frequencies_mhz"] == [[700] * 4] * 4
        assert settings["voltage_levels"] == [None] * 4  # a board does not say
        status = chain.refresh(timeout=10).modules[0]
        assert status.frequencies_mhz == [[700] * 4] * 4
        with pytest.raises(asicdrv.LimitError, match="every miner"):
            chain.set_voltage_level(4, miner=1)
        chain.set_voltage_level(4)
        assert chain.settings()[1]["voltage_levels"] == [4] * 4
    assert emu.modules[0].physics.frequencies == [[700] * 4] * 4
    with asicdrv.open("emu://", emulator=emu, apply_settings=True, **FAST) as chain:
        assert chain.settings()[1]["frequencies_mhz"][0] == [0, 0, 0, 850]


def test_stale_temperatures_force_the_fan_then_cut_off():
    emu = Emulator(seed=9)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.set_fan(30)
        chain.refresh(timeout=10)
        emu.set_faults("pvt_silent")  # the MM stops sending temperatures
        assert wait_for(lambda: chain.status().modules[0].stale_temperatures, 20)
        assert wait_for(lambda: emu.modules[0].physics.fan_percent == 100)
        assert wait_for(lambda: chain.status().modules[0].state == "cutoff", 20)
        assert emu.modules[0].physics.frequencies == [[0] * 4] * 4
        assert chain.status().modules[0].reading_ages_s["chip_temperatures"] > 0.1
        emu.set_faults("")
        assert wait_for(lambda: chain.status().modules[0].state == "ok", 20)


def test_noisy_link_overheat_cuts_off_in_time():
    """20 % CRC errors: RSTMMTX only drops the unread reply, so temperatures keep coming
    and the cutoff is as quick as on a clean link (plus a round or two)."""
    for faults in ("", "crc_errors:0.2"):
        emu = Emulator(seed=10, faults=faults or None, thermal_tau_s=0.5)
        with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
            chain.refresh(timeout=10)
            emu.set_ambient(95)
            start = time.monotonic()
            assert wait_for(lambda: chain.status().modules[0].cutoffs >= 1, 15), faults
            took = time.monotonic() - start
            assert took < 6, (faults, took)


def test_clean_jobs_keep_late_nonces_out_of_the_hardware_errors():
    emu = Emulator(seed=11, nonce_mask=10, hashrate=150_000)
    with asicdrv.open(
        "emu://", emulator=emu, polling_delay=0.03, detect_interval=0.3, fan_interval=0.05
    ) as chain:
        got = {}
        for i in range(12):
            job = job_for(GENESIS, job_id=f"c{i}", clean=True)
            chain.submit(job)  # clean_jobs on the same block: a work restart
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                share = chain.next_share(timeout=0.05)
                if share is not None:
                    got[share.job_id] = got.get(share.job_id, 0) + 1
        status = chain.status().modules[0]
    assert status.rejected.get("unknown_job", 0) == 0
    assert status.rejected.get("bad_hash", 0) == 0 and status.hw_errors == 0
    assert len(got) >= 10  # nearly every job got shares
    assert emu.modules[0].nonces_flushed > 0  # the restarts emptied the FIFO


def test_late_nonces_of_retired_jobs_are_stale_not_hardware_errors():
    """Jobs that are not clean pile up; the MM keeps its FIFO, so nonces of jobs the host
    has retired (more than four back) still arrive: stale, never a hardware error."""
    emu = Emulator(seed=15, nonce_mask=10, hashrate=150_000)
    with asicdrv.open(
        "emu://", emulator=emu, polling_delay=0.03, detect_interval=0.3, fan_interval=0.05
    ) as chain:
        for i in range(10):
            chain.submit(job_for(GENESIS, job_id=f"n{i}", clean=False))
            time.sleep(0.4)
        assert wait_for(lambda: chain.status().modules[0].rejected.get("stale", 0) > 0, 10)
        status = chain.status().modules[0]
    assert status.rejected.get("unknown_job", 0) == 0 and status.hw_errors == 0


def test_a_work_restart_flushes_the_mm_and_old_nonces_are_stale():
    emu = Emulator(seed=12, nonce_mask=10, hashrate=150_000)
    with asicdrv.open(
        "emu://", emulator=emu, polling_delay=0.05, detect_interval=0.3, fan_interval=0.05
    ) as chain:
        chain.submit(job_for(GENESIS, job_id="old"))
        assert wait_for(lambda: len(emu.modules[0].nonces) > 5, 10)
        flushed = emu.modules[0].nonces_flushed
        while chain.next_share(timeout=0) is not None:  # what was delivered before
            pass
        chain.submit(job_for(BLOCK_170, job_id="new", clean=True))  # a new block
        submitted = time.perf_counter()
        assert emu.modules[0].nonces_flushed > flushed
        shares = []
        while sum(s.job_id == "new" for s in shares) < 5:
            share = chain.next_share(timeout=10)
            assert share is not None, "no share of the new job"
            shares.append(share)
    # a share of the old job verified before the submit (the poller runs meanwhile) was a
    # good share then; none may be made after it
    assert all(s.job_id == "new" for s in shares if s.verified_at > submitted), shares


def test_the_nonce_fifo_is_bounded_and_overflow_is_reported():
    emu = Emulator(seed=13, nonce_mask=8, hashrate=300_000)
    with asicdrv.open(
        "emu://", emulator=emu, polling_delay=0.03, detect_interval=5, fan_interval=0.5
    ) as chain:
        chain.submit(job_for(GENESIS, difficulty=2**-25))
        assert wait_for(lambda: emu.modules[0].nonces_overflowed > 0, 15)
        assert len(emu.modules[0].nonces) <= 64
        # the MM reports the overflow in its next STATUS; with the chips hashing 300 kH/s in
        # this process a loaded machine polls ~3 times a second and a status round takes
        # ~30 s: idle the chips (the report stays pending) so the round comes round
        chain.idle()
        assert wait_for(lambda: chain.status().modules[0].fifo_overflows > 0, 20)


def test_emulator_nonce_mask_is_a_chip_option_the_host_set_does_not_override():
    emu = Emulator(seed=14, nonce_mask=12)
    with asicdrv.open("emu://", emulator=emu, start=False):
        assert emu.modules[0].set_fields["nonce_mask"] == 27  # the host's SET: 851 default
        assert emu.modules[0].scanner.nonce_mask == 12  # the chips keep the option


def test_a_module_that_comes_back_gets_the_current_job_and_the_others_keep_theirs():
    """Robustness 3, point 10: after a re-detect no job was sent (the module sat idle until
    the next one).  It now gets the current job at once, addressed to it alone."""
    emu = Emulator(modules=2, seed=4, nonce_mask=10, hashrate=100_000)
    job = job_for(GENESIS, job_id="back")
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job)
        assert wait_for(lambda: {s.module for s in _drain(chain)} >= {1, 2}, 15)
        first_job = emu.modules[0]._last_job
        emu.set_faults("drop:1.0@2")  # its replies stop; after 3 s it lets go of its id
        assert wait_for(lambda: states(chain).get(2) == "lost")
        time.sleep(3.2)
        emu.set_faults("")
        assert wait_for(lambda: len(chain.modules) == 2, 15)
        _drain(chain)  # what it found before it was lost
        assert wait_for(lambda: 2 in {s.module for s in _drain(chain)}, 15)
        assert emu.modules[0]._last_job is first_job  # module 1 was not restarted


def _drain(chain, most=1000):
    """The shares queued now (at most ``most``: they keep coming while it reads)."""
    shares = []
    while len(shares) < most and (share := chain.next_share(timeout=0)) is not None:
        shares.append(share)
    return shares
