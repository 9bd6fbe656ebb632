"""SHA-256 with a visible state, for the coinbase midstate.

The host sends the MM the SHA-256 state after the coinbase bytes that precede the 64-byte
block holding nonce2 (``sha256_prehash`` in cgminer); the MM continues from it.  ``hashlib``
can neither export nor import that state, hence this small compression function.  It runs
once per job on the host and once per nonce2 in the emulator: speed does not matter here.
"""

from __future__ import annotations

import struct

_K = (
    0x428A2F98,
    0x71374491,
    0xB5C0FBCF,
    0xE9B5DBA5,
    0x3956C25B,
    0x59F111F1,
    0x923F82A4,
    0xAB1C5ED5,
    0xD807AA98,
    0x12835B01,
    0x243185BE,
    0x550C7DC3,
    0x72BE5D74,
    0x80DEB1FE,
    0x9BDC06A7,
    0xC19BF174,
    0xE49B69C1,
    0xEFBE4786,
    0x0FC19DC6,
    0x240CA1CC,
    0x2DE92C6F,
    0x4A7484AA,
    0x5CB0A9DC,
    0x76F988DA,
    0x983E5152,
    0xA831C66D,
    0xB00327C8,
    0xBF597FC7,
    0xC6E00BF3,
    0xD5A79147,
    0x06CA6351,
    0x14292967,
    0x27B70A85,
    0x2E1B2138,
    0x4D2C6DFC,
    0x53380D13,
    0x650A7354,
    0x766A0ABB,
    0x81C2C92E,
    0x92722C85,
    0xA2BFE8A1,
    0xA81A664B,
    0xC24B8B70,
    0xC76C51A3,
    0xD192E819,
    0xD6990624,
    0xF40E3585,
    0x106AA070,
    0x19A4C116,
    0x1E376C08,
    0x2748774C,
    0x34B0BCB5,
    0x391C0CB3,
    0x4ED8AA4A,
    0x5B9CCA4F,
    0x682E6FF3,
    0x748F82EE,
    0x78A5636F,
    0x84C87814,
    0x8CC70208,
    0x90BEFFFA,
    0xA4506CEB,
    0xBEF9A3F7,
    0xC67178F2,
)
INITIAL_STATE = (
    0x6A09E667,
    0xBB67AE85,
    0x3C6EF372,
    0xA54FF53A,
    0x510E527F,
    0x9B05688C,
    0x1F83D9AB,
    0x5BE0CD19,
)
BLOCK = 64
_M32 = 0xFFFFFFFF


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & _M32


def compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    """One SHA-256 compression of a 64-byte block into ``state``."""
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & _M32)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = (
            h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]
        ) & _M32
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & _M32
        h, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M32, c, b, a, (t1 + t2) & _M32
    return tuple((x + y) & _M32 for x, y in zip(state, (a, b, c, d, e, f, g, h)))


def midstate(data: bytes) -> bytes:
    """The state after hashing ``data`` (a multiple of 64 bytes), as 8 big-endian words."""
    if len(data) % BLOCK:
        raise ValueError(f"midstate needs whole 64-byte blocks, got {len(data)} bytes")
    state: tuple[int, ...] = INITIAL_STATE
    for i in range(0, len(data), BLOCK):
        state = compress(state, data[i : i + BLOCK])
    return struct.pack(">8I", *state)


def finish(midstate_bytes: bytes, tail: bytes, prefix_length: int) -> bytes:
    """SHA-256 digest of ``prefix + tail`` given the midstate after ``prefix``
    (``prefix_length`` bytes, a multiple of 64)."""
    if prefix_length % BLOCK:
        raise ValueError("the prefix must be whole 64-byte blocks")
    state = struct.unpack(">8I", midstate_bytes)
    total_bits = (prefix_length + len(tail)) * 8
    padded = tail + b"\x80" + bytes((55 - len(tail)) % BLOCK) + struct.pack(">Q", total_bits)
    for i in range(0, len(padded), BLOCK):
        state = compress(state, padded[i : i + BLOCK])
    return struct.pack(">8I", *state)
