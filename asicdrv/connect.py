"""``asicdrv.open(url, **options)``: a link from a URL, then a :class:`Chain` on it.

    usb://                 the first AUC (0x29f1:0x33f2), else the first Avalon nano
                           (0x29f1:0x33f3) or Avalon4 mini (0x29f1:0x40f1): told apart by
                           their USB descriptors
    usb://BUS:ADDR         the AUC or stick at that bus and address
    i2c:///dev/i2c-1       modules on the controller's own I2C bus (no AUC)
    serial:///dev/ttyUSB0  bare MM packets on a serial line (one module); ?baud=115200
    serial:///dev/ttyUSB0?family=avalon2
                           an Avalon 2/3 line (MM2/MM3 modules, "AV" frames); a serial
                           port cannot say what is on it, so the family is named
    emu://?modules=2&nonce_mask=12&faults=dead_chip
                           the built-in emulator; every Emulator option as a query
                           parameter, and link=inprocess (default), usb, i2c or serial to
                           reach it through pyusb, the I2C link or a pty instead

Options that are not link options go to :class:`Chain` (polling_delay, nonce_mask,
detect_interval, temp_target, ...).  ``backend=`` gives pyusb a backend for usb:// URLs.
"""

from __future__ import annotations

import math

from .device.chain import Chain
from .errors import DeviceNotFound, LimitError
from .url import query_items, split_url

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any, Callable

    from .transport.base import Link
    from .transport.usb_auc import AucLink
    from .transport.usb_hid import HidLink

EMULATOR_OPTIONS = {
    "modules": int,
    "model": str,
    "seed": int,
    "nonce_mask": int,
    "nonce_start": int,
    "faults": str,
    "ambient_c": float,
    "hashrate": float,
    "nonces_per_work": int,
    "thermal_tau_s": float,
}
CHAIN_OPTIONS = {
    "polling_delay": float,
    "detect_interval": float,
    "fan_interval": float,
    "temp_target": float,
    "overheat_c": float,
    "min_cutoff_s": float,
    "nonce_mask": int,
    "voltage_level": int,
    "apply_settings": "bool",
    "passive": "bool",
}
# keywords open() passes on as they are (not URL query options)
CHAIN_KEYWORDS = {
    "frequency",
    "smart_speed",
    "roll_enable",
    "start",
    "backend",
    "auc_wait_s",
    "emulator",
    "link",
    "baud",
}
LINK_OPTIONS = {"usb": {}, "serial": {"baud": int, "family": str}, "i2c": {}}
ALIASES = {"ambient": "ambient_c"}


LINK_SCHEMES: dict[str, Callable[[str], Link]] = {}


def register_link_scheme(scheme: str, opener: Callable[[str], Link]) -> None:
    """Let ``asicdrv.open("SCHEME://...")`` (and every command's ``--device``) reach a link
    of your own, as pyserial's URL handlers do: ``opener(url)`` returns an object with the
    :class:`~asicdrv.transport.base.Link` methods (``xfer``, ``info``, ``close``); the
    URL's query may carry chain options (``polling_delay=0.01``).  The built-in schemes
    cannot be replaced."""
    if not isinstance(scheme, str) or not scheme.isidentifier():
        raise LimitError(f"a link scheme is a name such as 'mylink', got {scheme!r}")
    if scheme in LINK_OPTIONS or scheme == "emu":
        raise LimitError(f"{scheme!r} is built in: it cannot be registered as a link scheme")
    if not callable(opener):
        raise LimitError(f"the opener for {scheme}:// must be callable, got {opener!r}")
    LINK_SCHEMES[scheme] = opener


