"""The factory core test: known work on every chip for a while, then each chip judged.

    result = run_burnin(chain, seconds=600)
    result["ok"], result["findings"]

What it does: runs the chip test (TEST/TEST_RET), sends a known job (block 170) at a
difficulty every nonce a chip reports meets, counts verified nonces per chip, and samples
temperatures and fans every ``sample_s``.  Findings:

- **dead or weak chip**: fails the chip test; or, counted against its miner's median,
  under half of it and so far under that a healthy chip would get there by chance less
  than ``FAMILY_ERROR`` / (the module's chips and miners) of the time (nonces arrive as a
  Poisson process): a healthy module shows any such finding in under 1 % of runs.  Dead
  when it returned nothing, weak otherwise.  The same test holds a whole miner against the
  module's median miner, and a module with no nonce at all did no work: a finding;
- **inconclusive** (never PASS): a miner whose median is too small for a silent chip to be
  told from chance (under ln(tests / FAMILY_ERROR): about 9.2 nonces for an 851's 104
  chips), or a module whose nonce FIFO overflowed (the MM dropped nonces: counts unfit to
  judge chips); run longer, or at a lower share rate;
- **hardware errors**: a chip with 3+ nonces that fail verification;
- **sensor reads 0** (boards have burnt with sensors reading 0) or **stuck sensor** (one
  value for the whole run while most chips of its miner changed);
- **fan**: stalled (0 RPM with duty), or any overheat or stale-sensor cutoff.

The result is the report data :mod:`asicdrv.bench.report` renders and the repair history
stores.
"""

from __future__ import annotations

import math
import statistics
import time

from .._version import VERSION
from ..bitcoin.known_blocks import BLOCK_170, notify_params
from ..mining.stratum import StratumJob

BURNIN_DIFFICULTY = 2.0**-24  # every nonce a chip reports passes the MM's TARGET
FAMILY_ERROR = 0.01  # a healthy module gets a count finding in at most 1 % of runs
WEAK_RATIO = 0.5  # and a slow chip (or miner) is under half its peers' median
HW_ERROR_LIMIT = 3


def known_job(job_id: str = "burnin") -> StratumJob:
    params, extranonce1, size, _ = notify_params(BLOCK_170, job_id=job_id)
    params = list(params)
    params[8] = True
    return StratumJob.from_notify(
        params, extranonce1=extranonce1, extranonce2_size=size, difficulty=BURNIN_DIFFICULTY
    )


def module_record(m, failing: dict) -> dict:
    """What every report holds for a module: identity, shape, the chip test (True pass,
    False fail, None not tested: ``failing`` is ``Chain.test_chips()``'s answer for it) and
    its last readings."""
    miners = len(m.chip_temperatures_c)
    asics = len(m.chip_temperatures_c[0]) if miners else 0
    return {
        "id": m.id,
        "dna": m.dna,
        "model": m.model,
        "version": m.version,
        "miners": miners,
        "asics": asics,
        "chip_test": [
            [None if mi not in failing else c not in failing[mi] for c in range(asics)]
            for mi in range(miners)
        ],
        "temperatures": m.chip_temperatures_c,
        "hw_errors": m.chip_hw_errors,
        "fan_rpm": m.fan_rpm,
        "fan_percent": m.fan_percent,
        "hottest_c": m.hottest_chip_c,
    }


def report_settings(chain) -> dict:
    """``Chain.settings()`` keyed by module id as text (as JSON keys are)."""
    return {str(k): v for k, v in chain.settings().items()}


def sample(status, t: float) -> dict:
    return {
        "t": round(t, 2),
        "modules": {
            str(m.id): {
                "hottest_c": m.hottest_chip_c,
                "mm_c": m.temperature_c,
                "fan_rpm": m.fan_rpm,
                "fan_percent": m.fan_percent,
                "chips_c": m.chip_temperatures_c,
            }
            for m in status.modules
        },
    }


