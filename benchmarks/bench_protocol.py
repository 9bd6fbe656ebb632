"""Protocol codec throughput on one core: MM frame decode (parse + CRC) and encode.

Run: python benchmarks/bench_protocol.py
Prints medians of 7 runs and the ratio against a bare struct.unpack + binascii.crc_hqx
baseline measured in the same run.
"""

import binascii
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_rate, report  # noqa: E402

from firmware_protocols import PacketType, decode_packet, encode_packet  # noqa: E402

N = 50_000
FIELDS = {
    "chip": 3,
    "miner": 1,
    "nonce2": 7,
    "ntime_offset": 1,
    "nonce": 0xDEADBEEF,
    "job_crc": 0xBEEF,
    "pool": 0,
}
FRAME = encode_packet(PacketType.NONCE, FIELDS)
DATA = FRAME[6:38]
BARE = struct.Struct(">2sBBBB32sH")


def bare_decode():
    head, ptype, opt, idx, cnt, data, crc = BARE.unpack(FRAME)
    return binascii.crc_hqx(data, 0) == crc


def main() -> None:
    baseline = median_rate(bare_decode, N)
    decode = median_rate(lambda: decode_packet(FRAME), N)
    decode_fields = median_rate(lambda: decode_packet(FRAME).fields(), N)
    encode_raw = median_rate(lambda: encode_packet(PacketType.NONCE, data=DATA), N)
    encode_fields = median_rate(lambda: encode_packet(PacketType.NONCE, FIELDS), N)
    report("baseline struct.unpack + crc_hqx", baseline)
    report("decode_packet (parse + CRC check)", decode, target=100_000)
    report("decode_packet + NONCE fields", decode_fields)
    report("encode_packet from raw data (+CRC)", encode_raw, target=100_000)
    report("encode_packet from NONCE fields", encode_fields)
    print(
        f"ratio decode / baseline: {decode / baseline:.3f}  "
        f"(baseline is {baseline / decode:.1f}x faster)"
    )


if __name__ == "__main__":
    main()
