"""Avalon 2/3 (MM2, MM3) against Canaan's own firmware, built and run by harness.py: the
driver, unmodified, on a serial line whose modules run the vendor's code."""

from __future__ import annotations

import contextlib
import time

import pytest

import asicdrv
from asicdrv.mining.stratum import StratumJob
from blocks import BLOCK_170, GENESIS, notify_params
from conftest import FAST
from harness import FirmwareModule, SerialLine, build

pytestmark = pytest.mark.firmware


def block_job(block):
    params, en1, size, nonce2 = notify_params(block)
    job = StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=1 / 65536
    )
    return job, nonce2


@contextlib.contextmanager
def firmware_line(model: str, modules: int = 1, **settings):
    elf = build(model)
    mods = [FirmwareModule(elf, module_id=i, **settings) for i in range(modules)]
    line = SerialLine(mods)
    try:
        for m in mods:
            m.wait_event("READY", timeout=10)  # boot (and the MM3's chip test) is over
        yield line, mods
    finally:
        line.close()
        for m in mods:
            m.close()


@pytest.mark.parametrize("model", ["MM3", "MM2"])
@pytest.mark.parametrize("block", [BLOCK_170, GENESIS], ids=["block170", "genesis"])
def test_the_vendor_firmware_mines_a_known_block_through_the_driver(model, block):
    nonces = [block["nonce"]]
    with firmware_line(model, nonces=nonces) as (line, mods):
        with asicdrv.open(line.url, **FAST) as chain:
            assert [m.model for m in chain.modules] == [model]
            assert chain.modules[0].version == mods[0].version
            job, nonce2 = block_job(block)
            chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
            share = chain.next_share(timeout=20)
    assert share is not None and share.hash == block["hash"]
    assert mods[0].events("FOUND")
