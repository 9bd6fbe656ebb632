"""Test without hardware: a stratum pool that checks shares on its own (:class:`TestPool`)
and pytest fixtures (``asicdrv_emulator``, ``asicdrv_chain``, ``stratum_pool``) that the
package registers as a pytest plugin.  See docs/library.md, "Testing your controller without
hardware"."""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any

    from .pool import PoolJob, SubmittedShare, TestPool

EASY_NONCE_MASK = 12


def __getattr__(name: str) -> Any:  # the pool loads on first use (PEP 562)
    if name not in ("PoolJob", "SubmittedShare", "TestPool"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(".pool", __name__), name)


def easy_difficulty(nonce_mask: int = EASY_NONCE_MASK) -> float:
    """A pool difficulty every nonce of an emulated chip with ``nonce_mask`` meets (the
    chips report hashes with that many leading zero bits; difficulty 1 needs 32)."""
    return 2.0 ** (nonce_mask - 33)


__all__ = ["EASY_NONCE_MASK", "PoolJob", "SubmittedShare", "TestPool", "easy_difficulty"]
