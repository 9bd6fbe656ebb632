"""``asicdrv.open(url, **options)``: a link from a URL, then a :class:`Chain` on it.

    usb://                 the first AUC (0x29f1:0x33f2)
    usb://BUS:ADDR         the AUC at that bus and address
    serial:///dev/ttyUSB0  bare MM packets on a serial line (one module); ?baud=115200
    emu://?modules=2&nonce_mask=12&faults=dead_chip
                           the built-in emulator; every Emulator option as a query
                           parameter, and link=inprocess (default), usb or serial to reach it
                           through pyusb or a pty instead

Options that are not link options go to :class:`Chain` (polling_delay, nonce_mask,
detect_interval, temp_target, ...).  ``backend=`` gives pyusb a backend for usb:// URLs.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from .chain import Chain
from .emulator import Emulator
from .errors import DeviceNotFound, LimitError
from .transport.emulated import EmulatorLink
from .transport.serial_line import SerialLink
from .transport.usb_auc import AucLink, find_aucs

EMULATOR_OPTIONS = {"modules": int, "model": str, "seed": int, "nonce_mask": int,
                    "nonce_start": int, "faults": str, "ambient_c": float, "hashrate": float,
                    "nonces_per_work": int, "thermal_tau_s": float}
CHAIN_OPTIONS = {"polling_delay": float, "detect_interval": float, "fan_interval": float,
                 "temp_target": float, "overheat_c": float, "nonce_mask": int,
                 "voltage_level": int}
LINK_OPTIONS = {"usb": {}, "serial": {"baud": int}}
ALIASES = {"ambient": "ambient_c"}


def open(url: str = "usb://", **options) -> Chain:   # noqa: A001 - the natural name
    """Open a chain of modules.  Use as a context manager or call ``close()``."""
    parts = urlsplit(url)
    query = {ALIASES.get(k, k): v for k, v in parse_qsl(parts.query)}
    scheme = parts.scheme
    if scheme == "emu":
        return _open_emulator(url, query, options)
    if scheme not in LINK_OPTIONS:
        raise DeviceNotFound(f"unknown device URL {url!r}: use usb://, serial:///dev/... "
                             f"or emu://")
    link_kinds = LINK_OPTIONS[scheme]
    unknown = set(query) - set(CHAIN_OPTIONS) - set(link_kinds)
    if unknown:
        raise LimitError(f"unknown {scheme}:// option(s): {', '.join(sorted(unknown))}")
    link_options = _typed({k: v for k, v in query.items() if k in link_kinds}, link_kinds)
    chain_options = _typed({k: v for k, v in query.items() if k in CHAIN_OPTIONS},
                           CHAIN_OPTIONS)
    chain_options.update(options)
    if scheme == "usb":
        backend = chain_options.pop("backend", None)
        wait_s = chain_options.pop("auc_wait_s", None)
        return Chain(_open_auc(parts.netloc, backend, wait_s), url=url, **chain_options)
    baud = link_options.get("baud", chain_options.pop("baud", 115200))
    return Chain(SerialLink(parts.path, baudrate=baud), url=url, **chain_options)


def _open_auc(where: str, backend, wait_s) -> AucLink:
    bus = address = None
    if where:
        try:
            bus, address = (int(x) for x in where.split(":"))
        except ValueError:
            raise DeviceNotFound(f"usb://{where}: expected usb://BUS:ADDR") from None
    devices = find_aucs(backend, bus, address)
    if not devices:
        place = f" at {bus}:{address}" if where else ""
        raise DeviceNotFound(f"no AUC (USB 29f1:33f2){place} found: is it plugged in?")
    return AucLink(devices[0], wait_s=wait_s)


def _open_emulator(url: str, query: dict, options: dict) -> Chain:
    link_kind = query.pop("link", options.pop("link", "inprocess"))
    emu_options = _typed({k: v for k, v in query.items() if k in EMULATOR_OPTIONS},
                         EMULATOR_OPTIONS)
    chain_options = _typed({k: v for k, v in query.items() if k in CHAIN_OPTIONS},
                           CHAIN_OPTIONS)
    unknown = set(query) - set(EMULATOR_OPTIONS) - set(CHAIN_OPTIONS)
    if unknown:
        raise LimitError(f"unknown emu:// option(s): {', '.join(sorted(unknown))}")
    for key in list(options):
        if key in EMULATOR_OPTIONS and key not in CHAIN_OPTIONS:
            emu_options[key] = options.pop(key)
    chain_options.update(options)
    if "nonce_mask" in emu_options:          # the host's SET carries the same mask
        chain_options.setdefault("nonce_mask", emu_options["nonce_mask"])
    emulator = chain_options.pop("emulator", None) or Emulator(**emu_options)
    if link_kind == "inprocess":
        link = EmulatorLink(emulator)
    elif link_kind == "usb":
        link = _open_auc("", emulator.usb_backend(), chain_options.pop("auc_wait_s", 0.0))
    elif link_kind == "serial":
        server = emulator.serve_serial().start()
        try:
            link = SerialLink(server.path)
        except Exception:
            server.close()
            raise
        link.server = server
    else:
        raise LimitError(f"emu:// link must be inprocess, usb or serial, not {link_kind!r}")
    return Chain(link, emulator=emulator, url=url, **chain_options)


def _typed(values: dict, kinds: dict) -> dict:
    out = {}
    for key, value in values.items():
        try:
            out[key] = kinds[key](value) if isinstance(value, str) else value
        except ValueError:
            raise LimitError(f"option {key}={value!r} is not a {kinds[key].__name__}") from None
    return out
