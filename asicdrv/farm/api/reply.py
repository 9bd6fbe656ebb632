"""One API command's answer, before :mod:`.server` frames it."""

from __future__ import annotations

from firmware_protocols.records import record


@record
class Reply:
    """One command's answer: a status and optional named sections."""

    severity: str  # S I W E F
    code: int
    message: str
    sections: dict | None = None
    special: str | None = None  # RESTART / BYE replace the whole reply


def ok(code: int, message: str, **sections) -> Reply:
    return Reply("S", code, message, sections)


def error(code: int, message: str) -> Reply:
    return Reply("E", code, message)
