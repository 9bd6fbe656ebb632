"""Emulator throughput on one core: SHA-256d hashing rate and frames served.

Run: python benchmarks/bench_emulator.py
Prints medians of 7 runs.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from _timing import median_rate, report  # noqa: E402

from asicdrv.emulator import Emulator  # noqa: E402
from asicdrv.emulator.work import Scanner  # noqa: E402
from asicdrv.device.jobs import build_job_packets  # noqa: E402
from asicdrv.mining.stratum import StratumJob  # noqa: E402
from asicdrv.bitcoin.known_blocks import BLOCK_170, notify_params  # noqa: E402
from firmware_protocols import PacketType as T, encode_packet  # noqa: E402

HASH_BATCH = 200_000


def hashing_rate() -> float:
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    job = StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size)
    emu = Emulator(seed=1, nonce_mask=32)
    emu.i2c_xfer(0, encode_packet(T.DETECT, {"module_id": 1}), 40)
    for frame in build_job_packets(job, clean=True):
        emu.i2c_xfer(0, frame, 0)
    scanner: Scanner = emu.modules[0].scanner
    rates = []
    for _ in range(7):
        start = time.perf_counter()
        scanner.scan(HASH_BATCH)
        rates.append(HASH_BATCH / (time.perf_counter() - start))
    rates.sort()
    return rates[3]


def main() -> None:
    report("emulator SHA-256d (Scanner.scan, mask 32)", hashing_rate(), "hash/s", target=1_000_000)
    emu = Emulator(modules=6, seed=1, hashrate=0)  # wire only: no hashing in the loop
    for module_id in range(1, 7):
        emu.i2c_xfer(0, encode_packet(T.DETECT, {"module_id": module_id}), 40)
    poll = encode_packet(T.POLLING, {})
    report(
        "frames served, in-process POLLING -> reply",
        median_rate(lambda: emu.i2c_xfer(3, poll, 40), 5_000),
        "frames/s",
        target=5_000,
    )
    import usb.core
    from firmware_protocols import auc

    dev = usb.core.find(idVendor=0x29F1, idProduct=0x33F2, backend=emu.usb_backend())
    dev.set_configuration()
    dev.write(1, auc.build_init())
    dev.read(0x81, 64)
    xfer = auc.build_xfer(3, poll, 40)

    def usb_round_trip():
        dev.write(1, xfer, 200)
        dev.read(0x81, 64, 200)

    report(
        "pyusb AUC XFER round trips, timed as the AUC",
        median_rate(usb_round_trip, 100, repeats=3),
        "frames/s",
    )
    emu.bridge.timed = False  # the emulator's own cost, without the modelled wire time
    report(
        "frames served, pyusb AUC XFER round trip",
        median_rate(usb_round_trip, 3_000),
        "frames/s",
        target=5_000,
    )


if __name__ == "__main__":
    main()
