"""Precompiled ``struct`` readers for the payloads a host decodes on every poll.

The ``construct`` definitions in :mod:`.payloads` stay the one statement of each format;
these readers produce the same dicts ~10x faster, and ``tests/test_protocol_properties.py``
checks that they agree with the definitions on random data.
"""

from __future__ import annotations

import struct

from .types import PacketType as T

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

_STATUS = struct.Struct(">iIIIIII")
_NONCE_HEAD = struct.Struct(">HHII")
_LE32 = struct.Struct("<I")
_BE16_LE16 = struct.Struct(">H")
_LE16 = struct.Struct("<H")
_EIGHT_U32 = struct.Struct(">8I")
_EIGHT_U16 = struct.Struct(">8H")
_ASIC = struct.Struct(">II4B4H")
_PMU = struct.Struct(">8x4HB7x4s4s")
_TEST_RET = struct.Struct(">III")


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("latin-1")


def _status(data: bytes) -> dict:
    t, fan, works, hw, miner_ec, module_ec, crc = _STATUS.unpack_from(data)
    return {
        "temperature_mm": t,
        "fan_rpm": fan,
        "local_works": works,
        "hw_errors": hw,
        "miner_error_code": miner_ec,
        "module_error_code": module_ec,
        "crc_errors": crc,
    }


def _nonce(data: bytes) -> dict:
    chip, miner, nonce2, ntime_offset = _NONCE_HEAD.unpack_from(data)
    return {
        "chip": chip,
        "miner": miner,
        "nonce2": nonce2,
        "ntime_offset": ntime_offset,
        "nonce": _LE32.unpack_from(data, 12)[0],
        "job_crc": _BE16_LE16.unpack_from(data, 16)[0],
        "pool": _LE16.unpack_from(data, 18)[0],
    }


def _pvt_851(data: bytes) -> dict:
    codes = _EIGHT_U16.unpack_from(data)
    return {"sensors": [{"temp_code": codes[i], "volt_code": codes[i + 1]} for i in range(0, 8, 2)]}


def _pll(data: bytes) -> dict:
    words = _EIGHT_U32.unpack_from(data)
    return {"lock_counts": list(words[:4]), "frequencies_mhz": list(words[4:])}


def _asic(data: bytes) -> dict:
    v = _ASIC.unpack_from(data)
    return {
        "works": v[0],
        "errors": v[1],
        "pll_counts": list(v[2:6]),
        "frequencies_mhz": list(v[6:10]),
    }


def _volt(data: bytes) -> dict:
    return {"vout_raw": list(_EIGHT_U32.unpack_from(data))}


def _pmu(data: bytes) -> dict:
    v = _PMU.unpack_from(data)
    return {"vin_raw": list(v[:4]), "power_good": v[4], "pmu_versions": [_text(v[5]), _text(v[6])]}


def _test_ret(data: bytes) -> dict:
    bitmap, tested, high = _TEST_RET.unpack_from(data)
    return {"pass_bitmap": bitmap, "chips_tested": tested, "pass_bitmap_high": high}


_ACKDETECT = struct.Struct(">8s15sI5x")
_OTP = struct.Struct(">15sBBB")


def _ackdetect(data: bytes) -> dict:
    dna, version, asics = _ACKDETECT.unpack_from(data)
    return {"dna": dna, "version": _text(version), "asic_count": asics}


def _otp(data: bytes) -> dict:
    otp, step, asic, hit = _OTP.unpack_from(data)
    return {"otp": otp, "step": step, "asic": asic, "cycle_hit": hit}


FAST_DECODERS: dict[int, Callable[[bytes], dict]] = {
    # the host reads back its own SET_VOLT: the last check of every voltage word it sends
    T.SET_VOLT: lambda data: {"voltage_words": list(_EIGHT_U32.unpack_from(data))},
    T.ACKDETECT: _ackdetect,
    T.STATUS_LOG: lambda data: {"text": _text(data[:32])},
    T.STATUS_FAC: lambda data: {"factory": struct.unpack_from(">b", data)[0]},
    T.STATUS_OC: lambda data: {"overclock": data[0]},
    T.STATUS_OTP: _otp,
    T.STATUS: _status,
    T.NONCE: _nonce,
    T.STATUS_PVT: _pvt_851,
    T.STATUS_PLL: _pll,
    T.STATUS_ASIC: _asic,
    T.STATUS_VOLT: _volt,
    T.STATUS_PMU: _pmu,
    T.TEST_RET: _test_ret,
}
