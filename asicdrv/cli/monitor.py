"""``asicdrv monitor``: a live view, refreshed every second until Ctrl-C: hash rate,
temperatures, fans, errors.  On a terminal the screen is redrawn; otherwise (a pipe, a
log) one block of lines per refresh.  ``--count N`` stops after N refreshes.

Exit status: 0 all healthy, 1 a finding was seen, 2 the device went away (or another
error), said on one line."""

from __future__ import annotations

import sys
import time

from ..errors import DeviceGone
from .common import (
    add_command,
    add_device_args,
    count_type,
    emit_json,
    findings,
    missing_findings,
    open_chain,
    positive_number,
    table,
)


def add_parser(sub) -> None:
    p = add_command(sub, "monitor", __doc__)
    add_device_args(p)
    p.add_argument(
        "--interval",
        type=positive_number,
        default=1.0,
        help="seconds between refreshes (default 1)",
    )
    p.add_argument("--count", type=count_type, default=None, help="stop after this many refreshes")
    p.set_defaults(run=run)


def run(args) -> int:
    redraw = sys.stdout.isatty() and not args.json
    worst = 0
    live = None
    with open_chain(args, passive=True) as chain:  # it only reads
        chain.refresh(timeout=10)
        n = 0
        if redraw:  # a live rich table on a terminal
            from rich.live import Live

            from .rich_view import console, status_view

            live = Live(console=console(), auto_refresh=False)
            live.start()
        try:
            while args.count is None or n < args.count:
                status = chain.status()
                if not status.connected:
                    chain.next_share(timeout=0)  # raises the reason it went away
                    raise DeviceGone(f"{status.link}: the device went away")
                problems = {m.id: findings(m) for m in status.modules}
                missing = missing_findings(status)
                worst = max(worst, 1 if any(problems.values()) or missing else 0)
                if args.json:
                    emit_json({"time": round(time.time(), 3), **status.to_dict()})
                elif live is not None:
                    live.update(status_view(status, problems, missing), refresh=True)
                else:
                    print(render(status, problems, chain, missing), flush=True)
                n += 1
                if args.count is None or n < args.count:
                    time.sleep(args.interval)
        except KeyboardInterrupt:
            pass
        finally:
            if live is not None:
                live.stop()
    return worst


def render(status, problems, chain, missing=()) -> str:
    rows = [
        [
            m.id,
            m.state,
            f"{m.hashrate_ghs / 1000:.2f}",
            m.temperature_c,
            m.hottest_chip_c,
            f"{m.fan_percent}%",
            m.fan_rpm,
            m.hw_errors,
            m.crc_errors,
            m.shares,
        ]
        for m in status.modules
    ]
    head = (
        f"{time.strftime('%H:%M:%S')}  {status.link}  total "
        f"{status.hashrate_ghs / 1000:.2f} TH/s  shares {chain.verifier.accepted}"
    )
    lines = [
        head,
        table(
            [
                "module",
                "state",
                "TH/s",
                "MM C",
                "chip C",
                "fan",
                "RPM",
                "HW err",
                "CRC err",
                "shares",
            ],
            rows,
        ),
    ]
    lines += [
        f"FINDING module {module_id}: {item}"
        for module_id, items in problems.items()
        for item in items
    ]
    lines += [f"FINDING {item}" for item in missing]
    return "\n".join(lines)
