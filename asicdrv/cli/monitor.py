"""``asicdrv monitor``: a live view, refreshed every second until Ctrl-C: hash rate,
temperatures, fans, errors.  On a terminal the screen is redrawn; otherwise (a pipe, a
log) one block of lines per refresh.  ``--count N`` stops after N refreshes."""
from __future__ import annotations

import sys
import time

from .common import add_device_args, emit_json, findings, open_chain, table

CLEAR = "\x1b[H\x1b[2J"


def add_parser(sub) -> None:
    p = sub.add_parser("monitor", help="live view until Ctrl-C",
                       description=__doc__.split("\n\n")[0])
    add_device_args(p)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    p.add_argument("--count", type=int, default=None, help="stop after this many refreshes")
    p.set_defaults(run=run)


def run(args) -> int:
    redraw = sys.stdout.isatty() and not args.json
    worst = 0
    with open_chain(args) as chain:
        chain.refresh(timeout=10)
        n = 0
        try:
            while args.count is None or n < args.count:
                status = chain.status()
                problems = {m.id: findings(m) for m in status.modules}
                worst = max(worst, 1 if any(problems.values()) else 0)
                if args.json:
                    emit_json({"time": round(time.time(), 3), **status.to_dict()})
                else:
                    if redraw:
                        sys.stdout.write(CLEAR)
                    print(render(status, problems, chain), flush=True)
                n += 1
                if args.count is None or n < args.count:
                    time.sleep(args.interval)
        except KeyboardInterrupt:
            pass
    return worst


def render(status, problems, chain) -> str:
    rows = [[m.id, m.state, f"{m.hashrate_ghs / 1000:.2f}", m.temperature_c, m.hottest_chip_c,
             f"{m.fan_percent}%", m.fan_rpm, m.hw_errors, m.crc_errors, m.shares,
             "; ".join(problems[m.id]) or "-"] for m in status.modules]
    head = (f"{time.strftime('%H:%M:%S')}  {status.link}  total "
            f"{status.hashrate_ghs / 1000:.2f} TH/s  shares {chain.verifier.accepted}")
    return head + "\n" + table(["module", "state", "TH/s", "MM degC", "hot chip", "fan",
                                "RPM", "HW err", "CRC err", "shares", "findings"], rows)
