"""Numbers as cgminer's API prints them: ``print_data`` in cgminer's ``api.c`` writes each
value by the type its command gave it, the same in JSON and in text: temperatures, hash
rates and utility with 2 decimals, total MH and percentages with 4, difficulties with 8,
elapsed seconds whole, any other double with 6 (``%f``).  Farm tools parse these; a
float's 17 digits are not what they were written against."""

from __future__ import annotations

import json
import math

_TWO = ["Temperature", "MHS av", "MHS 5s", "MHS 1m", "MHS 5m", "MHS 15m", "Utility"]
_TWO += ["Work Utility", "Frequency", "GHS av", "GHS 5m", "GHS 5s"]
_FOUR = ["Total MH", "Device Hardware%", "Device Rejected%", "Pool Rejected%", "Pool Stale%"]
_EIGHT = ["Difficulty Accepted", "Difficulty Rejected", "Difficulty Stale"]
_EIGHT += ["Last Share Difficulty", "Work Difficulty", "Stratum Difficulty"]
DECIMALS = {
    **dict.fromkeys(_TWO, 2),
    **dict.fromkeys(_FOUR, 4),
    **dict.fromkeys(_EIGHT, 8),
    "Elapsed": 0,
    "Device Elapsed": 0,
}
DOUBLE_DECIMALS = 6  # API_DOUBLE: "%f"


def number_text(name: str, value: float) -> str:
    """A float under ``name`` as cgminer writes it."""
    if not math.isfinite(value):
        return "0"  # JSON has no NaN; cgminer's doubles are never one
    return f"{value:.{DECIMALS.get(name, DOUBLE_DECIMALS)}f}"


def encode_json(value, name: str = "") -> str:
    """JSON with cgminer's number formats (json.dumps would write every float in full)."""
    if isinstance(value, dict):
        fields = (f"{json.dumps(k)}:{encode_json(v, k)}" for k, v in value.items())
        return "{" + ",".join(fields) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode_json(v, name) for v in value) + "]"
    if isinstance(value, float):
        return number_text(name, value)
    return json.dumps(value)
