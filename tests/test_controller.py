"""The controller against emulated chains and the test pool (which checks every share with
hashlib on its own): work split, clean jobs, difficulty, failover, a hostile pool, lost
chains, a safe stop."""

import time

import pytest

from asicdrv import Emulator
from asicdrv.mining.controller import Controller, DeviceConfig
from asicdrv.mining.pool import PoolConfig
from asicdrv.testing import EASY_NONCE_MASK, TestPool, easy_difficulty
from conftest import wait_for


def emulators(count, modules=3):
    return [
        Emulator(modules=modules, nonce_mask=EASY_NONCE_MASK, seed=10 + n) for n in range(count)
    ]


def controller_for(pools, emus, **options):
    devices = [DeviceConfig(url="emu://", options={"emulator": emu}) for emu in emus]
    options = {"retry_min": 0.05, "retry_max": 0.3, **options}
    return Controller([PoolConfig(p.url, "tester.1") for p in pools], devices, **options)


@pytest.fixture
def two_pools():
    with (
        TestPool(difficulty=easy_difficulty()) as first,
        TestPool(difficulty=easy_difficulty()) as second,
    ):
        yield first, second


def test_two_chains_of_three_modules_split_the_work(stratum_pool):
    emus = emulators(2)
    controller = controller_for([stratum_pool], emus).start()
    try:
        stratum_pool.wait_for_shares(120)
    finally:
        controller.stop()
    shares = stratum_pool.shares
    assert not stratum_pool.rejected, stratum_pool.rejected[:3]
    keys = [(s.job_id, s.extranonce2, s.ntime, s.nonce) for s in shares]
    assert len(keys) == len(set(keys))
    # every module of both chains found shares, and each chain stayed in its own slice
    status = controller.status()
    assert sorted(status["modules"]) == [(c, m) for c in (0, 1) for m in (1, 2, 3)]
    assert all(m["counts"]["accepted"] > 0 for m in status["modules"].values())
    # the first dispatch takes the first of 64 regions (2**26 nonce2 values), one half each
    halves = {int.from_bytes(bytes.fromhex(s.extranonce2), "little") >> 25 for s in shares}
    assert halves == {0, 1}
    counts = status["pools"][0]["counts"]
    assert counts["accepted"] == len(stratum_pool.accepted) == counts["submitted"]
    assert status["hashrate_ghs"]["5s"] > 0


def test_clean_jobs_flush_the_boards_and_nothing_stale_is_submitted(stratum_pool):
    controller = controller_for([stratum_pool], emulators(1)).start()
    try:
        stratum_pool.wait_for_shares(10)
        for _ in range(15):
            stratum_pool.new_job(clean=True)
            time.sleep(0.15)
        job = stratum_pool.job
        wait_for(lambda: any(s.job_id == job.job_id for s in stratum_pool.accepted), 20)
    finally:
        controller.stop()
    # shares in flight while the clean notify travels are stale on arrival at any pool;
    # none may leave once the controller has read the notify
    assert not [s for s in stratum_pool.rejected if s.sent_after_clean]
    assert {s.reason for s in stratum_pool.rejected} <= {"Job not found (stale)"}
    status = controller.status()["pools"][0]
    assert status["clean_jobs"] >= 15
    assert status["counts"]["accepted"] == len(stratum_pool.accepted)


def test_difficulty_applies_from_the_next_job(stratum_pool):
    controller = controller_for([stratum_pool], emulators(1)).start()
    try:
        stratum_pool.wait_for_shares(10)
        old_job = stratum_pool.job.job_id
        harder = easy_difficulty() * 8
        stratum_pool.set_difficulty(harder)  # then a new, not clean, job
        new_job = stratum_pool.job.job_id
        wait_for(lambda: sum(s.job_id == new_job for s in stratum_pool.accepted) >= 5, 30)
    finally:
        controller.stop()
    assert not stratum_pool.rejected, [s.reason for s in stratum_pool.rejected][:5]
    new = [s for s in stratum_pool.accepted if s.job_id == new_job]
    assert all(s.difficulty >= harder for s in new)
    assert {s.target_difficulty for s in stratum_pool.accepted if s.job_id == old_job} == {
        easy_difficulty()
    }


