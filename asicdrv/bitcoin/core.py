"""Bitcoin arithmetic shared by the host (nonce verification) and the emulator (hashing).

Byte orders, which bite:
- ``sha256d`` digests are in internal order; the hash people read ("display order") is the
  digest reversed, and the number compared with a target is the digest read little-endian.
- Stratum's prevhash is the internal-order hash with every 4-byte word byte-swapped.
- cgminer's ``header_bin`` (what HEADER packets carry) is the real 80-byte header with every
  4-byte word byte-swapped: :func:`swap_words` converts both ways.
- nonce2 goes into the coinbase little-endian; the header's nonce is little-endian too.
"""

from __future__ import annotations

import struct

# CPython's own SHA-256 (as fast as OpenSSL's on 80 bytes): hashlib would map OpenSSL's
# libcrypto, 3.5 MiB of a controller's memory, for a few hashes a nonce
try:
    from _sha2 import sha256  # 3.12 and later
except ImportError:
    try:
        from _sha256 import sha256  # 3.11
    except ImportError:  # a Python built without them
        from hashlib import sha256

DIFF1_TARGET = 0x00000000FFFF0000000000000000000000000000000000000000000000000000


def sha256d(data: bytes) -> bytes:
    return sha256(sha256(data).digest()).digest()


def swap_words(data: bytes) -> bytes:
    """Byte-swap every 32-bit word (``len(data)`` must be a multiple of 4)."""
    n = len(data) // 4
    return struct.pack(f">{n}I", *struct.unpack(f"<{n}I", data))


def merkle_root(coinbase: bytes, branches: list[bytes]) -> bytes:
    """Merkle root (internal order) from the coinbase and the stratum merkle branch."""
    root = sha256d(coinbase)
    for branch in branches:
        root = sha256d(root + branch)
    return root


def hash_value(digest: bytes) -> int:
    """The number a target is compared with: the digest read little-endian."""
    return int.from_bytes(digest, "little")


def display_hash(digest: bytes) -> str:
    """The hash as explorers show it (reversed digest, hex)."""
    return digest[::-1].hex()


def nbits_to_target(nbits: int) -> int:
    exponent, mantissa = nbits >> 24, nbits & 0x007FFFFF
    if exponent <= 3:
        return mantissa >> (8 * (3 - exponent))
    return mantissa << (8 * (exponent - 3))


MAX_TARGET = (1 << 256) - 1


def target_for_difficulty(difficulty: float) -> int:
    """The share target of a difficulty, clamped to what a 256-bit target can carry: a
    pool's 1e-300 is the largest target (every hash meets it), 1e300 the smallest (1)."""
    if not difficulty > 0 or difficulty == float("inf"):
        raise ValueError(f"difficulty must be a finite number above 0, got {difficulty}")
    if difficulty < DIFF1_TARGET / MAX_TARGET:
        return MAX_TARGET  # DIFF1_TARGET / difficulty would not fit (or overflow a float)
    return max(1, min(MAX_TARGET, int(DIFF1_TARGET / difficulty)))


def difficulty_of(digest: bytes) -> float:
    """Share difficulty of a hash (pool convention: diff-1 target / hash)."""
    return DIFF1_TARGET / max(hash_value(digest), 1)


def mask_target(nonce_mask: int) -> int:
    """Largest hash value with at least ``nonce_mask`` leading zero bits."""
    return (1 << (256 - nonce_mask)) - 1


def target_to_bytes_le(target: int) -> bytes:
    """A 256-bit target as cgminer's ``set_target`` stores it: lowest byte first."""
    return min(target, (1 << 256) - 1).to_bytes(32, "little")


def build_header(
    version: int, prevhash_internal: bytes, merkle: bytes, ntime: int, nbits: int, nonce: int
) -> bytes:
    """The real 80-byte block header."""
    return (
        struct.pack("<I", version)
        + prevhash_internal
        + merkle
        + struct.pack("<III", ntime, nbits, nonce)
    )
