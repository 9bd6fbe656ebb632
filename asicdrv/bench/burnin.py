"""The factory core test: known work on every chip for a while, then each chip judged.

    result = run_burnin(chain, seconds=600)
    result["ok"], result["findings"]

What it does: runs the chip test (TEST/TEST_RET), sends a known job (block 170) at a
difficulty every nonce a chip reports meets, counts verified nonces per chip, and samples
temperatures and fans every ``sample_s``.  Findings:

- **dead chip**: fails the chip test, or returns no nonce while its miner's median is 5+;
- **weak chip**: under half its miner's median, and so far under that a healthy chip would
  get there by chance less than once in 10,000 (nonces arrive as a Poisson process);
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
DEAD_MEDIAN = 5
WEAK_MEDIAN = 10
WEAK_RATIO = 0.5
WEAK_CHANCE = 1e-4
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
    for m in status.modules:
        judged = judge_module(m, counts.get(m.id), tests.get(m.id, {}), timeline)
        result["modules"].append(judged)
        result["findings"] += [f"module {m.id}: {f}" for f in judged["findings"]]
    result["ok"] = not result["findings"]
    result["verdict"] = "PASS" if result["ok"] else "FINDINGS"
    return result


def judge_module(m, counts, failing: dict, timeline: list) -> dict:
    record = module_record(m, failing)
    miners, asics, chip_test = record["miners"], record["asics"], record["chip_test"]
    counts = counts or [[0] * asics for _ in range(miners)]
    findings = []
    ratios = []
    dead, weak = [], []
    for mi in range(miners):
        median = statistics.median(counts[mi]) if counts[mi] else 0
        row = []
        for c in range(asics):
            n = counts[mi][c]
            failed_test = chip_test[mi][c] is False
            ratio = n / median if median else None
            row.append(ratio)
            if failed_test or (median >= DEAD_MEDIAN and n == 0):
                dead.append([mi, c])
            elif (
                median >= WEAK_MEDIAN
                and n < WEAK_RATIO * median
                and poisson_cdf(n, median) < WEAK_CHANCE
            ):
                weak.append([mi, c])
        ratios.append(row)
    findings += [f"dead chip: miner {mi} chip {c}" for mi, c in dead]
    findings += [
        f"weak chip: miner {mi} chip {c} ({counts[mi][c]} nonces, miner median "
        f"{statistics.median(counts[mi]):.0f})"
        for mi, c in weak
    ]
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
    }


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
