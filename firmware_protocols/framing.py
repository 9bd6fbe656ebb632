"""Finding MM frames in a byte stream (a serial line has no packet boundaries).

Search for the magic (``C N``; ``A V`` on an Avalon 2/3 line), take a frame's length, check
the header, type and CRC; on failure slide on by one byte, so a frame that follows garbage
or a corrupted frame is still found.
"""

from __future__ import annotations

from firmware_protocols import MMPacket, ProtocolError, decode_packet
from firmware_protocols.mm import decode_device_frame
from firmware_protocols.dialects import AVALON8, Dialect
from firmware_protocols.errors import CrcError


class FrameSync:
    """Feed bytes in, take decoded packets out; counts what it had to throw away.
    ``from_device``: the frames come from modules (their dialect's CRC byte order);
    ``any_crc_order``: from modules of a CN link whose generation is not known, so either
    CRC byte order is good (an Avalon 4's low byte first)."""

    def __init__(
        self,
        dialect: Dialect = AVALON8,
        from_device: bool | None = None,
        any_crc_order: bool = False,
    ):
        self.dialect = dialect
        self.from_device = from_device
        self.any_crc_order = any_crc_order
        self.buffer = bytearray()
        self.skipped_bytes = 0  # bytes that were not part of any good frame
        self.crc_errors = 0  # 40-byte candidates whose CRC failed
        self.bad_frames = 0  # candidates with an unknown type

    def feed(self, data: bytes) -> list[MMPacket]:
        self.buffer += data
        packets = []
        buf = self.buffer
        magic, size = self.dialect.magic, self.dialect.frame_size
        while True:
            start = buf.find(magic)
            if start < 0:
                keep = 1 if buf[-1:] == magic[:1] else 0  # a magic split across reads
                self.skipped_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                self.skipped_bytes += start
                del buf[:start]
            if len(buf) < size:
                break
            try:
                frame = bytes(buf[:size])
                packets.append(
                    decode_device_frame(frame)
                    if self.any_crc_order
                    else decode_packet(frame, dialect=self.dialect, from_device=self.from_device)
                )
            except CrcError:
                self.crc_errors += 1
                self.skipped_bytes += 1
                del buf[:1]
                continue
            except ProtocolError:
                self.bad_frames += 1
                self.skipped_bytes += 1
                del buf[:1]
                continue
            del buf[:size]
        return packets