def run_burnin(
    chain,
    seconds: float,
    frequency=None,
    voltage_level: int | None = None,
    sample_s: float = 1.0,
    progress=None,
) -> dict:
    started = time.time()
    if frequency is not None:
        chain.set_frequency(frequency)
    if voltage_level is not None:
        chain.set_voltage_level(voltage_level)
    modules = {m.id: m for m in chain.modules}
    fifo_before = {m.id: m.fifo_overflows for m in chain.status().modules}
    tests = chain.test_chips()
    counts = {mid: [[0] * m.asic_count for _ in range(m.miner_count)] for mid, m in modules.items()}
    chain.submit(known_job(), restart=True)
    t0 = time.monotonic()
    timeline = [sample(chain.status(), 0.0)]
    next_sample = t0 + sample_s
    while (now := time.monotonic()) < t0 + seconds:
        share = chain.next_share(timeout=min(0.2, max(0.0, next_sample - now)))
        if share is not None and share.module in counts:
            counts[share.module][share.miner][share.chip] += 1
        if time.monotonic() >= next_sample:
            timeline.append(sample(chain.status(), time.monotonic() - t0))
            next_sample += sample_s
            if progress is not None:
                progress(time.monotonic() - t0, seconds)
    status = chain.refresh(timeout=5)
    timeline.append(sample(status, time.monotonic() - t0))
    result = {
        "kind": "burnin",
        "tool": f"asicdrv {VERSION}",
        "device": chain.url,
        "started": started,
        "seconds": round(time.monotonic() - t0, 1),
        "auc": dict(status.auc),
        "settings": report_settings(chain),
        "timeline": timeline,
        "modules": [],
        "findings": [],
    }
    result["inconclusive"] = []
    for m in status.modules:
        overflows = m.fifo_overflows - fifo_before.get(m.id, 0)
        expected = expected_nonces(m.hashrate_ghs, time.monotonic() - t0)
        judged = judge_module(
            m, counts.get(m.id), tests.get(m.id, {}), timeline, overflows, expected
        )
        result["modules"].append(judged)
        result["findings"] += [f"module {m.id}: {f}" for f in judged["findings"]]
        result["inconclusive"] += [f"module {m.id}: {f}" for f in judged["inconclusive"]]
    result["ok"] = not result["findings"] and not result["inconclusive"]
    result["verdict"] = verdict(result["findings"], result["inconclusive"])
    result["false_finding_chance"] = FAMILY_ERROR
    return result


def verdict(findings: list, inconclusive: list) -> str:
    """FINDINGS, else INCONCLUSIVE (too little to judge), else PASS."""
    return "FINDINGS" if findings else "INCONCLUSIVE" if inconclusive else "PASS"


def evidence_needed(tests: int) -> float:
    """The peers' median count under which a chip that returned nothing cannot be told
    from a healthy one by chance: P(0) = e^-median must be under FAMILY_ERROR / tests."""
    return math.log(tests / FAMILY_ERROR)


def slow(n: int, median: float, tests: int) -> bool:
    """A count under half its peers' median that chance gives a healthy chip (or miner)
    less than FAMILY_ERROR / tests of the time."""
    return n < WEAK_RATIO * median and poisson_cdf(n, median) < FAMILY_ERROR / tests


def expected_nonces(hashrate_ghs: float, seconds: float) -> float:
    """The nonces a module hashing at the rate it reports returns in ``seconds`` at the
    burn-in's difficulty (each hash meets it with probability 1 / (2^32 x difficulty))."""
    return hashrate_ghs * 1e9 * seconds / (2**32 * BURNIN_DIFFICULTY)


def judge_module(
    m, counts, failing: dict, timeline: list, fifo_overflows: int = 0, expected: float | None = None
) -> dict:
    record = module_record(m, failing)
    miners, asics, chip_test = record["miners"], record["asics"], record["chip_test"]
    counts = counts or [[0] * asics for _ in range(miners)]
    judged = judge_counts(counts, chip_test, fifo_overflows, expected)
    dead, weak, ratios = judged["dead"], judged["weak"], judged["ratios"]
    findings, inconclusive = judged["findings"], judged["inconclusive"]
    hw = record["hw_errors"]
    findings += [
        f"hardware errors: miner {mi} chip {c} ({hw[mi][c]})"
        for mi in range(miners)
        for c in range(asics)
        if hw[mi][c] >= HW_ERROR_LIMIT
    ]
    sensors = _sensor_findings(str(m.id), miners, asics, timeline, {tuple(d) for d in dead})
    findings += sensors
    if (
        any(
            s["modules"].get(str(m.id), {}).get("fan_rpm") == 0
            and s["modules"][str(m.id)].get("fan_percent", 0) > 0
            for s in timeline[1:]
        )
        or m.fan_failed
    ):
        findings.append("fan: 0 RPM with the fan driven (stalled or unplugged)")
    if m.cutoffs:
        findings.append(f"{m.cutoffs} cutoff(s) during the run (overheat or stale sensors)")
    return {
        **record,
        "nonces": counts,
        "nonce_ratio": ratios,
        "dead_chips": dead,
        "weak_chips": weak,
        "findings": findings,
        "inconclusive": [] if findings else inconclusive,
        "fifo_overflows": fifo_overflows,
    }


