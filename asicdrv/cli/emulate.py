"""``asicdrv emulate --serial``: an emulated module on a pseudo-terminal.

Prints the pty's path on the first line of stdout, then serves bare 40-byte MM packets (one
module) until interrupted.  Point anything that speaks the MM protocol over serial at it,
e.g. ``asicdrv status --device serial://PATH``.
"""
from __future__ import annotations

import sys
import threading

from ..emulator import Emulator


def add_parser(sub) -> None:
    p = sub.add_parser("emulate", help="serve an emulated module on a pty",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--serial", action="store_true", required=True,
                   help="serve on a pseudo-terminal (the only way out of process)")
    p.add_argument("--modules", type=int, default=1,
                   help="modules to emulate (a serial line reaches the first)")
    p.add_argument("--model", default="851", choices=["821", "831", "841", "851"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nonce-mask", type=int, default=None)
    p.add_argument("--nonce-start", type=int, default=0)
    p.add_argument("--faults", default="", help="e.g. dead_chip,fan_stall (see README)")
    p.add_argument("--ambient", type=float, default=25.0, help="ambient temperature, degC")
    p.add_argument("--log", default=None, help="write the traffic log to this file")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long")
    p.set_defaults(run=run)


def run(args) -> int:
    log = open(args.log, "w") if args.log else None
    try:
        emu = Emulator(modules=args.modules, model=args.model, seed=args.seed,
                       nonce_mask=args.nonce_mask, nonce_start=args.nonce_start,
                       faults=args.faults, ambient_c=args.ambient, log=log)
        with emu.serve_serial() as server:
            print(server.path, flush=True)
            print(f"emulating {args.modules} x {args.model} on {server.path}; Ctrl-C stops",
                  file=sys.stderr, flush=True)
            threading.Event().wait(args.seconds)
        return 0
    finally:
        if log:
            log.close()
