"""asicdrv burnin --minutes N [--frequency MHZ] [--voltage-level L] [--report FILE]

The factory core test: the chip test, then built-in known work (block 170, no pool needed)
on every chip for N minutes, counting each chip's nonces against its miner's median, with
temperatures and fans sampled every second.  Findings: dead and weak chips and miners (one
statistical test, a healthy module flagged in under 1 % of runs), a module with no nonce,
chips with hardware errors, sensors reading 0 or stuck, a stalled fan, overheat or
stale-sensor cutoffs.  Too few nonces to tell a silent chip from chance, or nonces the MM
dropped (its FIFO overflowed), is INCONCLUSIVE, never a pass.  The run is recorded in the
repair history (--db).

Exit status: 0 pass, 1 a finding, 2 an error, 3 inconclusive (run longer), 4 passed but
not recorded.
"""

from __future__ import annotations

import sys

from ..bench.burnin import run_burnin
from .common import count_type, add_command, add_device_args, emit_json, open_chain, positive_number
from .reporting import EXIT_NOT_RECORDED, add_report_args, check_report_args, finish_report

EXIT_INCONCLUSIVE = 3  # too little evidence to judge: never a pass


def add_parser(sub) -> None:
    p = add_command(sub, "burnin", __doc__)
    p.add_argument("--minutes", type=positive_number, required=True)
    p.add_argument(
        "--frequency",
        type=count_type,
        default=None,
        metavar="MHZ",
        help="whole MHz above 0 (0 turns the PLLs off: a burn-in would test nothing); "
        "checked against each module's model",
    )
    p.add_argument("--voltage-level", type=int, default=None, metavar="L")
    add_report_args(p)
    add_device_args(p)
    p.set_defaults(run=run)


def run(args) -> int:
    check_report_args(args)
    with open_chain(args) as chain:

        def progress(done, total):
            if sys.stderr.isatty():
                print(f"\rburn-in {done:5.0f} / {total:.0f} s", end="", file=sys.stderr)

        result = run_burnin(
            chain,
            args.minutes * 60,
            frequency=args.frequency,
            voltage_level=args.voltage_level,
            progress=progress,
        )
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    if args.json:
        emit_json({k: v for k, v in result.items() if k != "timeline"})
    else:
        for m in result["modules"]:
            nonces = sum(map(sum, m["nonces"]))
            print(
                f"module {m['id']} {m['model']} {m['dna']}: {nonces} nonces, "
                f"hottest {'-' if m['hottest_c'] is None else format(m['hottest_c'], '.1f')}"
                f" degC, "
                f"fan {m['fan_rpm']} RPM"
            )
        for finding in result["findings"]:
            print(f"FINDING {finding}")
        for reason in result["inconclusive"]:
            print(f"INCONCLUSIVE {reason}")
        print("VERDICT:", result["verdict"])
    recorded = finish_report(args, result)  # after the verdict is out: a full disk loses nothing
    if result["findings"]:
        return 1
    if result["inconclusive"]:
        return EXIT_INCONCLUSIVE
    return 0 if recorded else EXIT_NOT_RECORDED
