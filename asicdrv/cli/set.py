"""asicdrv set fan|freq|volt VALUE: change a setting within the model's limits, then
print what the module reports back.  The board keeps it: later commands read what it runs
and do not reset it.

    asicdrv set fan 60 --module 1     fan duty in percent (5..100); auto = PID on, 90 degC
    asicdrv set freq 800 --miner 2    PLL frequency in MHz, 25 MHz steps (0..1200; 0 = off),
                                      one value for all four PLLs or A:B:C:D
    asicdrv set volt -2               voltage level, a step of the regulator (-15..15)

Ranges above are the Avalon 8's; every model's own apply (a 741: six PLLs in 12 MHz steps
from 24 to 1404 and levels 0..15; a 910: levels 0..35; an MM41 or a nano: frequency and
voltage, in 0.1 mV, for the whole module).  `asicdrv status` names each module's model.
"""

from __future__ import annotations

import argparse

from ..errors import LimitError
from .common import (
    fan_text,
    add_command,
    add_device_args,
    emit_json,
    open_chain,
    table,
    whole_number,
)


def add_parser(sub) -> None:
    p = add_command(sub, "set", __doc__)
    p.add_argument(
        "what", choices=["fan", "freq", "volt"], help="fan: percent; freq: MHz; volt: level"
    )
    p.add_argument("value", help="the new value (see above for units and ranges)")
    p.add_argument(
        "--module", type=whole_number, default=None, help="module id 1..6 (default: all)"
    )
    p.add_argument("--miner", type=whole_number, default=None, help="miner 0..3 (default: all)")
    add_device_args(p)
    p.set_defaults(run=run)


def run(args) -> int:
    with open_chain(args, passive=True) as chain:  # what is set, and nothing else
        if args.what == "fan":
            if args.miner is not None:
                raise LimitError("the fan belongs to the module; --miner does not apply")
            if args.value == "auto":
                chain.set_auto_fan(module=args.module)
            else:
                chain.set_fan(_int(args.value, "fan percent"), module=args.module)
        elif args.what == "freq":
            parts = [_int(v, "frequency") for v in args.value.split(":")]
            chain.set_frequency(
                parts[0] if len(parts) == 1 else parts, module=args.module, miner=args.miner
            )
        else:
            chain.set_voltage_level(
                _int(args.value, "voltage level"), module=args.module, miner=args.miner
            )
        status = chain.refresh(timeout=10)
    modules = [m for m in status.modules if args.module in (None, m.id)]
    if args.json:
        emit_json(
            {"set": args.what, "value": args.value, "modules": [m.to_dict() for m in modules]}
        )
        return 0
    rows = []
    for m in modules:
        for i in range(len(m.frequencies_mhz)):
            if args.miner in (None, i):
                volts = m.voltages_v[i]
                rows.append(
                    [
                        m.id,
                        i,
                        fan_text(m),
                        m.fan_rpm,
                        "/".join(map(str, m.frequencies_mhz[i])),
                        m.voltage_levels[i],
                        None if volts is None else f"{volts:.3f}",
                    ]
                )
    print(f"set {args.what} {args.value}: the module now reports")
    print(table(["module", "miner", "fan", "RPM", "PLL MHz", "volt lvl", "core V"], rows))
    return 0


def _int(text: str, what: str) -> int:
    try:
        return whole_number(text)
    except argparse.ArgumentTypeError:
        raise LimitError(f"{what} {text!r} is not a whole number") from None
