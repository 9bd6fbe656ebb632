"""The burn-in's verdicts (issue 21): dead and weak chips by one statistical test with a
stated error rate, too little evidence is INCONCLUSIVE and never PASS, a module that did no
work fails, and counts the MM's full FIFO thinned out are not used to judge chips."""

from __future__ import annotations

import json
import math
import random

from asicdrv.bench.burnin import FAMILY_ERROR, evidence_needed, judge_counts
from conftest import run

MINERS, CHIPS = 4, 26  # an 851


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth): nonces of a healthy chip over a run."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def healthy(rng: random.Random, mean: float) -> list[list[int]]:
    return [[poisson(rng, mean) for _ in range(CHIPS)] for _ in range(MINERS)]


UNTESTED = [[None] * CHIPS for _ in range(MINERS)]


def test_a_healthy_module_gets_a_finding_in_under_one_run_in_a_hundred():
    """1,000 healthy modules at each of two run lengths: the count findings (dead or weak
    chip or miner) stay under the stated 1 %, where the old dead-chip rule (no nonce at a
    miner median of 5 or more) flagged about 0.7 good chips per module at median 5."""
    rng = random.Random(21)
    for mean in (evidence_needed(MINERS * CHIPS + MINERS) + 0.5, 25):
        flagged = sum(
            bool(judge_counts(healthy(rng, mean), UNTESTED)["findings"]) for _ in range(1000)
        )
        assert flagged / 1000 < FAMILY_ERROR, (mean, flagged)


def test_too_few_nonces_to_tell_a_silent_chip_is_inconclusive_not_a_pass():
    rng = random.Random(5)
    counts = healthy(rng, 5)  # the old rule judged here, and called chance "dead"
    counts[1][7] = 0
    judged = judge_counts(counts, UNTESTED)
    assert judged["findings"] == [] and judged["dead"] == []
    assert len(judged["inconclusive"]) == MINERS
    assert "needed to tell a silent chip from chance" in judged["inconclusive"][0]


def test_a_silent_chip_and_a_slow_one_are_found_with_enough_evidence():
    rng = random.Random(6)
    counts = healthy(rng, 30)
    counts[1][7], counts[2][3] = 0, 6
    judged = judge_counts(counts, UNTESTED)
    assert judged["dead"] == [[1, 7]] and judged["weak"] == [[2, 3]]
    assert judged["inconclusive"] == []


def test_a_miner_whose_chips_all_went_quiet_is_a_dead_miner():
    """Its own median is 0, so no chip of it can be held to it: the miner is held to the
    module's median miner."""
    rng = random.Random(7)
    counts = healthy(rng, 20)
    counts[3] = [0] * CHIPS
    findings = judge_counts(counts, UNTESTED)["findings"]
    assert any(f.startswith("dead miner: miner 3 (0 nonces") for f in findings), findings


def test_a_module_without_a_nonce_did_no_work_and_fails():
    """No nonce where the module's own hash rate should have given plenty, or with its PLLs
    off: it did no work.  No nonce in a run too short for its rate: nothing to judge."""
    silent = [[0] * CHIPS for _ in range(MINERS)]
    judged = judge_counts(silent, UNTESTED, expected=1e6)
    assert judged["findings"] == ["no nonce in the whole run: the module did no work"]
    judged = judge_counts(silent, UNTESTED, expected=0)
    assert judged["findings"] == ["no nonce, and its PLLs are off: the module did no work"]
    judged = judge_counts(silent, UNTESTED, expected=3.0)
    assert judged["findings"] == [] and "run longer" in judged["inconclusive"][0]


def test_counts_thinned_by_a_full_fifo_do_not_judge_chips():
    rng = random.Random(8)
    counts = healthy(rng, 30)
    counts[0][0] = 2  # as if the dropped nonces had happened to be this chip's
    judged = judge_counts(counts, UNTESTED, fifo_overflows=12)
    assert judged["weak"] == [] and judged["findings"] == []
    assert "FIFO overflowed 12 time(s)" in judged["inconclusive"][0]


def test_a_chip_that_fails_the_chip_test_is_dead_whatever_the_counts():
    chip_test = [row[:] for row in UNTESTED]
    chip_test[2][5] = False
    judged = judge_counts(healthy(random.Random(9), 3), chip_test)
    assert judged["dead"] == [[2, 5]] and "dead chip: miner 2 chip 5" in judged["findings"]


def test_burnin_command_says_inconclusive_and_fails_a_board_that_did_no_work(tmp_path):
    db = str(tmp_path / "h.sqlite")

    def burnin(minutes: str, device: str):
        return run("burnin", "--minutes", minutes, "--device", device, "--db", db)

    short = burnin("0.05", "emu://?nonce_mask=5&hashrate=20000&polling_delay=0.001")
    assert short.returncode == 3, short.stdout + short.stderr
    assert "VERDICT: INCONCLUSIVE" in short.stdout and "run longer" in short.stdout
    idle = burnin("0.02", "emu://?hashrate=0&polling_delay=0.002")
    assert idle.returncode == 1, idle.stdout + idle.stderr
    assert "the module did no work" in idle.stdout and "VERDICT: FINDINGS" in idle.stdout
    history = run("history", "--db", db, "--json")
    assert [r["verdict"] for r in json.loads(history.stdout)] == ["INCONCLUSIVE", "FINDINGS"]