def open(url: str = "usb://", **options) -> Chain:  # noqa: A001 - the natural name
    """Open a chain of modules.  Use as a context manager or call ``close()``."""
    if not isinstance(url, str):
        raise DeviceNotFound(f"a device URL is a string such as 'usb://', got {url!r}")
    known = set(CHAIN_OPTIONS) | CHAIN_KEYWORDS | set(EMULATOR_OPTIONS) | set(ALIASES)
    unknown = set(options) - known
    if unknown:
        raise LimitError(
            f"unknown option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    options = {ALIASES.get(k, k): v for k, v in options.items()}
    try:
        parts = split_url(url)
    except ValueError as exc:
        raise DeviceNotFound(f"bad device URL {url!r}: {exc}") from None
    # blank values kept: "modules=" is a mistake to report, not the default to assume
    query = {ALIASES.get(k, k): v for k, v in query_items(parts.query)}
    scheme = parts.scheme
    if scheme == "emu":
        return _open_emulator(url, query, options)
    if scheme in LINK_SCHEMES:  # registered by the application (register_link_scheme)
        unknown = set(query) - set(CHAIN_OPTIONS)
        if unknown:
            raise LimitError(f"unknown {scheme}:// option(s): {', '.join(sorted(unknown))}")
        chain_options = _typed(query, CHAIN_OPTIONS)
        chain_options.update(options)
        return Chain(LINK_SCHEMES[scheme](url), url=url, **chain_options)
    if scheme not in LINK_OPTIONS:
        raise DeviceNotFound(
            f"unknown device URL {url!r}: use usb://, i2c:///dev/i2c-N, serial:///dev/... or emu://"
            + (
                f" (or a registered {', '.join(s + '://' for s in LINK_SCHEMES)})"
                if LINK_SCHEMES
                else ""
            )
        )
    link_kinds = LINK_OPTIONS[scheme]
    unknown = set(query) - set(CHAIN_OPTIONS) - set(link_kinds)
    if unknown:
        raise LimitError(f"unknown {scheme}:// option(s): {', '.join(sorted(unknown))}")
    emulator_only = {k for k in options if k in EMULATOR_OPTIONS and k not in CHAIN_OPTIONS}
    emulator_only |= {"emulator", "link"} & set(options)
    if emulator_only:
        raise LimitError(
            f"option(s) {', '.join(sorted(emulator_only))} belong to emu:// URLs, not {scheme}://"
        )
    link_options = _typed({k: v for k, v in query.items() if k in link_kinds}, link_kinds)
    chain_options = _typed({k: v for k, v in query.items() if k in CHAIN_OPTIONS}, CHAIN_OPTIONS)
    chain_options.update(options)
    if scheme == "usb":
        backend = chain_options.pop("backend", None)
        wait_s = chain_options.pop("auc_wait_s", 0.0)
        return Chain(_open_usb(parts.netloc, backend, wait_s), url=url, **chain_options)
    if scheme == "i2c":
        from .transport.i2c_linux import I2CLink, LinuxI2CBus

        if not parts.path:
            raise DeviceNotFound(f"{url!r}: name the bus, e.g. i2c:///dev/i2c-1")
        return Chain(
            I2CLink(LinuxI2CBus(parts.path), f"i2c://{parts.path}"), url=url, **chain_options
        )
    from .transport.serial_line import SerialLink

    if not parts.path:
        raise DeviceNotFound(f"{url!r}: name the port, e.g. serial:///dev/ttyUSB0")
    baud = link_options.get("baud", chain_options.pop("baud", 115200))
    return Chain(
        SerialLink(parts.path, baudrate=baud, family=link_options.get("family")),
        url=url,
        **chain_options,
    )


def _open_usb(where: str, backend, wait_s: float | None) -> AucLink | HidLink:
    """An AUC (its modules behind it) or, when there is none, a nano / 4-mini stick."""
    from .device.limits import number
    from .transport.usb_auc import AucLink, find_aucs

    wait_s = number("auc_wait_s", 0.0 if wait_s is None else wait_s, 0.0, 1.0)

    bus = address = None
    if where:
        try:
            bus, address = (int(x) for x in where.split(":"))
        except ValueError:
            raise DeviceNotFound(f"usb://{where}: expected usb://BUS:ADDR") from None
    devices = find_aucs(backend, bus, address)
    if devices:
        return AucLink(devices[0], wait_s=wait_s)
    from .transport.usb_hid import HidLink, find_sticks  # loaded only when no AUC answers

    sticks = find_sticks(backend, bus, address)
    if sticks:
        return HidLink(sticks[0])
    place = f" at {bus}:{address}" if where else ""
    raise DeviceNotFound(
        f"no AUC (USB 29f1:33f2) or Avalon nano / 4-mini (29f1:33f3, "
        f"29f1:40f1){place} found: is it plugged in?"
    )


def _open_emulator(url: str, query: dict, options: dict) -> Chain:
    # loaded here: a controller on real hardware never needs the emulator
    from .emulator import Emulator
    from .transport.emulated import EmulatorLink
    from .transport.i2c_linux import I2CLink
    from .transport.serial_line import SerialLink

    link_kind = query.pop("link", options.pop("link", None))
    emu_options = _typed(
        {k: v for k, v in query.items() if k in EMULATOR_OPTIONS}, EMULATOR_OPTIONS
    )
    chain_options = _typed({k: v for k, v in query.items() if k in CHAIN_OPTIONS}, CHAIN_OPTIONS)
    unknown = set(query) - set(EMULATOR_OPTIONS) - set(CHAIN_OPTIONS)
    if unknown:
        raise LimitError(f"unknown emu:// option(s): {', '.join(sorted(unknown))}")
    for key in list(options):
        if key in EMULATOR_OPTIONS and key not in CHAIN_OPTIONS:
            emu_options.update(_typed({key: options.pop(key)}, EMULATOR_OPTIONS))
    if "nonce_mask" in query:  # in an emu:// URL it is the emulator's chip option
        emu_options["nonce_mask"] = chain_options.pop("nonce_mask")
    chain_options.update(options)
    emulator = chain_options.pop("emulator", None)
    owns = emulator is None
    if owns:
        emulator = Emulator(**emu_options)
    only = (
        "serial" if emulator.serial_family else "usb" if emulator.bridge is None else None
    )  # the way in a family has
    if only is not None:
        if link_kind not in (None, only):
            if owns:
                emulator.close()
            raise LimitError(f"a {emulator.spec.name} is reached over {only}, not {link_kind}")
        link_kind = only
    link_kind = "inprocess" if link_kind is None else link_kind
    link: Any
    if link_kind == "inprocess":
        link = EmulatorLink(emulator)
    elif link_kind == "usb":
        link = _open_usb("", emulator.usb_backend(), chain_options.pop("auc_wait_s", 0.0))
    elif link_kind == "i2c":
        link = I2CLink(emulator.i2c_device(), "emu i2c")
    elif link_kind == "serial":
        server = emulator.serve_serial().start()
        try:
            link = SerialLink(server.path, family=emulator.serial_family)
        except Exception:
            server.close()
            raise
        link.server = server
    else:
        if owns:
            emulator.close()
        raise LimitError(f"emu:// link must be inprocess, usb, i2c or serial, not {link_kind!r}")
    return Chain(link, emulator=emulator, owns_emulator=owns, url=url, **chain_options)


def _typed(values: dict, kinds: dict) -> dict:
    """URL query strings -> typed values; a value given as a keyword must have the type."""
    out: dict = {}
    for key, value in values.items():
        kind = kinds[key]
        if kind == "bool":
            out[key] = _boolean(key, value)
            continue
        if isinstance(value, str):
            try:
                value = kind(value)
            except ValueError:
                raise LimitError(
                    f"option {key}={value!r} is not a "
                    f"{'whole number' if kind is int else kind.__name__}"
                ) from None
        wanted = (int, float) if kind is float else kind
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise LimitError(
                f"option {key}={value!r} is not a "
                f"{'whole number' if kind is int else kind.__name__}"
            )
        if kind is float and not math.isfinite(value):
            raise LimitError(f"option {key}={value!r} is not a finite number")
        out[key] = value
    return out


def _boolean(key: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise LimitError(f"option {key}={value!r} is not true or false")
