"""Device-layer figures on one core.

Run: python benchmarks/bench_device.py
- host nonce verification rate (NONCE payload -> verified Share), median of 7 runs
- time to build a job's packets (12 merkle branches, 250-byte coinbase), median
- CPU used by a 6-module emulated chain polled at the default 20 ms (emulator hashing off,
  so the figure is the host's work plus the emulator's wire handling)
- shares/s delivered end to end from the emulator (nonce mask 12)
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from _timing import report  # noqa: E402

import asicdrv  # noqa: E402
from asicdrv.bitcoin.core import hash_value, mask_target  # noqa: E402
from asicdrv.device.jobs import build_job_packets  # noqa: E402
from asicdrv.device.shares import NonceVerifier  # noqa: E402
from asicdrv.mining.stratum import StratumJob  # noqa: E402
from asicdrv.bitcoin.known_blocks import BLOCK_170, notify_params  # noqa: E402


def synthetic_job(difficulty=2**-30) -> StratumJob:
    coinb1, coinb2 = bytes(range(100)), bytes(range(142))  # 100 + 4 + 4 + 142 = 250
    params = [
        "bench",
        "00" * 32,
        coinb1.hex(),
        coinb2.hex(),
        [bytes([i]) * 32 for i in range(12)],
        "20000000",
        "1d00ffff",
        "5f5e1000",
        True,
    ]
    params[4] = [b.hex() for b in params[4]]
    return StratumJob.from_notify(
        params, extranonce1="01020304", extranonce2_size=4, difficulty=difficulty
    )


def valid_nonces(job, count, mask=8):
    found, nonce = [], 0
    while len(found) < count:
        for n2 in range(4):
            if hash_value(job.hash(n2, 0, nonce)) <= mask_target(mask):
                found.append(
                    {
                        "job_crc": job.job_crc,
                        "pool": 0,
                        "nonce2": n2,
                        "ntime_offset": 0,
                        "nonce": nonce,
                        "miner": 0,
                        "chip": 0,
                    }
                )
        nonce += 1
    return found


def verification_rate(cached: bool = True) -> float:
    """Nonces from four nonce2 values (the merkle root cached per nonce2, as in practice)
    or, with ``cached=False``, every nonce paying for its coinbase hash and merkle path."""
    job = synthetic_job()
    nonces = valid_nonces(job, 400)
    rates = []
    for _ in range(7):
        verifier = NonceVerifier()
        verifier.add_job(job)
        entry = verifier.find_job(job.job_crc, 0)
        start = time.perf_counter()
        for _ in range(25):
            entry.seen.clear()
            for nonce in nonces:
                if not cached:
                    entry.roots.clear()
                verifier.verify(nonce, 1)
        rates.append(25 * len(nonces) / (time.perf_counter() - start))
    return statistics.median(rates)


def job_build_ms() -> float:
    job = synthetic_job()
    times = []
    for _ in range(201):
        start = time.perf_counter()
        build_job_packets(job, clean=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def chain_cpu(seconds=5.0) -> tuple[float, float]:
    with asicdrv.open("emu://?modules=6&hashrate=0") as chain:
        time.sleep(0.5)
        polls0, cpu0, wall0 = chain.poll_count, time.process_time(), time.perf_counter()
        time.sleep(seconds)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        polls = chain.poll_count - polls0
    return 100 * cpu / wall, polls / wall


def shares_per_second(seconds=5.0) -> float:
    params, en1, size, _ = notify_params(BLOCK_170)
    job = StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size, difficulty=2**-24)
    with asicdrv.open("emu://?modules=1&nonce_mask=12&hashrate=200000") as chain:
        chain.submit(job)
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            if chain.next_share(timeout=0.5):
                count += 1
        return count / (time.perf_counter() - start)


def main() -> None:
    report(
        "host nonce verification (12 branches, 250 B cb)",
        verification_rate(),
        "nonce/s",
        target=50_000,
    )
    report(
        "  same, merkle root recomputed for every nonce",
        verification_rate(False),
        "nonce/s",
        target=50_000,
    )
    ms = job_build_ms()
    print(
        f"{'job packets build (12 branches, 250 B coinbase)':<48} {ms:>14.3f} ms"
        f"{'  ok' if ms <= 1.0 else '  ABOVE 1 ms'}"
    )
    percent, polls = chain_cpu()
    print(
        f"{'6-module chain at 20 ms polling: CPU':<48} {percent:>14.1f} % of one core"
        f"{'  ok' if percent < 10 else '  ABOVE 10 %'}  ({polls:.0f} polls/s)"
    )
    report("shares/s end to end (1 module, mask 12)", shares_per_second(), "shares/s")


if __name__ == "__main__":
    main()
