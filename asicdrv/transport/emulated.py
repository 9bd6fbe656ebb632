"""The in-process link to an :class:`~asicdrv.emulator.Emulator` (the fastest way in)."""
from __future__ import annotations

from firmware_protocols import PACKET_SIZE
from ..errors import DeviceGone


class EmulatorLink:
    multi_module = True

    def __init__(self, emulator):
        self.emulator = emulator
        self.name = "emu://"

    def xfer(self, address: int, frame: bytes, read: bool) -> bytes | None:
        if not self.emulator.auc.connected:
            raise DeviceGone("the emulated device was disconnected")
        reply = self.emulator.i2c_xfer(address, frame, PACKET_SIZE if read else 0)
        return reply if len(reply) == PACKET_SIZE else None

    def info(self) -> dict:
        return {"version": "emulator"}

    def close(self) -> None:
        pass