def _miner_findings(counts: list, tests: int) -> list[str]:
    """Whole miners held to the module's median miner (a miner whose chips all went
    quiet has a median of 0, which no chip of its own can be held to)."""
    totals = [sum(row) for row in counts]
    if len(totals) < 2:
        return []
    median = statistics.median(totals)
    if median < evidence_needed(tests):
        return []
    return [
        f"{'dead' if t == 0 else 'weak'} miner: miner {mi} ({t} nonces, the module's median "
        f"miner {median:g})"
        for mi, t in enumerate(totals)
        if slow(t, median, tests)
    ]


def judge_counts(
    counts: list, chip_test: list, fifo_overflows: int = 0, expected: float | None = None
) -> dict:
    """Dead and weak chips and miners from the nonce counts ([miner][chip]) and the chip
    test (``False``: failed), with what was too little to judge.  ``expected``: the nonces
    the module's reported hash rate should have given (None: not known)."""
    miners, asics = len(counts), len(counts[0]) if counts else 0
    tests = miners * asics + miners  # every chip and every miner is held to its peers
    findings: list[str] = []
    inconclusive: list[str] = []
    dead: list[list[int]] = []
    weak: list[list[int]] = []
    ratios = []
    total = sum(map(sum, counts))
    usable = fifo_overflows == 0 and total > 0
    if total == 0 and expected == 0:
        findings.append("no nonce, and its PLLs are off: the module did no work")
    elif total == 0 and (expected is None or expected >= evidence_needed(tests) * miners * asics):
        findings.append("no nonce in the whole run: the module did no work")
    elif total == 0:
        inconclusive.append(
            f"no nonce yet, and its hash rate gives only {expected:.1f} in a run this "
            f"short: run longer"
        )
    elif fifo_overflows:
        inconclusive.append(
            f"its nonce FIFO overflowed {fifo_overflows} time(s): the MM dropped nonces, so "
            f"the counts cannot judge chips (run at a lower share rate)"
        )
    for mi in range(miners):
        median = statistics.median(counts[mi]) if counts[mi] else 0
        enough = median >= evidence_needed(tests)
        if usable and not enough and any(counts[mi]):
            inconclusive.append(
                f"miner {mi}: median {median:g} nonces a chip, {evidence_needed(tests):.1f} "
                f"needed to tell a silent chip from chance: run longer"
            )
        row = []
        for c in range(asics):
            n, failed_test = counts[mi][c], chip_test[mi][c] is False
            row.append(n / median if median else None)
            if failed_test or (usable and enough and slow(n, median, tests)):
                (dead if n == 0 or failed_test else weak).append([mi, c])
        ratios.append(row)
    findings += [f"dead chip: miner {mi} chip {c}" for mi, c in dead]
    findings += [
        f"weak chip: miner {mi} chip {c} ({counts[mi][c]} nonces, miner median "
        f"{statistics.median(counts[mi]):.0f})"
        for mi, c in weak
    ]
    if usable:
        findings += _miner_findings(counts, tests)
    return dict(dead=dead, weak=weak, ratios=ratios, findings=findings, inconclusive=inconclusive)


def poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for a Poisson count of that mean."""
    term = total = math.exp(-mean)
    for i in range(1, k + 1):
        term *= mean / i
        total += term
    return total


def _sensor_findings(module: str, miners: int, asics: int, timeline: list, dead: set) -> list[str]:
    readings = [
        s["modules"][module]["chips_c"]
        for s in timeline
        if module in s["modules"] and s["modules"][module]["chips_c"]
    ]
    out: list = []
    if len(readings) < 3:
        return out
    for mi in range(miners):
        series = {
            c: [r[mi][c] for r in readings if r[mi][c] is not None]
            for c in range(asics)
            if (mi, c) not in dead
        }
        changing = sum(1 for v in series.values() if len(set(v)) > 1)
        for c, values in series.items():
            if values and min(values) <= 1.0:
                out.append(f"sensor reads 0: miner {mi} chip {c}")
            elif len(values) >= 3 and len(set(values)) == 1 and changing > len(series) / 2:
                out.append(f"stuck sensor: miner {mi} chip {c} read {values[0]:.1f} degC all run")
    return out
