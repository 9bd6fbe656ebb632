"""asicdrv selftest: detect, AUC info, a settings round trip, fans, sensors, the chip test
(TEST / TEST_RET) and a known-answer hash test, with a per-chip pass/fail map.

The known answer is block 170's header with its ntime rolled 207 s: nonce 396850 hashes to
30 leading zero bits, so a board hashing from nonce 0 returns it within seconds (the
emulator too, at 50 kH/s, on any link).  Exit 1 if a chip, fan, sensor or the link fails,
saying which: the verdict tells board faults from link faults.  --report FILE.html writes
a self-contained report with chip maps (FILE.json: its data); every run is recorded in the
repair history (--db, see asicdrv history).
"""

from __future__ import annotations

import time

from .._version import VERSION
from ..bench.burnin import module_record, report_settings, sample
from ..bitcoin.known_blocks import DIFF1_KNOWN_ANSWER, KNOWN_ANSWER, known_answer_params
from ..models import MODELS
from ..transport.usb_auc import AucLink
from ..mining.stratum import StratumJob
from .common import (
    first_readings,
    add_command,
    add_device_args,
    count_type,
    emit_json,
    findings,
    missing_findings,
    open_chain,
    positive_number,
)
from .reporting import EXIT_NOT_RECORDED, add_report_args, check_report_args, finish_report


def add_parser(sub) -> None:
    p = add_command(sub, "selftest", __doc__)
    add_device_args(p)
    add_report_args(p)
    p.add_argument(
        "--expect",
        type=count_type,
        default=None,
        metavar="N",
        help="modules that should answer (a module whose every reply is lost "
        "cannot be seen otherwise)",
    )
    p.add_argument(
        "--kat-seconds",
        type=positive_number,
        default=15.0,
        help="how long to wait for the known-answer hash",
    )
    p.set_defaults(run=run)


class Report:
    def __init__(self):
        self.checks: list[dict] = []

    def add(
        self, name: str, ok: bool, detail: str = "", module: int | None = None, fault: str = "board"
    ) -> None:
        """``fault`` says whom a failure blames: the board, or the link to it (replies that
        never arrived say nothing about the chips)."""
        self.checks.append(
            {
                "check": name,
                "module": module,
                "ok": bool(ok),
                "detail": detail,
                "fault": None if ok else fault,
                "skipped": False,
            }
        )

    def skip(self, name: str, detail: str, module: int | None = None) -> None:
        """A check that does not apply (or cannot run) here: shown as SKIP, never as a
        pass, and no fault."""
        self.checks.append(
            {
                "check": name,
                "module": module,
                "ok": True,
                "detail": detail,
                "fault": None,
                "skipped": True,
            }
        )

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks)

    def verdict(self) -> str:
        kinds = {c["fault"] for c in self.checks if not c["ok"]}
        if not kinds:
            return "healthy"
        if kinds == {"link"}:
            return "LINK FAULTS (the board could not be fully judged)"
        return "FAULTS FOUND" + (" (and link faults)" if "link" in kinds else "")


