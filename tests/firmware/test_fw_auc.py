"""Our unmodified driver through Canaan's own AUC firmware (tag AUC-20151208, built and run
by auc_harness.py), its I2C master reaching our emulated modules."""

from __future__ import annotations

import contextlib
import json

import pytest
import usb.core

import asicdrv
from asicdrv.cli import main
from asicdrv.emulator import Emulator
from asicdrv.emulator.usb_backend import EmulatedUsbBackend
from asicdrv.transport.usb_auc import AucLink
from auc_harness import AUC_REF, FirmwareAuc
from blocks import BLOCK_170
from conftest import FAST
from test_fw_avalon2 import block_job

pytestmark = pytest.mark.firmware


@contextlib.contextmanager
def auc_chain(model="MM41", modules=2, **emulator):
    emu = Emulator(model=model, modules=modules, seed=1, **emulator)
    auc = FirmwareAuc(emu.i2c_xfer, emu.bus.answers)
    try:
        with asicdrv.open("usb://", backend=EmulatedUsbBackend([auc]), **FAST) as chain:
            yield chain, auc, emu
    finally:
        auc.close()
        emu.close()


def test_the_driver_finds_and_mines_through_the_auc_firmware():
    """Enumeration (the firmware's own descriptors: CDC, bulk 0x01/0x81), INIT with the
    firmware's version, DETECT and addressing through its I2C master, then block 170 from
    the second module."""
    with auc_chain(nonce_start=BLOCK_170["nonce"], nonce_mask=32) as (chain, auc, emu):
        assert auc.strings[2] == "USB2IIC Converter"
        assert [m.model for m in chain.modules] == ["MM41", "MM41"]
        assert chain.auc_info()["version"] == AUC_REF
        job, nonce2 = block_job(BLOCK_170)
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        share = chain.next_share(timeout=20)
        status = chain.status()
    assert share is not None and share.hash == BLOCK_170["hash"]
    assert all(m.state == "ok" and m.temperature_c is not None for m in status.modules)
    assert any(kind == "W" for kind, _, _ in auc.i2c_log)  # it went over the I2C bus


def test_the_selftest_passes_a_healthy_chain_behind_the_auc_firmware(capsys):
    """`asicdrv selftest` reaches the firmware through a registered link scheme: AUC info,
    every module's checks and its known answer, no false failure."""
    emu = Emulator(model="851", modules=2, seed=1, nonce_start=396000)
    auc = FirmwareAuc(emu.i2c_xfer, emu.bus.answers)
    try:
        backend = EmulatedUsbBackend([auc])

        def opener(url, backend=backend):
            return AucLink(usb.core.find(idVendor=0x29F1, backend=backend))

        asicdrv.register_link_scheme("fwauc", opener)
        main(["selftest", "--json", "--expect", "2", "--device", "fwauc://x?polling_delay=0.005"])
        report = json.loads(capsys.readouterr().out)
    finally:
        auc.close()
        emu.close()
    assert report["ok"], [c for c in report["checks"] if not c["ok"]]
    ran = {c["check"] for c in report["checks"] if not c["skipped"]}
    assert {"AUC info", "known answer", "chip test"} <= ran
