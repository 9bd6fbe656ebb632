"""Precompiled ``struct`` builders for the payloads a host sends: detection, settings, the
stratum job, polls and tests of the Avalon 7/8/9/LC3 "CN" family, and the base layouts any
dialect shares.  With these and the readers of :mod:`.fast`, a host of those generations
builds and reads every frame without loading ``construct`` (8 MiB and 0.1 s at start-up on
a controller board).  The ``construct`` layouts in :mod:`.payloads` and
:mod:`.dialect_layouts` stay the one statement of each format, and
``tests/test_protocol_properties.py`` checks every builder against them on random fields.

A builder takes the caller's fields (missing ones are zero, as ``encode_payload``
promises), refuses a field the layout does not have, and raises ``struct.error``,
``TypeError`` or ``ValueError`` for a value that does not fit, which ``encode_payload``
turns into a :class:`~firmware_protocols.errors.PayloadError`.
"""

from __future__ import annotations

import struct

from .types import PacketType as T

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    Builder = Callable[[Mapping[str, Any]], bytes]


def _flat(fmt: str, *names: str) -> Builder:
    """A builder for a layout of plain fields in order: ``name`` (one value), ``name*N``
    (a list of N values) or ``name:N`` (N bytes); padding is in ``fmt``."""
    layout = struct.Struct(fmt)
    spec: list[tuple[str, str, int]] = []
    for name in names:
        if "*" in name:
            base, count = name.split("*")
            spec.append((base, "list", int(count)))
        elif ":" in name:
            base, count = name.split(":")
            spec.append((base, "bytes", int(count)))
        else:
            spec.append((name, "int", 1))
    known = frozenset(n for n, _, _ in spec)
    assert layout.size == 32, fmt

    def build(fields: Mapping[str, Any]) -> bytes:
        _refuse_unknown(fields, known)
        values: list = []
        for name, kind, count in spec:
            if name not in fields:  # left out: zero
                values.extend(
                    [0] * count if kind == "list" else [bytes(count) if kind == "bytes" else 0]
                )
                continue
            value = fields[name]
            if kind == "int":
                values.append(value)
            elif kind == "list":
                items = list(value)
                if len(items) != count:
                    raise ValueError(f"{name}: expected {count} values, got {len(items)}")
                values.extend(items)
            else:  # bytes-like only, as the compiled layouts take them
                if not isinstance(value, (bytes, bytearray, memoryview)):
                    raise TypeError(f"{name}: expected {count} bytes, got {type(value).__name__}")
                raw = bytes(value)
                if len(raw) != count:
                    raise ValueError(f"{name}: expected {count} bytes, got {len(raw)}")
                values.append(raw)
        return layout.pack(*values)

    return build


def _refuse_unknown(fields: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}")


def _bit(value: Any) -> int:
    """A construct Flag: any truthy value is 1."""
    return 1 if value else 0


def _polling(fields: Mapping[str, Any]) -> bytes:
    """POLLING: LED word, fan word (bit 31 = change it, bits 0-9 the PWM), reboot byte."""
    _refuse_unknown(fields, frozenset(("led", "fan", "reboot")))
    fan = fields.get("fan") or {}
    _refuse_unknown(fan, frozenset(("change", "pwm")))
    pwm = fan.get("pwm", 0)
    if not 0 <= pwm < 1 << 10:
        raise ValueError(f"fan pwm {pwm} does not fit in 10 bits")
    word = _bit(fan.get("change")) << 31 | pwm
    return _POLLING.pack(fields.get("led", 0), word, fields.get("reboot", 0))


_POLLING = struct.Struct(">IIB23x")


def _set(fields: Mapping[str, Any]) -> bytes:
    """SET (avalon8_init_setting): frequency selection, the flag byte, the nonce mask, the
    mux and speed words."""
    _refuse_unknown(fields, _SET_NAMES)
    flags = fields.get("flags") or {}
    _refuse_unknown(flags, frozenset(("roll_enable", "nonce_check", "smart_speed")))
    flag_byte = (
        _bit(flags.get("roll_enable")) << 2
        | _bit(flags.get("nonce_check")) << 1
        | _bit(flags.get("smart_speed"))
    )
    words = [fields.get(n, 0) for n in _SET_WORDS]
    return _SET.pack(fields.get("freq_sel", 0), flag_byte, fields.get("nonce_mask", 0), *words)


