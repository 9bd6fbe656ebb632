"""Fault injection, by name: ``name[:value][@module]``, comma-separated.

    dead_chip[:M.C]      chip C of miner M never answers and fails TEST (default 1.7)
    fan_stall            the fan reports 0 RPM and cools nothing
    overheat[:DEG]       chips run DEG degrees hotter (default 45)
    crc_errors[:RATE]    that share of replies is corrupted on the wire (default 0.05)
    drop[:RATE]          that share of replies is lost (default 0.05)
    stall[:SECONDS]      replies come that late (default 0.3, past the AUC's 200 ms)
    auc_late[:RATE]      that share of the AUC's I2C replies leave it 0.3 s late (past the
                         host's 200 ms USB timeout: an AUC or a host under load)
    disconnect[:N]       the USB device vanishes after N transfers (default 200)
    bad_nonce[:RATE]     that share of nonces do not verify (default 0.2)
    pvt_silent           the MM stops sending chip temperatures (STATUS_PVT)
    slow_chip[:M.C]      chip C of miner M finds a fifth of its nonces (default 2.3)
    stuck_sensor[:M.C]   that chip's temperature sensor reads one value forever (default 0.5)
    zero_sensor[:M.C]    that chip's temperature sensor reads 0 degC (default 3.11)

``@N`` limits a fault to module N (its position in the chain, 1-based); without it a fault
applies to every module.
"""

from __future__ import annotations

import math

from firmware_protocols.records import record

from ..errors import AsicError

DEFAULTS = {
    "dead_chip": "1.7",
    "fan_stall": None,
    "overheat": 45.0,
    "crc_errors": 0.05,
    "drop": 0.05,
    "stall": 0.3,
    "auc_late": 0.05,
    "disconnect": 200,
    "bad_nonce": 0.2,
    "pvt_silent": None,
    "slow_chip": "2.3",
    "stuck_sensor": "0.5",
    "zero_sensor": "3.11",
}
CHIP_FAULTS = ("dead_chip", "slow_chip", "stuck_sensor", "zero_sensor")  # take MINER.CHIP
FLAGS = ("fan_stall", "pvt_silent")  # faults that take no value
LINK_FAULTS = ("auc_late",)  # faults of the AUC, not of a module: no @N


class FaultSpecError(AsicError, ValueError):
    """A fault name or value the emulator does not know."""


@record(frozen=True)
class Fault:
    name: str
    value: object
    module: int | None = None  # 1-based chain position, None = all

    def applies_to(self, position: int) -> bool:
        return self.module is None or self.module == position


def parse_faults(spec: str | list | tuple | None) -> tuple[Fault, ...]:
    if not spec:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    faults = []
    for item in items:
        if isinstance(item, Fault):
            faults.append(item)
            continue
        item = item.strip()
        if not item:
            continue
        module = None
        if "@" in item:
            item, _, where = item.partition("@")
            module = _number(where, int, item)
        name, _, raw = item.partition(":")
        if name not in DEFAULTS:
            raise FaultSpecError(f"unknown fault {name!r}; known: {', '.join(DEFAULTS)}")
        faults.append(Fault(name, _value(name, raw), module))
    return tuple(faults)


def _value(name: str, raw: str):
    default = DEFAULTS[name]
    if not raw and name not in FLAGS:
        raw = str(default)
    if name in CHIP_FAULTS:
        miner, dot, chip = str(raw).partition(".")
        if not dot or not miner or not chip:
            raise FaultSpecError(f"fault {name} takes MINER.CHIP (e.g. 1.7), got {raw!r}")
        return (_number(miner, int, name), _number(chip, int, name))
    if name in FLAGS:
        if raw:
            raise FaultSpecError(f"fault {name} takes no value, got {raw!r}")
        return None
    if name == "disconnect":
        value = _number(raw, int, name)
        if value < 1:
            raise FaultSpecError(
                f"fault disconnect:{value}: give the number of transfers "
                f"after which the device vanishes (1 or more)"
            )
        return value
    value = _number(raw, float, name)
    if not math.isfinite(value) or value < 0:
        raise FaultSpecError(f"fault {name}: {raw!r} must be a finite number, 0 or more")
    if name in ("crc_errors", "drop", "bad_nonce", "auc_late") and value > 1:
        raise FaultSpecError(f"fault {name} rate {value} must be between 0 and 1")
    return value


def _number(text, kind, name):
    text = str(text).strip()
    if not text.isascii():
        raise FaultSpecError(f"fault {name}: {text!r} is not a number")
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise FaultSpecError(
            f"fault {name}: {text!r} is not a {'whole ' if kind is int else ''}number"
        ) from None


def fault_value(faults: tuple[Fault, ...], name: str, position: int):
    """The value of fault ``name`` for the module at ``position``, or None if absent."""
    for fault in faults:
        if fault.name == name and fault.applies_to(position):
            return fault.value if fault.value is not None else True
    return None