def test_failover_to_the_backup_and_back(two_pools):
    primary, backup = two_pools
    controller = controller_for([primary, backup], emulators(1)).start()
    try:
        primary.wait_for_shares(5)
        primary.stop()  # the primary goes away
        t0 = time.monotonic()
        backup.wait_for_shares(5, timeout=20)
        switched_in = time.monotonic() - t0
        assert controller.status()["active_pool"] == 1
        before = len(primary.accepted)
        primary.start()  # ... and comes back on its port
        wait_for(lambda: controller.status()["active_pool"] == 0, 20)
        primary.wait_for_shares(before + 5, timeout=20)
    finally:
        controller.stop()
    assert switched_in < 10
    assert not primary.rejected and not backup.rejected
    pools = controller.status()["pools"]
    assert pools[0]["switches_to"] == 2 and pools[1]["switches_to"] == 1


def test_refused_authorization_and_silence_fail_over(two_pools):
    primary, backup = two_pools
    primary.authorize = False
    controller = controller_for([primary, backup], emulators(1), no_work_timeout=1.5).start()
    try:
        backup.wait_for_shares(3, timeout=20)
        assert controller.status()["pools"][0]["state"] in ("refused", "connecting")
        # the primary accepts again: it takes over; then it stops sending work
        primary.authorize = True
        wait_for(lambda: controller.status()["active_pool"] == 0, 20)
        primary.send_jobs = False
        primary.drop_clients()
        wait_for(lambda: controller.status()["active_pool"] == 1, 20)
    finally:
        controller.stop()


def test_a_hostile_pool_is_survived(stratum_pool):
    controller = controller_for([stratum_pool], emulators(1)).start()
    try:
        stratum_pool.wait_for_shares(5)
        stratum_pool.send_raw(b"\x00\xffgarbage that is not json\n")
        stratum_pool.send_raw(b'{"id": 99999, "result": true, "error": null}\n')
        stratum_pool.send_raw(b'{"id": 7, "method": "mining.dance", "params": []}\n')
        stratum_pool.send_raw(b'{"id": null, "method": "mining.notify", "params": [1]}\n')
        stratum_pool.send_raw(b'{"method": "client.show_message", "params": ["hi"]}\n')
        stratum_pool.send_raw(b"[" + b"1," * 40_000 + b"1]\n")  # 80 KB line
        stratum_pool.send_raw(
            b'{"id": null, "method": "client.reconnect", "params": ["evil.example.com", 3333, 0]}\n'
        )
        count = len(stratum_pool.accepted)
        stratum_pool.wait_for_shares(count + 10)
    finally:
        controller.stop()
    assert stratum_pool.connections == 1  # never dropped, never redirected
    client_errors = controller.pools[0].client.errors
    assert client_errors["line over 64 KiB"] == 1 and client_errors["invalid JSON"] == 1
    assert "mining.configure" not in stratum_pool.methods


def test_reconnect_resumes_the_session(stratum_pool):
    controller = controller_for([stratum_pool], emulators(1)).start()
    try:
        stratum_pool.wait_for_shares(3)
        stratum_pool.reconnect(wait=0)
        wait_for(lambda: stratum_pool.connections == 2 and stratum_pool.clients(), 20)
        count = len(stratum_pool.accepted)
        stratum_pool.wait_for_shares(count + 5)
    finally:
        controller.stop()
    first, second = stratum_pool.subscriptions[:2]
    assert first[0].startswith("asicdrv/") and len(first) == 1
    assert len(second) == 2  # the session id to resume
    assert not stratum_pool.rejected


def test_a_lost_chain_is_reopened_while_the_other_mines(stratum_pool):
    emus = emulators(2, modules=1)
    controller = controller_for([stratum_pool], emus).start()
    try:
        stratum_pool.wait_for_shares(5)
        emus[0].disconnect()
        chain0 = lambda: controller.status()["chains"][0]  # noqa: E731
        # a reopened chain's module is listed from its first status round on (0 until then)
        accepted = lambda key: (  # noqa: E731
            controller.status()["modules"].get(key, {}).get("counts", {}).get("accepted", 0)
        )
        assert wait_for(lambda: chain0()["state"] == "gone", 15), chain0()
        mined = accepted((1, 1))
        assert wait_for(lambda: accepted((1, 1)) >= mined + 5, 30), "chain 1 stopped mining"
        emus[0].reconnect()
        assert wait_for(lambda: chain0()["state"] == "mining", 30), chain0()
        found = accepted((0, 1))
        assert wait_for(lambda: accepted((0, 1)) >= found + 3, 30), "chain 0 mines no more"
    finally:
        controller.stop()
    assert controller.status()["chains"][0]["opens"] == 2, controller.status()["chains"][0]
    assert not stratum_pool.rejected


