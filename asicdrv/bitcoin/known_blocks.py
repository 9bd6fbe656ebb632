"""Real Bitcoin blocks, split into stratum jobs, for replays (tests, selftest's
known-answer test, benchmarks).

Raw coinbase transactions and header fields of mainnet blocks 0 (genesis) and 170 (the
first block with a second transaction, so it has a merkle branch and a real prevhash).
Each test that uses them also checks the published block hash.
"""

from .core import swap_words

GENESIS = dict(
    height=0,
    hash="000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    coinbase=bytes.fromhex(
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff"
        "4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72"
        "206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff"
        "0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f"
        "61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
    ),
    branch=[],
    prevhash="00" * 32,
    version=1,
    ntime=1231006505,
    nbits=0x1D00FFFF,
    nonce=2083236893,
    split=60,  # extranonce1 at coinbase[60:64], extranonce2 at [64:68]: midstate of 64
)

BLOCK_170 = dict(
    height=170,
    hash="00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
    coinbase=bytes.fromhex(
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff"
        "0704ffff001d0102ffffffff0100f2052a01000000434104d46c4968bde02899d2aa0963367c7a6ce3"
        "4eec332b32e42e5f3407e052d64ac625da6f0718e7b302140434bd725706957c092db53805b821a85b"
        "23a7ac61725bac00000000"
    ),
    # txid f4184fc5...9e16 (the first bitcoin payment), internal byte order
    branch=[
        bytes.fromhex("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")[::-1]
    ],
    prevhash="000000002a22cfee1f2c846adbd12b3e183d4f97683f85dad08a79780a84bd55",
    version=1,
    ntime=1231731025,
    nbits=0x1D00FFFF,
    nonce=1889418792,
    split=40,  # extranonce2 at [44:48]: nonce2 in the first block, empty midstate
)


def notify_params(block, job_id="b1", clean=True):
    """The block as a pool would send it in mining.notify, plus the stratum session values.

    Returns (params, extranonce1_hex, extranonce2_size, nonce2) where nonce2 is the value
    whose little-endian bytes reproduce the block's coinbase.
    """
    cb, split = block["coinbase"], block["split"]
    prev_internal = bytes.fromhex(block["prevhash"])[::-1]
    params = [
        job_id,
        swap_words(prev_internal).hex(),
        cb[:split].hex(),
        cb[split + 8 :].hex(),
        [b.hex() for b in block["branch"]],
        f"{block['version']:08x}",
        f"{block['nbits']:08x}",
        f"{block['ntime']:08x}",
        clean,
    ]
    nonce2 = int.from_bytes(cb[split + 4 : split + 8], "little")
    return params, cb[split : split + 4].hex(), 4, nonce2


# The self-test's known answer: block 170's header with its ntime rolled forward 207 s (what a
# board does itself when ntime rolling is on).  Nonce 396850 then hashes to 30 leading zero
# bits, found by a search over ntime offsets and checked by tests/test_known_answer.py with
# hashlib alone.  Its nonce is small, so any board that hashes from nonce 0 reaches it in
# seconds, an emulator at 50 kH/s included; a real block's nonce would take it hours.
KNOWN_ANSWER = dict(
    block=BLOCK_170,
    ntime_delta=207,
    nonce=396850,
    hash="00000003b2737eb4ea08745bec1ee1b0c4b89f2a67937a1d10e8b4dc894ffca0",
    difficulty=2**-6,
)


# Chips that report only diff-1 nonces (the nano's A3233, the 4-mini's A3222: cgminer's
# test_nonce) never return the 30-bit answer above: theirs is block 170 itself.  Its nonce
# is large; a real stick reaches it in about a second, the emulated one only when told to
# start near it (emu://?model=nano&nonce_start=1889418000).
DIFF1_KNOWN_ANSWER = dict(
    block=BLOCK_170, ntime_delta=0, nonce=BLOCK_170["nonce"], hash=BLOCK_170["hash"], difficulty=1.0
)


def known_answer_params(job_id: str = "selftest", answer: dict = KNOWN_ANSWER):
    """notify params (and extranonce1, size, nonce2) of a known answer's job."""
    block = answer["block"]
    params, en1, size, nonce2 = notify_params(block, job_id=job_id)
    params = list(params)
    params[7] = f"{block['ntime'] + answer['ntime_delta']:08x}"
    return params, en1, size, nonce2
