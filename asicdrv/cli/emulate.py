"""asicdrv emulate --serial: an emulated module on a pseudo-terminal.

Prints the pty's path on the first line of stdout, then serves bare 40-byte MM packets (one
module) until interrupted.  Point anything that speaks the MM protocol over serial at it,
e.g. asicdrv status --device serial://PATH.  --nonce-mask pins the chips' mask (a test
option for frequent shares; the host's SET cannot change it); the board still forwards
only nonces that meet the host's TARGET.
"""

from __future__ import annotations

import sys
import threading

from ..emulator import Emulator
from ..models import MODELS
from .common import add_command, positive_number, whole_number


def add_parser(sub) -> None:
    p = add_command(sub, "emulate", __doc__)
    p.add_argument(
        "--serial",
        action="store_true",
        required=True,
        help="serve on a pseudo-terminal (the only way out of process)",
    )
    p.add_argument(
        "--modules",
        type=whole_number,
        default=1,
        help="modules to emulate (a serial line reaches the first)",
    )
    p.add_argument(
        "--model",
        default="851",
        help=f"one of {', '.join(MODELS)}, or one per module separated by commas (a mixed chain)",
    )
    p.add_argument("--seed", type=whole_number, default=0)
    p.add_argument(
        "--nonce-mask",
        type=whole_number,
        default=None,
        help="the chips report hashes with this many leading zero bits",
    )
    p.add_argument("--nonce-start", type=whole_number, default=0)
    p.add_argument("--faults", default="", help="e.g. dead_chip,fan_stall (see docs/emulator.md)")
    p.add_argument("--ambient", type=float, default=25.0, help="ambient temperature, degC")
    p.add_argument("--log", default=None, help="write the traffic log to this file")
    p.add_argument("--seconds", type=positive_number, default=None, help="stop after this long")
    p.set_defaults(run=run)


def run(args) -> int:
    log = open(args.log, "w") if args.log else None  # OSError: one line, exit 2
    try:
        emu = Emulator(
            modules=args.modules,
            model=args.model,
            seed=args.seed,
            nonce_mask=args.nonce_mask,
            nonce_start=args.nonce_start,
            faults=args.faults,
            ambient_c=args.ambient,
            log=log,
        )
        with emu.serve_serial() as server:
            print(server.path, flush=True)
            print(
                f"emulating {args.modules} x {args.model} on {server.path}; Ctrl-C stops",
                file=sys.stderr,
                flush=True,
            )
            threading.Event().wait(args.seconds)
        return 0
    finally:
        if log:
            log.close()