def test_stop_leaves_every_module_idle_and_sends_what_was_verified(stratum_pool):
    emus = emulators(2)
    controller = controller_for([stratum_pool], emus).start()
    stratum_pool.wait_for_shares(10)
    controller.stop()
    for emu in emus:
        for module in emu.modules:
            assert all(f == 0 for plls in module.physics.frequencies for f in plls)
            assert module.physics.fan_percent == 50
    counts = controller.status()["pools"][0]["counts"]
    # every share taken from the boards was submitted and answered (or counted stale)
    assert counts["found"] == counts["submitted"] + sum(counts["stale"].values())
    assert counts["submitted"] == counts["accepted"] + sum(counts["rejected"].values())
    assert counts["accepted"] == len(stratum_pool.accepted)


def test_no_pool_keeps_the_boards_idle():
    emus = emulators(1, modules=2)
    controller = controller_for([], emus).start()
    try:
        time.sleep(0.3)
        chain_status = controller.status()["chains"][0]["status"]
        assert all(m.idle for m in chain_status.modules)
        assert all(f == 0 for m in emus[0].modules for plls in m.physics.frequencies for f in plls)
    finally:
        controller.stop()


def test_plugin_fixtures_mine_a_share(asicdrv_chain, stratum_pool):
    """The pytest11 plugin's fixtures, as a user's CI gets them."""
    controller = Controller(
        [PoolConfig(stratum_pool.url, "user.1")],
        [DeviceConfig(url="emu://", options={"emulator": asicdrv_chain.emulator})],
    )
    asicdrv_chain.close()  # the controller opens its own chain on the emulator
    controller.start()
    try:
        stratum_pool.wait_for_shares(3)
    finally:
        controller.stop()
    assert not stratum_pool.rejected


def test_an_unusable_stream_is_dropped_and_reconnected(stratum_pool):
    controller = controller_for([stratum_pool], emulators(1)).start()
    try:
        stratum_pool.wait_for_shares(3)
        stratum_pool.send_raw(b"not json\n" * 25)
        wait_for(lambda: stratum_pool.connections == 2 and stratum_pool.clients(), 20)
        count = len(stratum_pool.accepted)
        stratum_pool.wait_for_shares(count + 3)
    finally:
        controller.stop()


def test_rejected_shares_are_counted_by_reason(stratum_pool):
    controller = controller_for([stratum_pool], emulators(1)).start()
    try:
        stratum_pool.wait_for_shares(3)
        stratum_pool.reject = (23, "Low difficulty share")
        wait_for(lambda: controller.status()["pools"][0]["counts"]["rejected"], 20)
        stratum_pool.reject = None
        stratum_pool.reply_delay = 0.3  # slow replies are still matched
        count = len(stratum_pool.accepted)
        stratum_pool.wait_for_shares(count + 3)
    finally:
        controller.stop()
    counts = controller.status()["pools"][0]["counts"]
    assert set(counts["rejected"]) == {"low difficulty"}
    assert counts["accepted"] == len(stratum_pool.accepted)
    assert counts["rejected"]["low difficulty"] == len(stratum_pool.rejected)


def test_set_extranonce_applies_from_the_next_job(stratum_pool):
    controller = controller_for([stratum_pool], emulators(1)).start()
    try:
        stratum_pool.wait_for_shares(3)
        assert "mining.extranonce.subscribe" in stratum_pool.methods
        stratum_pool.set_extranonce(extranonce2_size=8)
        job = stratum_pool.job
        wait_for(lambda: sum(s.job_id == job.job_id for s in stratum_pool.accepted) >= 5, 30)
    finally:
        controller.stop()
    assert not [s for s in stratum_pool.rejected if s.reason != "Job not found (stale)"]
    assert all(len(s.extranonce2) == 16 for s in stratum_pool.accepted if s.job_id == job.job_id)


