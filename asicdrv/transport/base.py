"""What the device layer needs from a link to the MM chain."""

from __future__ import annotations

from typing import Protocol


class Link(Protocol):
    """One transfer = write an MM packet to an I2C address (0 = broadcast) and, when
    ``read`` is set, return the 40-byte reply (or None when the module sent nothing).
    A reply that is late is waited for up to ``patience`` seconds (None: the link's
    own timeout).

    A link that can read a reply after its request gave up (the AUC) may also have
    ``late``: a deque of ``(address, frame)`` the device layer takes after each poll and
    hands to the module at that address."""

    name: str
    multi_module: bool  # False for a serial line: one module, no addresses

    def xfer(
        self, address: int, frame: bytes, read: bool, patience: float | None = None
    ) -> bytes | None: ...

    def info(self) -> dict: ...

    def close(self) -> None: ...
