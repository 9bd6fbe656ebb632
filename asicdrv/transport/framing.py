"""Finding MM frames in a byte stream (a serial line has no packet boundaries).

Search for ``C N``, take 40 bytes, check the header, type and CRC; on failure slide on by
one byte, so a frame that follows garbage or a corrupted frame is still found.
"""
from __future__ import annotations

from firmware_protocols import PACKET_SIZE, MMPacket, ProtocolError, decode_packet
from firmware_protocols.errors import CrcError

HEADER = b"CN"


class FrameSync:
    """Feed bytes in, take decoded packets out; counts what it had to throw away."""

    def __init__(self):
        self.buffer = bytearray()
        self.skipped_bytes = 0     # bytes that were not part of any good frame
        self.crc_errors = 0        # 40-byte candidates whose CRC failed
        self.bad_frames = 0        # candidates with an unknown type

    def feed(self, data: bytes) -> list[MMPacket]:
        self.buffer += data
        packets = []
        buf = self.buffer
        while True:
            start = buf.find(HEADER)
            if start < 0:
                keep = 1 if buf[-1:] == b"C" else 0   # a header may be split across reads
                self.skipped_bytes += len(buf) - keep
                del buf[:len(buf) - keep]
                break
            if start:
                self.skipped_bytes += start
                del buf[:start]
            if len(buf) < PACKET_SIZE:
                break
            try:
                packets.append(decode_packet(bytes(buf[:PACKET_SIZE])))
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
            del buf[:PACKET_SIZE]
        return packets