def test_no_work_no_hashing_until_the_first_job():
    """Robustness 3, point 9: with every pool unreachable from the start the boards stay
    idle (PLLs off), and hash from the first job a pool sends."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on, for now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    emus = emulators(1, modules=2)
    pool = TestPool(difficulty=easy_difficulty(), port=port)
    controller = Controller(
        [PoolConfig(f"stratum+tcp://127.0.0.1:{port}", "tester.1")],
        [DeviceConfig(url="emu://", options={"emulator": emus[0]})],
        retry_min=0.05,
        retry_max=0.3,
    ).start()
    try:
        time.sleep(1.0)
        modules = emus[0].modules
        assert all(f == 0 for m in modules for plls in m.physics.frequencies for f in plls)
        with pool:
            pool.wait_for_shares(5)
            assert all(max(max(p) for p in m.physics.frequencies) > 0 for m in modules)
    finally:
        controller.stop()


def test_an_absurd_difficulty_is_served_not_fatal():
    """Robustness 3, point 1: mining.set_difficulty 1e-300 killed the pool's thread
    (OverflowError making a target) and mining stopped for good.  Any finite positive
    difficulty is served, clamped to what a 256-bit target carries."""
    emus = emulators(1, modules=2)
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = controller_for([pool], emus).start()
        try:
            pool.wait_for_shares(5)
            pool.set_difficulty(1e-300)
            pool.wait_for_shares(len(pool.accepted) + 20)
            pool.set_difficulty(easy_difficulty())
            pool.wait_for_shares(len(pool.accepted) + 5)
        finally:
            controller.stop()
        assert pool.connections == 1
    status = controller.status()
    assert status["pools"][0]["counts"]["rejected"] == {}
    assert status["chains"][0]["state"] in ("mining", "closed")


def test_a_notify_with_a_lone_surrogate_job_id_is_a_bad_job_not_a_dead_connection():
    """Robustness 3, point 3: '"\\ud800"' is valid JSON; as a job id it dropped the
    connection every time (the pool flapped).  A bad field is a bad job."""
    emus = emulators(1, modules=1)
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = controller_for([pool], emus).start()
        try:
            pool.wait_for_shares(3)
            params = pool.job.notify_params()
            line = '{"id": null, "method": "mining.notify", "params": ["\\ud800"'
            rest = ", ".join(__import__("json").dumps(p) for p in params[1:])
            pool.send_raw((line + ", " + rest + "]}\n").encode())
            pool.new_job()
            pool.wait_for_shares(len(pool.accepted) + 5)
        finally:
            controller.stop()
        assert pool.connections == 1  # never dropped


def test_a_redirect_to_a_dead_port_is_tried_once_and_a_long_wait_is_capped(mocker):
    """Robustness 3, point 2: client.reconnect to a dead port replaced the configured port
    for good, and a wait of up to 3600 s was obeyed.  A redirect is tried once, then the
    configured address comes back; the wait is capped (cgminer ignores it altogether): at
    10 s, 2 s here."""
    import socket

    from asicdrv.mining import pool as pool_module

    assert pool_module.REDIRECT_WAIT_MAX_S == 10.0
    mocker.patch.object(pool_module, "REDIRECT_WAIT_MAX_S", 2.0)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    emus = emulators(1, modules=1)
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = controller_for([pool], emus).start()
        try:
            pool.wait_for_shares(3)
            pool.reconnect(port=dead, wait=0)
            assert wait_for(lambda: pool.connections == 2, 15), "not back on the configured port"
            pool.wait_for_shares(len(pool.accepted) + 3)
            started = time.monotonic()
            pool.reconnect(wait=3600)
            assert wait_for(lambda: pool.connections == 3, 20), "the 3600 s wait was obeyed"
            assert 2 <= time.monotonic() - started < 7
        finally:
            controller.stop()


def test_a_pool_keeper_that_dies_is_a_loud_state_change(mocker, caplog):
    """Robustness 3, point 1: a thread that dies is a state change everyone sees, never
    silence (the status line kept saying "pool 0")."""
    from asicdrv.mining.pool import Pool

    mocker.patch.object(Pool, "_connect_once", side_effect=RuntimeError("a bug"))
    emus = emulators(1, modules=1)
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = controller_for([pool], emus).start()
        try:
            assert wait_for(lambda: controller.status()["pools"][0]["state"] == "dead", 10)
        finally:
            controller.stop()
    status = controller.status()["pools"][0]
    assert "keeper stopped: RuntimeError: a bug" in status["error"]
    assert any("keeper stopped" in r.getMessage() for r in caplog.records)
