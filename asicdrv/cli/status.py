"""``asicdrv status``: temperatures, fans, voltages, PLLs, power, hash rate and errors per
module and miner.  Exit 1 when a module has a finding (cutoff, lost, fan, power, sensors,
stale readings) or an address answers but no module could be identified there."""

from __future__ import annotations

import sys

from .common import (
    fan_text,
    first_readings,
    add_command,
    add_device_args,
    emit_json,
    findings,
    missing_findings,
    open_chain,
    table,
)


def add_parser(sub) -> None:
    p = add_command(sub, "status", __doc__)
    add_device_args(p)
    p.set_defaults(run=run)


def run(args) -> int:
    with open_chain(args, passive=True) as chain:  # it only reads
        status = first_readings(chain, chain.refresh(timeout=10))
    problems = {m.id: findings(m) for m in status.modules}
    missing = missing_findings(status)
    if args.json:
        data = status.to_dict()
        for m in data["modules"]:
            m["findings"] = problems[m["id"]]
        data["findings"] = missing
        emit_json(data)
    elif sys.stdout.isatty():
        from .rich_view import console, status_view

        console().print(status_view(status, problems, missing))
    else:
        print(render(status, problems, missing))
    return 1 if any(problems.values()) or missing else 0


def render(status, problems, missing=()) -> str:
    """Three tables that fit 80 columns: identity, module state, miners."""
    out = [
        f"device {status.link}  {'connected' if status.connected else 'DISCONNECTED'}",
        table(
            ["module", "model", "dna", "firmware", "settings"],
            [[m.id, m.model, m.dna, m.version, m.settings_source] for m in status.modules],
        ),
        "",
    ]
    rows = [
        [
            m.id,
            m.state,
            m.temperature_c,
            m.hottest_chip_c,
            fan_text(m),
            m.fan_rpm,
            f"{m.hashrate_ghs / 1000:.2f}",
            m.hw_errors,
            m.crc_errors,
            m.shares,
        ]
        for m in status.modules
    ]
    out += [
        table(
            [
                "module",
                "state",
                "MM C",
                "hottest C",
                "fan",
                "RPM",
                "TH/s",
                "HW err",
                "CRC err",
                "shares",
            ],
            rows,
        ),
        "",
    ]
    miner_rows = []
    for m in status.modules:
        for i in range(len(m.frequencies_mhz)):
            temps = [t for t in m.chip_temperatures_c[i] if t is not None]
            if not m.per_chip_sensors and m.miner_temperatures_c[i] is not None:
                temps = [m.miner_temperatures_c[i]]  # A7: one reading per miner
            miner_rows.append(
                [
                    m.id,
                    i,
                    max(temps) if temps else None,
                    "/".join(str(f) for f in m.frequencies_mhz[i]),
                    m.voltage_levels[i],
                    _volts(m.voltages_v[i]),
                    _volts(m.vin_v[i]),
                    m.power_good,
                ]
            )
    out.append(
        table(
            ["module", "miner", "temp C", "PLL MHz", "volt lvl", "core V", "Vin", "power ok"],
            miner_rows,
        )
    )
    for module_id, items in problems.items():
        for item in items:
            out.append(f"FINDING module {module_id}: {item}")
    for item in missing:
        out.append(f"FINDING {item}")
    return "\n".join(out)


def _volts(value):
    return None if value is None else f"{value:.3f}"
