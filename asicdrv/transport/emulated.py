"""The in-process link to an :class:`~asicdrv.emulator.Emulator` (the fastest way in)."""

from __future__ import annotations

import time

from firmware_protocols import PACKET_SIZE
from ..errors import DeviceGone

REPLY_TIMEOUT_S = 0.2  # as the AUC's USB timeout
READ_AGAIN_EVERY_S = 0.002


class EmulatorLink:
    multi_module = True

    def __init__(self, emulator):
        self.emulator = emulator
        self.name = "emu://"
        self.short_replies = 0

    def xfer(
        self, address: int, frame: bytes, read: bool, patience: float | None = None
    ) -> bytes | None:
        """One transfer; a reply that is not ready yet is read again until ``patience``
        (default: the AUC's 200 ms) has passed, as the AUC driver does."""
        reply = self._transfer(address, frame, PACKET_SIZE if read else 0)
        if read and len(reply) < PACKET_SIZE:
            self.short_replies += 1
            budget = REPLY_TIMEOUT_S if patience is None else patience
            deadline = time.monotonic() + budget
            while len(reply) < PACKET_SIZE and time.monotonic() < deadline:
                if self.emulator.bus.pending_ready(address) is None:
                    break  # nothing on its way: nobody answered
                time.sleep(READ_AGAIN_EVERY_S)
                reply = self._transfer(address, b"", PACKET_SIZE)
        return reply if len(reply) == PACKET_SIZE else None

    def _transfer(self, address: int, frame: bytes, rlen: int) -> bytes:
        if not self.emulator.auc.connected:
            raise DeviceGone("the emulated device was disconnected")
        reply = self.emulator.i2c_xfer(address, frame, rlen)
        if not self.emulator.auc.connected:
            raise DeviceGone("the emulated device was disconnected")
        return reply

    def info(self) -> dict:
        return {"version": "emulator"}

    def close(self) -> None:
        pass
