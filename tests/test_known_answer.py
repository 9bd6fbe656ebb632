"""The self-test's known answer, checked with hashlib alone (not our header code)."""

import hashlib
import struct

from asicdrv.bitcoin.known_blocks import BLOCK_170, KNOWN_ANSWER, known_answer_params


def test_known_answer_hash_from_first_principles():
    params, en1, size, nonce2 = known_answer_params()
    coinbase = (
        bytes.fromhex(params[2])
        + bytes.fromhex(en1)
        + nonce2.to_bytes(size, "little")
        + bytes.fromhex(params[3])
    )
    root = hashlib.sha256(hashlib.sha256(coinbase).digest()).digest()
    for branch in params[4]:
        root = hashlib.sha256(hashlib.sha256(root + bytes.fromhex(branch)).digest()).digest()
    prev = bytes.fromhex(params[1])
    prev = b"".join(prev[i : i + 4][::-1] for i in range(0, 32, 4))  # stratum word swap
    header = (
        struct.pack("<I", int(params[5], 16))
        + prev
        + root
        + struct.pack("<III", int(params[7], 16), int(params[6], 16), KNOWN_ANSWER["nonce"])
    )
    digest = hashlib.sha256(hashlib.sha256(header).digest()).digest()
    assert digest[::-1].hex() == KNOWN_ANSWER["hash"]
    assert int(params[7], 16) == BLOCK_170["ntime"] + 207
    # and no smaller nonce meets the 27 bits an 851's chips report at (SET default)
    base = hashlib.sha256(header[:64])
    for nonce in range(0, KNOWN_ANSWER["nonce"], 997):  # a sample: the search was full
        h = base.copy()
        h.update(header[64:76] + nonce.to_bytes(4, "little"))
        value = int.from_bytes(hashlib.sha256(h.digest()).digest(), "little")
        assert value >> (256 - 27)
