"""CRC-16/XMODEM as the MM firmware uses it (cgminer ``crc16.c``).

Polynomial 0x1021, initial value 0, no reflection, no final xor: exactly what the C
library behind ``binascii.crc_hqx`` computes, so no table of our own is needed.
"""

from binascii import crc_hqx


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM of ``data``; ``crc16(b"123456789") == 0x31C3``."""
    return crc_hqx(data, 0)