_SET = struct.Struct(">4xIBB5I2x")
_SET_WORDS = ("mux_l2h", "mux_h2l", "h2ltime0_spd", "spdlow", "spdhigh")
_SET_NAMES = frozenset(("freq_sel", "flags", "nonce_mask", *_SET_WORDS))


def _job_id(fields: Mapping[str, Any]) -> bytes:
    """JOB_ID: the job's CRC high byte first, the pool number low byte first (cgminer)."""
    _refuse_unknown(fields, frozenset(("job_crc", "pool")))
    return _JOB_CRC.pack(fields.get("job_crc", 0)) + _POOL.pack(fields.get("pool", 0)) + bytes(28)


_JOB_CRC, _POOL = struct.Struct(">H"), struct.Struct("<H")

_EMPTY = _flat(">32x")
_CHUNK = {name: _flat(">32s", f"{name}:32") for name in ("chunk", "merkle", "target", "raw")}

# the base (Avalon 8) layouts a host builds, as payloads.PAYLOADS states them
BASE: dict[int, Builder] = {
    T.DETECT: _flat(">28xI", "module_id"),
    T.SYNC: _flat(">8s24x", "dna:8"),
    T.POLLING: _polling,
    T.RSTMMTX: _EMPTY,
    T.GET_VOLT: _EMPTY,
    T.SET: _set,
    T.SET_FIN: _EMPTY,
    T.SET_VOLT: _flat(">8I", "voltage_words*8"),
    T.SET_FREQ: _flat(">3IB19x", "pll_words*3", "miner"),
    T.SET_PMU: _CHUNK["raw"],
    T.SET_PLL: _flat(">4III8x", "pll_words*4", "pll_param", "asic_timeout"),
    T.SET_SS: _flat(">6I8x", "th_pass", "th_fail", "th_init", "th_ms", "th_timeout", "th_add"),
    T.SET_FAC: _flat(">b3s28x", "factory", "factory_type:3"),
    T.SET_OC: _flat(">B31x", "overclock"),
    T.SET_ASIC_OTP: _flat(">8I", "asics*8"),
    T.SET_ASIC_OTP_2A: _flat(">8I", "asics*8"),
    T.SET_MINER_EN: _flat(">I28s", "mask", "rest:28"),
    T.TEST: _flat(">B31x", "miner"),
    T.STATIC: _flat(
        ">8I",
        "coinbase_len",
        "nonce2_offset",
        "nonce2_size",
        "merkle_offset",
        "merkle_count",
        "nonce2_start",
        "nonce2_range",
        "clean",
    ),
    T.TARGET: _CHUNK["target"],
    T.JOB_ID: _job_id,
    T.COINBASE: _CHUNK["chunk"],
    T.MERKLES: _CHUNK["merkle"],
    T.HEADER: _CHUNK["chunk"],
    T.JOB_FIN: _EMPTY,
}

# a dialect's own layouts (dialect_layouts.py) for the types its host sends
BY_DIALECT: dict[str, dict[int, Builder]] = {
    "avalon7": {T.SET_PLL: _flat(">6III", "pll_words*6", "asic_timeout", "asic_timeout_98")},
    "avalon9": {
        T.SET_VOLT: _flat(">6II4x", "voltage_words*6", "adjust_volt_freq"),
        T.SET_PLL: _flat(
            ">4IIIII", "pll_words*4", "pll_param", "asic_timeout", "miner_id", "asic_id"
        ),
    },
}


def fast_encoder(dialect, ptype: int) -> Builder | None:
    """The builder of ``ptype``'s payload in ``dialect`` (None: build it with construct)."""
    own = BY_DIALECT.get(dialect.name)
    if own is not None and ptype in own:
        return own[ptype]
    if ptype in dialect.overrides:
        return None
    return BASE.get(ptype)
