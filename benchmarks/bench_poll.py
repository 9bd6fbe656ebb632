"""Host cost of one poll, and the poll rate against an emulator that hashes.

Run: python benchmarks/bench_poll.py
- host microseconds per poll with recorded replies played back (no emulator in the loop):
  the POLLING frame, the reply decoded into readings, the protection checks; the mix of
  replies is what an 851 sends (status rotation and nonces)
- payload decode with named fields, frames per second (the hot reply types)
- polls per second on one module with the emulator hashing at its default rate and at
  200,000 hashes/s (the chips hash on their own thread, not in the host's poll)
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _timing import report  # noqa: E402

import asicdrv  # noqa: E402
from asicdrv import Emulator  # noqa: E402
from asicdrv.device.chain import Chain  # noqa: E402
from asicdrv.device.protection import protect  # noqa: E402
from asicdrv.bitcoin.known_blocks import GENESIS, notify_params  # noqa: E402
from firmware_protocols import PacketType as T, decode_packet  # noqa: E402


def record_replies(count: int = 2000) -> tuple[bytes, list[bytes]]:
    """An ACKDETECT and ``count`` poll replies from a mining emulator."""
    emu = Emulator(seed=3, nonce_mask=12, hashrate=100_000)
    params, en1, size, _ = notify_params(GENESIS, job_id="rec")
    job = asicdrv.StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=2**-20
    )
    with asicdrv.open("emu://", emulator=emu, polling_delay=0.002) as chain:
        chain.submit(job)
        time.sleep(3)
        frames = [f for _, d, f in emu.traffic.frames if d == "<" and len(f) == 40]
    ack = next(f for f in frames if f[2] == T.ACKDETECT)
    replies = [f for f in frames if f[2] not in (T.ACKDETECT,)][-count:]
    emu.close()
    return ack, replies


class PlaybackLink:
    """Answers DETECT once with a recorded ACKDETECT and every poll with the next recorded
    reply; everything else is swallowed."""

    multi_module = True
    name = "playback"

    def __init__(self, ack: bytes, replies: list[bytes]):
        self.ack, self.replies, self.i = ack, replies, 0

    def xfer(self, address, frame, read, patience=None):
        if not read:
            return None
        if frame[2] == T.DETECT:
            ack, self.ack = self.ack, None
            return ack
        if frame[2] == T.POLLING and address == 1:
            reply = self.replies[self.i % len(self.replies)]
            self.i += 1
            return reply
        return None

    def info(self):
        return {}

    def close(self):
        pass


def host_us_per_poll(ack, replies, polls=20_000) -> list[float]:
    chain = Chain(PlaybackLink(ack, replies), start=False, apply_settings=True)
    rt = next(iter(chain._modules.values()))
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(polls):
            chain._poller.poll(rt, False)
            protect(rt, chain.overheat_c, chain.min_cutoff_s)
        runs.append((time.perf_counter() - start) / polls * 1e6)
    return runs


def decode_with_fields(replies, rounds=20) -> list[float]:
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(rounds):
            for frame in replies:
                decode_packet(frame, from_device=True).fields()
        runs.append(rounds * len(replies) / (time.perf_counter() - start))
    return runs


def poll_rate(hashrate: float, seconds: float = 4.0) -> float:
    emu = Emulator(seed=4, nonce_mask=10, hashrate=hashrate)
    params, en1, size, _ = notify_params(GENESIS, job_id="rate")
    job = asicdrv.StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=2**-22
    )
    with asicdrv.open("emu://", emulator=emu) as chain:  # the default 20 ms delay
        chain.submit(job)
        time.sleep(1)
        before = chain.poll_count
        time.sleep(seconds)
        rate = (chain.poll_count - before) / seconds
    emu.close()
    return rate


if __name__ == "__main__":
    ack, replies = record_replies()
    kinds = sorted({T(f[2]).name for f in replies})
    print(f"recorded {len(replies)} replies: {', '.join(kinds)}")
    us = host_us_per_poll(ack, replies)
    print(
        f"host us per poll (recorded replies): median {statistics.median(us):.1f} us "
        f"(runs {', '.join(f'{u:.1f}' for u in us)}); "
        f"{statistics.median(us) * 1000 / 1e6 * 100:.1f} % of a core at 1,000 polls/s"
    )
    report(
        "decode with fields (median of 7)",
        statistics.median(decode_with_fields(replies)),
        "frames/s",
    )
    for rate in (50_000, 200_000):
        runs = [poll_rate(rate) for _ in range(3)]
        print(
            f"polls/s, emulator hashing at {rate:,} H/s: median "
            f"{statistics.median(runs):.1f} ({', '.join(f'{r:.1f}' for r in runs)})"
        )