def run(args) -> int:
    report = Report()
    chip_maps: dict = {}
    tests: dict = {}
    started, t0 = time.time(), time.monotonic()
    check_report_args(args)
    with open_chain(args) as chain:
        modules = chain.modules
        expected = args.expect or 1
        report.add(
            "detect",
            len(modules) >= expected,
            f"{len(modules)} module(s)"
            f"{'' if args.expect is None else f' of {args.expect} expected'}: "
            + ", ".join(f"{m.id}={m.model} {m.dna}" for m in modules),
        )
        for item in missing_findings(chain.status()):
            report.add("detect", False, item, fault="link")
        _auc(chain, report)
        timeline = [sample(chain.status(), 0.0)]
        _round_trip(chain, report)
        status = first_readings(chain, chain.refresh(timeout=10))
        timeline.append(sample(status, time.monotonic() - t0))
        for m in status.modules:
            _sensors(m, report)
        tests.update(chain.test_chips())
        timeline.append(sample(chain.status(), time.monotonic() - t0))
        for m in modules:
            if m.id not in tests:
                report.skip("chip test", f"the {m.model} has no chip test the host can run", m.id)
        tested = {m.id: m for m in chain.status().modules}
        for module_id, failing in tests.items():
            spec = next(m for m in modules if m.id == module_id)
            chips = tested[module_id].chip_test_chips or spec.asic_count
            chip_maps[module_id] = {
                miner: "".join("X" if c in failing.get(miner, []) else "." for c in range(chips))
                for miner in range(spec.miner_count)
            }
            bad = {miner: chips for miner, chips in failing.items() if chips}
            report.add(
                "chip test",
                not bad,
                "all tested chips pass"
                if not bad
                else "; ".join(
                    f"miner {mi}: chip(s) {', '.join(map(str, c))} FAIL" for mi, c in bad.items()
                ),
                module_id,
            )
            unanswered = [mi for mi in range(spec.miner_count) if mi not in failing]
            if unanswered:
                report.add(
                    "chip test",
                    False,
                    f"no TEST_RET from miner(s) {', '.join(map(str, unanswered))}: not tested",
                    module_id,
                    fault="link",
                )
        _known_answer(chain, report, args.kat_seconds)
        timeline.append(sample(chain.status(), time.monotonic() - t0))
        for m in chain.status().modules:
            report.add("thermal", *thermal(m), m.id)
            extra = [
                f for f in findings(m) if "chip" not in f and "fan" not in f and "overheat" not in f
            ]
            if extra:
                report.add("module state", False, "; ".join(extra), m.id)
        final = chain.status()
        data = report_data(report, chain, final, tests, started, time.monotonic() - t0)
        data["timeline"] = timeline
    if args.json:
        emit_json(
            {
                "ok": report.ok,
                "verdict": report.verdict(),
                "checks": report.checks,
                "chip_maps": chip_maps,
            }
        )
    else:
        for c in report.checks:
            where = f"module {c['module']}: " if c["module"] is not None else ""
            label = "SKIP" if c["skipped"] else "PASS" if c["ok"] else "FAIL"
            print(f"{label}  {c['check']:<14} {where}{c['detail']}")
        for module_id, maps in chip_maps.items():
            print(f"chip map, module {module_id} ('.' pass, 'X' fail):")
            for miner, row in maps.items():
                print(f"  miner {miner}  {row}")
        print("VERDICT:", report.verdict())
    recorded = finish_report(args, data)  # after the verdict is out: a full disk loses nothing
    if not report.ok:
        return 1
    return 0 if recorded else EXIT_NOT_RECORDED


def report_data(report: Report, chain, status, tests: dict, started: float, seconds: float) -> dict:
    """The self-test as report data (the same shape a burn-in gives)."""
    modules = []
    for m in status.modules:
        failing = tests.get(m.id, {})
        modules.append(
            {
                **module_record(m, failing),
                "dead_chips": [[mi, c] for mi, chips in failing.items() for c in chips],
                "weak_chips": [],
                "findings": [
                    c["detail"] for c in report.checks if c["module"] == m.id and not c["ok"]
                ],
            }
        )
    return {
        "kind": "selftest",
        "tool": f"asicdrv {VERSION}",
        "device": chain.url,
        "started": started,
        "seconds": round(seconds, 1),
        "auc": dict(status.auc),
        "settings": report_settings(chain),
        "ok": report.ok,
        "verdict": report.verdict(),
        "checks": report.checks,
        "findings": [
            f"{'module ' + str(c['module']) + ': ' if c['module'] else ''}"
            f"{c['check']}: {c['detail']}"
            for c in report.checks
            if not c["ok"]
        ],
        "modules": modules,
        "timeline": [],
    }


def _auc(chain, report: Report) -> None:
    if not isinstance(chain.link, AucLink):
        report.skip("AUC info", f"n/a on {chain.link.name}")
        return
    from firmware_protocols.encodings import auc_adc_to_celsius

    info = chain.auc_info()
    celsius = auc_adc_to_celsius(info["temp_adc"])
    report.add(
        "AUC info",
        info["version"].startswith("AUC-") and -20 < celsius < 90,
        f"{info['version']}, board {celsius:.1f} degC",
    )


def _round_trip(chain, report: Report) -> None:
    """Re-send each module's frequency and voltage and full fan; read them back."""
    settings = {
        module_id: (s["frequencies_mhz"], s["voltage_levels"])
        for module_id, s in chain.settings().items()
    }
    models = {m.id: MODELS[m.model] for m in chain.modules}
    for module_id, (freqs, levels) in settings.items():
        if not models[module_id].takes_settings:
            continue
        if all(plls == freqs[0] for plls in freqs):  # one call: models that set the
            chain.set_frequency(freqs[0], module=module_id)  # whole module take no miner
        else:
            for miner, plls in enumerate(freqs):
                chain.set_frequency(plls, module=module_id, miner=miner)
        if levels[0] is not None:
            chain.set_voltage_level(levels[0], module=module_id)
        chain.set_fan(100, module=module_id)
    status = chain.refresh(timeout=10)
    for m in status.modules:
        want = settings[m.id][0]
        if not models[m.id].takes_settings:
            report.skip(
                "settings",
                f"the {m.model} sets its own clock (now "
                f"{m.frequencies_mhz[0][0]} MHz) and core voltage",
                m.id,
            )
        elif m.vout_raw is not None:  # A9/LC3: one raw reading for the module
            powered, core = m.vout_raw > 0, f"core reading {m.vout_raw} (raw)"
        else:
            powered = all(m.voltages_v)  # None or 0 V: not powered
            core = f"core {m.voltages_v[0]:.3f} V" if powered else f"core {m.voltages_v[0]} V"
        if models[m.id].takes_settings:
            report.add(
                "settings",
                m.frequencies_mhz == want and powered,
                f"PLLs {m.frequencies_mhz[0]}, {core}",
                m.id,
            )
        if not models[m.id].has_fan:
            report.skip("fan", f"n/a: the {m.model} has no fan of its own", m.id)
        else:
            report.add("fan", bool(m.fan_rpm), f"{m.fan_rpm} RPM at 100 %", m.id)
    chain.set_auto_fan()


