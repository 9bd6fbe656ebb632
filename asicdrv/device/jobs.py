"""A stratum job -> the MM packets that carry it, in cgminer's order
(``avalon8_stratum_pkgs`` then ``avalon8_stratum_finish``):
STATIC, TARGET, JOB_ID (only when it changes), COINBASE (midstate, then 32-byte chunks),
MERKLES, HEADER x 4, JOB_FIN.  All are broadcast.
"""

from __future__ import annotations

from firmware_protocols import PacketType as T, encode_packet
from ..bitcoin import sha256
from ..bitcoin.core import target_for_difficulty, target_to_bytes_le
from ..models import DIFFMAX_AVALON8
from ..mining.stratum import MERKLE_OFFSET, StratumJob

TARGET_DIFFICULTY_CAP = DIFFMAX_AVALON8


def nonce2_range_for(job: StratumJob, start: int) -> int:
    """cgminer's range: 0xffffff for 3-byte nonce2, else 0xffffffff, less the start."""
    full = 0xFFFFFF if job.extranonce2_size == 3 else 0xFFFFFFFF
    return max(full - start, 0)


def build_job_packets(
    job: StratumJob,
    *,
    nonce2_start: int = 0,
    nonce2_range: int | None = None,
    clean: bool = False,
    pool: int = 0,
    send_job_id: bool = True,
    difficulty_cap: int | None = None,
) -> list[bytes]:
    """``difficulty_cap``: the TARGET cap of the modules that get the job (DIFFMAX: Avalon 7
    500, Avalon 8 and later 2700; default the Avalon 8's)."""
    if nonce2_range is None:
        nonce2_range = nonce2_range_for(job, nonce2_start)
    packets = [
        encode_packet(
            T.STATIC,
            {
                "coinbase_len": job.coinbase_len,
                "nonce2_offset": job.nonce2_offset,
                "nonce2_size": job.mm_nonce2_size,
                "merkle_offset": MERKLE_OFFSET,
                "merkle_count": len(job.merkle_branch),
                "nonce2_start": nonce2_start,
                "nonce2_range": nonce2_range,
                "clean": int(clean),
            },
        )
    ]
    cap = TARGET_DIFFICULTY_CAP if difficulty_cap is None else difficulty_cap
    target = target_for_difficulty(min(job.difficulty, cap))
    packets.append(encode_packet(T.TARGET, {"target": target_to_bytes_le(target)}))
    if send_job_id:
        packets.append(encode_packet(T.JOB_ID, {"job_crc": job.job_crc, "pool": pool}))
    packets += job_body_packets(job)
    packets.append(encode_packet(T.JOB_FIN, {}))
    return packets


def job_body_packets(
    job: StratumJob, *, dialect="avalon8", whole_coinbase: bool = False
) -> list[bytes]:
    """COINBASE (midstate, then 32-byte chunks), MERKLES, HEADER x 4: the same in every
    MM generation (``avalon4_stratum_pkgs`` .. ``avalon8_stratum_pkgs``).  With
    ``whole_coinbase`` (Avalon 2/3, ``driver-avalon2.c``) the coinbase goes whole from
    IDX 1, no midstate."""
    template = job.coinbase_template
    prehash = 0 if whole_coinbase else job.prehash_length
    tail = template[prehash:]
    chunks = [tail[i : i + 32] for i in range(0, len(tail), 32)]
    if not whole_coinbase:
        chunks.insert(0, sha256.midstate(template[:prehash]))
    count = len(chunks)
    packets = [
        encode_packet(T.COINBASE, data=chunk, idx=i, cnt=count, dialect=dialect)
        for i, chunk in enumerate(chunks, 1)
    ]
    n = len(job.merkle_branch)
    packets += [
        encode_packet(T.MERKLES, data=branch, idx=i, cnt=n, dialect=dialect)
        for i, branch in enumerate(job.merkle_branch, 1)
    ]
    header = job.header_bin
    packets += [
        encode_packet(
            T.HEADER, data=header[i * 32 : (i + 1) * 32], idx=i + 1, cnt=4, dialect=dialect
        )
        for i in range(4)
    ]
    return packets
