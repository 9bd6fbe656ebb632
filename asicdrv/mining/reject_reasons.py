"""Why a pool rejected a share, as one of a small closed set: counters and metric labels
stay bounded whatever a pool writes (a NOMP-style pool puts the share's difficulty in its
message, "low difficulty share of 0.0123": a new text every time).  The pool's own words
go to the log.

The set follows the Stratum error codes pools use (20 other, 21 job not found, 22
duplicate, 23 low difficulty, 24 unauthorized worker, 25 not subscribed) and the texts of
ckpool ("Stale", "Duplicate", "Above target", "Invalid JobID", "Ntime out of range",
"Invalid nonce2 length") and NOMP ("job not found", "duplicate share", "low difficulty
share of X", "incorrect size of nonce", "ntime out of range").
"""

from __future__ import annotations

REASONS = (
    "stale",
    "duplicate",
    "low difficulty",
    "bad ntime",
    "bad nonce2",
    "unauthorized",
    "other",
)

# (reason, words in the pool's text that mean it), first match wins
_WORDS = (
    ("duplicate", ("duplicate",)),
    ("stale", ("stale", "job not found", "jobid", "job id", "unknown job", "expired", "old job")),
    ("low difficulty", ("low difficulty", "above target", "high-hash", "high hash", "diff")),
    ("bad ntime", ("ntime", "time-too", "time too")),
    ("bad nonce2", ("nonce2", "extranonce", "size of nonce", "nonce size", "nonce length")),
    ("unauthorized", ("unauthori", "not subscribed", "authori")),
)


def reason_category(text: str | None) -> str:
    """The closed-set reason for a pool's rejection text (or the name of its code)."""
    words = (text or "").lower()
    for reason, keys in _WORDS:
        if any(key in words for key in keys):
            return reason
    return "other"
