"""Precompiled ``struct`` readers for the payloads each generation's host decodes on every
poll (its NONCE and status frames), as :mod:`.fast` is for the Avalon 8.  The ``construct``
layouts in :mod:`.dialects` stay the definition; ``tests/test_protocol_properties.py``
checks every reader against them on random data."""

from __future__ import annotations

import struct

from .types import PacketType as T

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

_SIX_U32_PAD = struct.Struct(">6I")
_A7_PVT = struct.Struct(">BBHHH")
_BE16 = struct.Struct(">H")
_TWELVE_U16 = struct.Struct(">12H")
_A4_NONCE = struct.Struct(">HHIIIIH")
_A4_STATUS = struct.Struct(">i7I")
_A2_NONCE = struct.Struct(">IIIIIH6xI")
_A2_STATUS = struct.Struct(">2H2H6I")
_NANO_REPORT = struct.Struct(">I2xBBIxBBB")
_EIGHT_U32 = struct.Struct(">8I")


def _a7_pll(data: bytes) -> dict:
    return {"lock_counts": list(_SIX_U32_PAD.unpack_from(data))}


def _a7_pvt(data: bytes) -> dict:
    miners = []
    for i in range(4):
        a, b, c0, c1, c2 = _A7_PVT.unpack_from(data, 8 * i)
        miners.append({"ids": [a, b], "temp_codes": [c0, c1, c2]})
    return {"miners": miners}


def _single_volt(data: bytes) -> dict:
    return {"vout_raw": _BE16.unpack_from(data)[0]}


def _a9_pvt(data: bytes) -> dict:
    codes = _TWELVE_U16.unpack_from(data)
    return {
        "sensors": [{"temp_code": codes[i], "volt_code": codes[i + 1]} for i in range(0, 12, 2)]
    }


def _a4_nonce(data: bytes) -> dict:
    chip, miner, pool, nonce2, ntime, raw, crc = _A4_NONCE.unpack_from(data)
    return {
        "chip": chip,
        "miner": miner,
        "pool": pool,
        "nonce2": nonce2,
        "ntime_offset": ntime,
        "nonce_raw": raw,
        "job_crc": crc,
    }


def _a4_status(data: bytes) -> dict:
    t, fan, freq, volt, works, hw, pg, ec = _A4_STATUS.unpack_from(data)
    return {
        "temperature_mm": t,
        "fan_rpm": fan,
        "frequency": freq,
        "voltage_word": volt,
        "local_works": works,
        "hw_errors": hw,
        "power_good": pg,
        "error_code": ec,
    }


def _a2_nonce(data: bytes) -> dict:
    miner, pool, nonce2, ntime, raw, crc, module = _A2_NONCE.unpack_from(data)
    return {
        "miner": miner,
        "pool": pool,
        "nonce2": nonce2,
        "ntime_offset": ntime,
        "nonce_raw": raw,
        "job_crc": crc,
        "module_id": module,
    }


def _a2_status(data: bytes) -> dict:
    t0, t1, f0, f1, freq, volt, works, hw, pg, module = _A2_STATUS.unpack_from(data)
    return {
        "temperatures": [t0, t1],
        "fans_rpm": [f0, f1],
        "frequency": freq,
        "voltage_word": volt,
        "local_works": works,
        "hw_errors": hw,
        "power_good": pg,
        "module_id": module,
    }


def _nano_nonce(data: bytes) -> dict:
    reports = []
    for offset in (0, 16):
        work_id, chip, ntime, raw, usb, work, nonce = _NANO_REPORT.unpack_from(data, offset)
        reports.append(
            {
                "work_id": work_id,
                "chip": chip,
                "ntime": ntime,
                "nonce_raw": raw,
                "usb_fifo": usb,
                "work_fifo": work,
                "nonce_fifo": nonce,
            }
        )
    return {"reports": reports}


def _nano_status(data: bytes) -> dict:
    return {"words": list(_EIGHT_U32.unpack_from(data))}


_A7_ASIC = struct.Struct(">5I6B")
_POWER = struct.Struct(">6HB")


def _a7_asic(data: bytes) -> dict:
    v = _A7_ASIC.unpack_from(data)
    names = ("spd_pass", "spd_fail", "sum_failed", "sum_num", "sum_xor")
    return {**dict(zip(names, v[:5])), "pll_counts": list(v[5:])}


_A9_SET_VOLT = struct.Struct(">7I")


def _a9_set_volt(data: bytes) -> dict:
    v = _A9_SET_VOLT.unpack_from(data)
    return {"voltage_words": list(v[:6]), "adjust_volt_freq": v[6]}


def _status_power(data: bytes) -> dict:
    v = _POWER.unpack_from(data)
    return {"power_supply": list(v[:6]), "valid": v[6]}


FAST_BY_DIALECT: dict[str, dict[int, Callable[[bytes], dict]]] = {
    "avalon7": {T.STATUS_PLL: _a7_pll, T.STATUS_PVT: _a7_pvt, T.STATUS_ASIC: _a7_asic},
    "avalon9": {
        T.STATUS_VOLT: _single_volt,
        T.STATUS_PVT: _a9_pvt,
        T.STATUS_PMU: _status_power,
        T.SET_VOLT: _a9_set_volt,
    },
    "avalonlc3": {T.STATUS_VOLT: _single_volt, T.STATUS_PMU: _status_power},
    "avalon4": {T.NONCE: _a4_nonce, T.STATUS: _a4_status},
    "avalon2": {T.NONCE: _a2_nonce, T.STATUS: _a2_status},
    "avalon_nano": {T.NONCE: _nano_nonce, T.STATUS: _nano_status},
}
