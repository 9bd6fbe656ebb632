"""``asicdrv scan``: AUC bridges on USB (bus, address, AUC version, the modules behind each)
and serial ports whose module answers DETECT.  Exit 1 when nothing is found."""
from __future__ import annotations

import sys

from serial.tools import list_ports

from .. import connect
from ..errors import AsicError, DeviceNotFound
from ..transport.usb_auc import find_aucs
from .common import AUTO, EMULATOR_URL, add_device_args, emit_json, table

PROLIFIC = (0x067B, 0x2303)    # the USB-serial bridge of Avalon 2/3


def add_parser(sub) -> None:
    p = sub.add_parser("scan", help="find AUC bridges, serial modules and what is behind them",
                       description=__doc__.split("\n\n")[0])
    add_device_args(p)
    p.add_argument("--all-serial", action="store_true",
                   help="probe every serial port, not only Prolific (067b:2303) ones")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.device != AUTO:
        found = [_describe(args.device)]
    else:
        found = _scan_usb() + _scan_serial(args.all_serial)
        if not found:
            print("note: no AUC or serial module found -> showing the built-in EMULATOR",
                  file=sys.stderr)
            found = [_describe(EMULATOR_URL)]
    found = [f for f in found if f]
    if args.json:
        emit_json({"devices": found})
    else:
        rows = [[d["url"], d.get("auc_version") or "-", m["id"], m["dna"], m["model"],
                 m["version"]] for d in found for m in d["modules"]]
        rows += [[d["url"], d.get("auc_version") or "-", "-", "-", "-", d.get("error", "")]
                 for d in found if not d["modules"]]
        print(table(["device", "AUC", "module", "dna", "model", "firmware"], rows))
    return 0 if any(d["modules"] for d in found) else 1


def _scan_usb() -> list[dict]:
    try:
        devices = find_aucs()
    except DeviceNotFound:
        return []
    return [_describe(f"usb://{d.bus}:{d.address}") for d in devices]


def _scan_serial(all_ports: bool) -> list[dict]:
    out = []
    for port in list_ports.comports():
        if all_ports or (port.vid, port.pid) == PROLIFIC:
            out.append(_describe(f"serial://{port.device}", quiet=True))
    return [d for d in out if d and d["modules"]]


def _describe(url: str, quiet: bool = False) -> dict | None:
    try:
        with connect.open(url, start=False) as chain:
            info = chain.auc_info() if chain.link.name.startswith("usb") else {}
            return {"url": url, "auc_version": info.get("version"),
                    "modules": [m.__dict__ for m in chain.modules]}
    except AsicError as exc:
        if quiet:
            return None
        return {"url": url, "modules": [], "error": str(exc)}
