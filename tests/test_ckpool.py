"""Stratum as ckpool (Con Kolivas's pool server) speaks it, from its stratifier.c: pings, a
reject reason in its own field, a pool that stops reading and then asks for an empty
reconnect, the same work again under a new job id, a request it never answers.  The test
pool plays each of these; it checks every share with hashlib alone."""

import logging
import time

from asicdrv.mining.pool import PoolConfig
from asicdrv.mining.stratum_client import StratumClient
from asicdrv.testing import TestPool, easy_difficulty
from conftest import wait_for
from test_controller import controller_for, emulators


def client_for(pool, **options):
    client = StratumClient(
        PoolConfig(pool.url, "tester.1"),
        on_job=lambda job: None,
        on_result=lambda *a: None,
        **options,
    )
    client.connect()
    return client


def test_a_ping_is_answered_pong_and_is_no_warning(caplog):
    """K1: cgminer answers mining.ping with "pong"; so do we, logged at debug only."""
    with TestPool(difficulty=easy_difficulty()) as pool:
        client = client_for(pool)
        try:
            with caplog.at_level(logging.DEBUG, logger="asicdrv"):
                for _ in range(3):
                    pool.ping()
                assert wait_for(lambda: len(pool.replies) == 3, 5)
        finally:
            client.close()
    assert all(r == {"id": "ping-0", "result": "pong", "error": None} for r in pool.replies)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert client.errors == {}


def test_the_reject_reason_field_is_the_reason_booked():
    """K2: ckpool rejects with error null and "reject-reason"; the books carry its text."""
    emus = emulators(1, modules=1)
    with TestPool(difficulty=easy_difficulty()) as pool:
        pool.reject_reason_field = True
        pool.reject = (23, "Above target")
        controller = controller_for([pool], emus).start()
        try:
            assert wait_for(lambda: len(pool.shares) >= 5, 30)
        finally:
            controller.stop()
    counts = controller.status()["pools"][0]["counts"]
    assert counts["rejected"] == {"low difficulty": counts["submitted"]}  # ckpool's words
    assert counts["submitted"] >= 5 and counts["accepted"] == 0


def test_a_share_whose_reply_never_came_is_unknown_not_rejected():
    """K3: ckpool stops reading while its upstream is gone, then sends an empty
    client.reconnect.  The shares it never answered are unknown ("connection lost"); what
    it accepted and rejected is exactly what it said, and the books balance."""
    emus = emulators(1, modules=2)
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = controller_for([pool], emus).start()
        try:
            pool.wait_for_shares(10)
            pool.deaf = True
            assert wait_for(lambda: pool.unheard >= 5, 20)
            pool.deaf = False
            pool.reconnect(empty=True)
            assert wait_for(lambda: pool.connections >= 2, 10)
            before = len(pool.accepted)
            pool.wait_for_shares(before + 10)
        finally:
            controller.stop()
        accepted_by_pool = len(pool.accepted)
    counts = controller.status()["pools"][0]["counts"]
    assert counts["rejected"] == {}
    assert counts["accepted"] == accepted_by_pool
    assert sum(counts["unknown"].values()) >= 5
    assert set(counts["unknown"]) <= {"connection lost", "no reply"}
    assert counts["submitted"] == counts["accepted"] + sum(counts["unknown"].values())
    assert counts["found"] == counts["submitted"] + sum(counts["stale"].values())


def test_the_same_work_under_new_job_ids_is_never_hashed_twice():
    """K4: a pool that re-sends unchanged work under a new id must not get the same hashes
    again (ckpool remembers them and rejects "Duplicate")."""
    emus = emulators(1, modules=2)
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = controller_for([pool], emus).start()
        try:
            pool.wait_for_shares(5)
            for _ in range(6):
                pool.resend_job()
                pool.wait_for_shares(len(pool.shares) + 5)
        finally:
            controller.stop()
        shares = list(pool.shares)
    keys = [(s.extranonce2, s.ntime, s.nonce) for s in shares]
    assert len(keys) == len(set(keys)), "the same header was submitted twice"
    assert [s for s in shares if not s.accepted] == []


def test_a_request_the_pool_never_answers_expires():
    """K5: ckpool drops mining.extranonce.subscribe without a reply; the request must not
    stay pending for the whole connection."""
    with TestPool(difficulty=easy_difficulty()) as pool:
        pool.answer_extranonce_subscribe = False
        client = client_for(pool, reply_timeout=0.3)
        try:
            assert [m for m, _ in client.pending_requests()] == ["mining.extranonce.subscribe"]
            time.sleep(0.4)
            client.expire()
            assert client.pending_requests() == []
            assert client.alive
        finally:
            client.close()


def test_a_pool_that_never_answers_subscribe_says_what_it_may_be():
    """ckpool in passthrough mode answers only another ckpool: the error says so."""
    import socket

    import pytest

    from asicdrv import PoolError

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        config = PoolConfig(f"stratum+tcp://127.0.0.1:{silent.getsockname()[1]}", "w")
        client = StratumClient(
            config, on_job=lambda job: None, on_result=lambda *a: None, reply_timeout=0.3
        )
        with pytest.raises(PoolError, match="passthrough"):
            client.connect()


def test_a_pool_reached_by_an_ascii_name_loads_no_idna_codec():
    """socket encodes a str host with the IDNA codec, which loads the Unicode database
    (0.6 MiB resident for the controller's life); an ASCII name goes as bytes."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from asicdrv.mining.pool import PoolConfig\n"
        "from asicdrv.mining.stratum_client import StratumClient\n"
        "from asicdrv.testing import TestPool, easy_difficulty\n"
        "with TestPool(difficulty=easy_difficulty()) as pool:\n"
        "    client = StratumClient(PoolConfig(pool.url, 'w'), on_job=print, on_result=print)\n"
        "    client.connect()\n"
        "    client.close()\n"
        "print('encodings.idna' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"
