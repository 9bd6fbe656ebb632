"""Rejection reasons are a small closed set in counters and metric labels (issue 21): a
NOMP-style pool wrote a new text for every share ("low difficulty share of 0.0123") and
made 151 new Prometheus series in 25 s on one controller."""

from __future__ import annotations

import random

from asicdrv.mining.accounting import ShareCounts
from asicdrv.mining.reject_reasons import REASONS, reason_category
from asicdrv.mining.stratum_client import REJECT_CODES


def test_pool_texts_map_to_the_closed_set():
    # texts as ckpool (stratifier.c) and NOMP (shareProcessor / jobManager) write them, and
    # the standard code names our client falls back to
    cases = {
        "Stale": "stale",
        "Invalid JobID": "stale",
        "job not found": "stale",
        "Duplicate": "duplicate",
        "duplicate share": "duplicate",
        "Above target": "low difficulty",
        "low difficulty share of 0.0123": "low difficulty",
        "Ntime out of range": "bad ntime",
        "ntime out of range": "bad ntime",
        "Invalid nonce2 length": "bad nonce2",
        "incorrect size of nonce": "bad nonce2",
        "Unauthorized worker": "unauthorized",
        "not subscribed": "unauthorized",
        "something new": "other",
        None: "other",
    }
    for text, reason in cases.items():
        assert reason_category(text) == reason, text
    assert {reason_category(name) for name in REJECT_CODES.values()} <= set(REASONS)


def test_a_pool_that_writes_a_new_text_each_time_makes_one_counter():
    counts = ShareCounts()
    rng = random.Random(1)
    for _ in range(151):
        text = f"low difficulty share of {rng.random():.4f}"
        counts.result(False, text, 1.0, 0.5)
    assert counts.to_dict()["rejected"] == {"low difficulty": 151}