def _sensors(m, report: Report) -> None:
    """A sensor read as 0 is the board's fault; one whose reading never arrived is the
    link's."""
    unread = {tuple(x) for x in m.chip_sensors_unread}
    silent = [
        f"{miner}.{chip}"
        for miner, row in enumerate(m.chip_temperatures_c)
        for chip, t in enumerate(row)
        if t is None and (miner, chip) not in unread and m.per_chip_sensors
    ]
    ok = not silent and m.temperature_c is not None and m.power_good is not False
    detail = (
        f"MM {m.temperature_c} degC, hottest chip {m.hottest_chip_c:.1f} degC"
        if ok and m.hottest_chip_c is not None
        else f"silent chip sensor(s) {', '.join(silent) or '-'}; "
        f"MM {'-' if m.temperature_c is None else f'{m.temperature_c} degC'}; power "
        f"{'good' if m.power_good else 'NOT good' if m.power_good is False else 'not reported'}"
    )
    report.add("sensors", ok, detail, m.id)
    if unread:
        report.add(
            "sensors",
            False,
            f"{len(unread)} chip temperature(s) never arrived (replies lost on the link)",
            m.id,
            fault="link",
        )


def _known_answer(chain, report: Report, seconds: float) -> None:
    """Every module must return the known nonce of its answer (:data:`KNOWN_ANSWER`, or
    block 170 itself where only diff-1 nonces come back: the sticks' chips, and the MM2/MM3
    firmware, which counts anything less as a hardware error) with its hash."""
    diff1_only = any(
        MODELS[m.model].diffmax <= 1 or MODELS[m.model].diff1_results for m in chain.modules
    )
    answer = DIFF1_KNOWN_ANSWER if diff1_only else KNOWN_ANSWER
    params, en1, size, nonce2 = known_answer_params(job_id="selftest", answer=answer)
    job = StratumJob.from_notify(
        params,
        extranonce1=en1,
        extranonce2_size=size,
        difficulty=float(answer["difficulty"]),  # type: ignore[arg-type]
    )
    answered: set = set()
    found = False
    duplicates = {m.id: m.rejected.get("duplicate", 0) for m in chain.status().modules}
    chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0, restart=True)
    deadline = time.monotonic() + seconds
    modules = {m.id for m in chain.modules}
    while time.monotonic() < deadline and answered != modules:
        share = chain.next_share(timeout=0.2)
        if (
            share is not None
            and share.job_id == "selftest"
            and share.nonce == answer["nonce"]
            and share.hash == answer["hash"]
        ):
            answered.add(share.module)
            found = True
        if found:  # every module hashes the same work: the others' answer is a duplicate
            answered |= {
                m.id
                for m in chain.status().modules
                if m.rejected.get("duplicate", 0) > duplicates.get(m.id, 0)
            }
    for module_id in sorted(modules):
        ok = module_id in answered
        detail = (
            f"nonce {answer['nonce']} found ({answer['hash'][:16]}...)"
            if ok
            else f"nonce {answer['nonce']} NOT found in {seconds:g} s"
        )
        report.add("known answer", ok, detail, module_id)


def thermal(m) -> tuple[bool, str]:
    """The thermal check: no cutoff during the test, and the hottest chip under its model's
    warning temperature (a stalled fan is the fan check's finding)."""
    if m.hottest_chip_c is None:
        return not m.cutoffs and m.state != "cutoff", "no chip temperatures"
    warn = MODELS[m.model].warn_c
    ok = not m.cutoffs and m.state != "cutoff" and m.hottest_chip_c < warn
    return ok, (
        f"hottest chip {m.hottest_chip_c:.1f} degC (warning {warn:g}), {m.cutoffs} overheat "
        f"cutoff(s) during the test"
    )
