"""Per-generation codec throughput against the Avalon 8 path, and detection time.

Run: python benchmarks/bench_generations.py
For each generation: decode (frame parse + CRC + fields) of the frames a poll brings back
(a NONCE and a status frame, from the emulator's own encoder) and encode of what the host
sends most (a POLLING, its configuration frame).  Medians of 7 runs; the ratio is against
the Avalon 8's same path (target: within 10 %, i.e. >= 0.90).  Then the time to open a
chain (detect, configure) on the emulator through each link, median of 5 (target: a
6-module chain in under 1 s; an Avalon 2/3 line holds 4, a stick is one).
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _timing import median_rate  # noqa: E402

import asicdrv  # noqa: E402
from asicdrv.emulator import Emulator  # noqa: E402
from firmware_protocols import PacketType as T, decode_packet, encode_packet  # noqa: E402

N = 20_000
# generation -> (a model, a NONCE's fields, its status frame type and fields)
CASES = {
    "avalon8": (
        "851",
        {"chip": 3, "miner": 1, "nonce2": 7, "nonce": 0xDEADBEEF, "job_crc": 0xBEEF},
        T.STATUS,
        {"temperature_mm": 40, "fan_rpm": 3000},
    ),
    "avalon7": (
        "741",
        {"chip": 3, "miner": 1, "nonce2": 7, "nonce": 0xDEADBEEF, "job_crc": 0xBEEF},
        T.STATUS_PLL,
        {"lock_counts": [1] * 6},
    ),
    "avalon9": (
        "910",
        {"chip": 3, "miner": 1, "nonce2": 7, "nonce": 0xDEADBEEF, "job_crc": 0xBEEF},
        T.STATUS_VOLT,
        {"vout_raw": 4321},
    ),
    "avalonlc3": (
        "LC3",
        {"chip": 3, "miner": 1, "nonce2": 7, "nonce": 0xDEADBEEF, "job_crc": 0xBEEF},
        T.STATUS,
        {"temperature_mm": 40},
    ),
    "avalon4": (
        "MM41",
        {"chip": 3, "miner": 1, "nonce2": 7, "nonce_raw": 0xDEADBEEF, "job_crc": 0xBEEF},
        T.STATUS,
        {"temperature_mm": 40},
    ),
    "avalon2": (
        "MM2",
        {"miner": 1, "nonce2": 7, "nonce_raw": 0xDEADBEEF, "job_crc": 0xBEEF, "module_id": 1},
        T.STATUS,
        {"temperatures": [40, 41]},
    ),
    "avalon_nano": (
        "nano",
        {
            "reports": [
                {
                    "work_id": 1,
                    "chip": 0,
                    "ntime": 0,
                    "nonce_raw": 0xDEADBEEF,
                    "usb_fifo": 0,
                    "work_fifo": 0,
                    "nonce_fifo": 0,
                }
            ]
            * 2
        },
        T.STATUS,
        {"words": [200, 0, 0, 202, 0, 400, 0, 1]},
    ),
}


def rates(generation: str, model: str, nonce: dict, status_type, status: dict) -> dict:
    nonce_frame = encode_packet(T.NONCE, nonce, dialect=generation, from_device=True)
    status_frame = encode_packet(status_type, status, dialect=generation, from_device=True)

    def decode():
        decode_packet(nonce_frame, from_device=True, dialect=generation).fields()
        decode_packet(status_frame, from_device=True, dialect=generation).fields()

    poll_fields = {"module_id": 0} if generation == "avalon2" else {}

    def encode():
        encode_packet(T.POLLING, poll_fields, dialect=generation)
        encode_packet(T.POLLING, data=bytes(32), dialect=generation)

    return {"decode": median_rate(decode, N), "encode": median_rate(encode, N)}


def detection_s(model: str, link: str, modules: int) -> float:
    times = []
    for seed in range(5):
        emu = Emulator(modules=modules, model=model, seed=seed, chip_thread=False)
        start = time.perf_counter()
        with asicdrv.open(f"emu://?link={link}", emulator=emu, start=False):
            times.append(time.perf_counter() - start)
        emu.close()
    return statistics.median(times)


def main() -> None:
    results = {g: rates(g, *case) for g, case in CASES.items()}
    base = results["avalon8"]
    print(
        f"{'generation':<12} {'model':<6} {'decode pairs/s':>15} {'ratio':>6} "
        f"{'encode pairs/s':>15} {'ratio':>6}"
    )
    for g, r in results.items():
        d, e = r["decode"] / base["decode"], r["encode"] / base["encode"]
        flag = "" if min(d, e) >= 0.9 else "  BELOW 0.90"
        print(
            f"{g:<12} {CASES[g][0]:<6} {r['decode']:>15,.0f} {d:>6.2f} "
            f"{r['encode']:>15,.0f} {e:>6.2f}{flag}"
        )
    for model, link, modules in (
        ("851", "inprocess", 6),
        ("741", "inprocess", 6),
        ("910", "inprocess", 6),
        ("MM41", "inprocess", 6),
        ("851", "usb", 6),
        ("851", "i2c", 6),
        ("MM2", "serial", 4),
        ("nano", "usb", 1),
    ):
        print(
            f"open a {modules}-module {model} chain over {link} (detect + configure): "
            f"{detection_s(model, link, modules) * 1000:.0f} ms median of 5"
        )


if __name__ == "__main__":
    main()
