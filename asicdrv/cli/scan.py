"""``asicdrv scan``: AUC bridges and Avalon nano / 4-mini sticks on USB (bus, address, AUC
version, the modules behind each) and serial ports whose modules answer DETECT: an Avalon
2/3 line ("AV" frames, up to four modules) is tried first, then a single module speaking
bare "CN" packets.

Exit status: 0 something was found, 1 nothing is attached (it says so; the emulator is
scanned only when named: --device emu://), 2 the device named with --device cannot be
opened (one line saying why)."""

from __future__ import annotations

import sys

from serial.tools import list_ports

from .. import connect
from ..errors import AsicError, DeviceNotFound
from ..transport.usb_auc import AucLink, find_aucs
from ..transport.usb_hid import find_sticks
from .common import AUTO, add_command, add_device_args, emit_json, table

PROLIFIC = (0x067B, 0x2303)  # the USB-serial bridge of Avalon 2/3


def add_parser(sub) -> None:
    p = add_command(sub, "scan", __doc__)
    add_device_args(p)
    p.add_argument(
        "--all-serial",
        action="store_true",
        help="probe every serial port, not only Prolific (067b:2303) ones",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    if args.device != AUTO:
        found = [_describe(args.device, strict=True)]
    else:
        found = [f for f in _scan_usb() + _scan_serial(args.all_serial) if f]
    if args.json:
        emit_json({"devices": found})
    elif found:
        rows = [
            [d["url"], d.get("auc_version") or "-", m["id"], m["dna"], m["model"], m["version"]]
            for d in found
            for m in d["modules"]
        ]
        print(table(["device", "AUC", "module", "dna", "model", "firmware"], rows))
        for d in found:
            if d.get("error"):
                print(f"{d['url']}: {d['error']}", file=sys.stderr)
    if not any(d["modules"] for d in found):
        print(
            "no AUC or serial module found (USB 29f1:33f2, Prolific serial); "
            "--device emu:// scans the built-in emulator",
            file=sys.stderr,
        )
        return 1
    return 0


def _scan_usb() -> list[dict]:
    """AUCs and nano / 4-mini sticks, told apart by their USB ids."""
    try:
        devices = find_aucs() + find_sticks()
    except DeviceNotFound:
        return []
    found = [_describe(f"usb://{d.bus}:{d.address}") for d in devices]
    return [d for d in found if d is not None]


def _scan_serial(all_ports: bool) -> list[dict]:
    out = []
    for port in list_ports.comports():
        if all_ports or (port.vid, port.pid) == PROLIFIC:
            for url in (f"serial://{port.device}?family=avalon2", f"serial://{port.device}"):
                found = _describe(url, quiet=True)
                if found and found["modules"]:
                    out.append(found)
                    break
    return out


def _describe(url: str, quiet: bool = False, strict: bool = False) -> dict | None:
    """What is behind ``url``; ``strict`` lets the error out (a named device that cannot be
    opened is an error, exit 2), ``quiet`` drops a probe that found nothing."""
    try:
        with connect.open(url, start=False, passive=True) as chain:
            info = chain.auc_info() if isinstance(chain.link, AucLink) else {}
            return {
                "url": url,
                "auc_version": info.get("version"),
                "modules": [m.__dict__ for m in chain.modules],
            }
    except AsicError as exc:
        if strict:
            raise
        if quiet:
            return None
        return {"url": url, "modules": [], "error": str(exc)}
