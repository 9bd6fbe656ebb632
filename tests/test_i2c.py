"""Modules on a controller's own I2C bus (cgminer --avalonX-iic-detect): the i2c-dev
calls, and whole chains over the emulator's in-process bus."""

import errno

import pytest

import asicdrv
from asicdrv import DeviceGone, DeviceNotFound
from asicdrv.mining.stratum import StratumJob
from asicdrv.transport.i2c_linux import I2C_SLAVE, I2CLink, LinuxI2CBus
from blocks import BLOCK_170, notify_params
from conftest import FAST, run
from firmware_protocols import PacketType as T, encode_packet


def test_i2c_dev_calls_are_those_of_cgminer(mocker):
    """ioctl(fd, I2C_SLAVE = 0x0703, address), write the frame, read 40 bytes; a module
    that does not acknowledge (ENXIO, EREMOTEIO) is no reply; other errors lose the bus."""
    mocker.patch("os.open", return_value=7)
    ioctl = mocker.patch("fcntl.ioctl")
    write = mocker.patch("os.write")
    reply = encode_packet(T.ACKDETECT, {"dna": bytes(8), "version": "851-x"})
    read = mocker.patch("os.read", side_effect=[OSError(errno.ENXIO, "no ack"), reply])
    link = I2CLink(LinuxI2CBus("/dev/i2c-1"), "i2c:///dev/i2c-1")
    detect = encode_packet(T.DETECT, {"module_id": 1})
    assert link.xfer(0, detect, read=True) == reply  # read again after no ack
    ioctl.assert_called_once_with(7, I2C_SLAVE, 0)  # the address is kept
    write.assert_called_once_with(7, detect)
    assert read.call_args_list == [mocker.call(7, 40)] * 2
    link.xfer(3, detect, read=False)
    assert ioctl.call_args == mocker.call(7, I2C_SLAVE, 3)
    mocker.patch("os.read", side_effect=OSError(errno.ENODEV, "gone"))
    with pytest.raises(DeviceGone, match="bus failed"):
        link.xfer(3, detect, read=True)


def test_a_missing_bus_is_one_clear_line():
    with pytest.raises(DeviceNotFound, match="i2c-dev"):
        asicdrv.open("i2c:///dev/i2c-no-such-bus")
    out = run("status", "--device", "i2c:///dev/i2c-no-such-bus")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "i2c-dev" in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("model", ["851", "741", "MM41", "910S"])
def test_every_generation_mines_over_the_i2c_link(model):
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    job = StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=1 / 65536
    )
    url = f"emu://?link=i2c&modules=2&model={model}&nonce_start={BLOCK_170['nonce']}&nonce_mask=32"
    with asicdrv.open(url, **FAST) as chain:
        assert [m.model for m in chain.modules] == [model, model]
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        share = chain.next_share(timeout=20)
    assert share is not None and share.hash == BLOCK_170["hash"]
