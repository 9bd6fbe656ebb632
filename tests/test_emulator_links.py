"""The emulator through the real client libraries: pyusb on its backend, pyserial on its pty."""

import errno
import time

import pytest
import serial
import usb.core
import usb.util

from asicdrv.emulator import Emulator
from firmware_protocols import PacketType as T, auc, decode_packet, encode_packet


def open_auc(emu):
    dev = usb.core.find(idVendor=0x29F1, idProduct=0x33F2, backend=emu.usb_backend())
    assert dev is not None
    dev.set_configuration()
    return dev


def auc_call(dev, packet):
    dev.write(auc.EP_OUT, packet, auc.USB_TIMEOUT_MS)
    return bytes(dev.read(auc.EP_IN, 64, auc.USB_TIMEOUT_MS))


def test_usb_descriptors_and_strings():
    dev = open_auc(Emulator())
    assert (dev.manufacturer, dev.product) == ("CANAAN", "USB2IIC Converter")
    cfg = dev.get_active_configuration()
    intf = cfg[(1, 0)]
    eps = sorted(e.bEndpointAddress for e in intf)
    assert eps == [0x01, 0x81]
    assert all(usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK for e in intf)


def test_auc_session_over_pyusb():
    emu = Emulator(modules=2, seed=9)
    dev = open_auc(emu)
    assert auc.reply_data(auc_call(dev, auc.build_reset())) == b""
    assert auc.reply_data(auc_call(dev, auc.build_deinit())) == b""
    version = auc.reply_data(auc_call(dev, auc.build_init()))
    assert version.startswith(b"AUC-") and len(version) == 12
    info = auc.decode_info(auc.reply_data(auc_call(dev, auc.build_info())))
    assert 200 < info["temp_adc"] < 1000
    ack = auc.reply_data(
        auc_call(dev, auc.build_xfer(0, encode_packet(T.DETECT, {"module_id": 1}), 40))
    )
    assert decode_packet(ack).type == T.ACKDETECT
    status = auc.reply_data(auc_call(dev, auc.build_xfer(1, encode_packet(T.POLLING, {}), 40)))
    assert decode_packet(status).type == T.STATUS
    # XFER to an address nobody holds: a short reply (just the 4-byte header)
    empty = auc_call(dev, auc.build_xfer(4, encode_packet(T.POLLING, {}), 40))
    assert empty[0] == 4
    assert emu.bridge.clock_hz == 400_000


def test_reading_with_nothing_queued_times_out():
    dev = open_auc(Emulator())
    start = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(auc.EP_IN, 64, 50)
    assert time.monotonic() - start >= 0.04


def test_disconnect_fault_and_unplug():
    emu = Emulator(faults="disconnect:3")
    dev = open_auc(emu)
    auc_call(dev, auc.build_reset())  # transfers 1 and 2
    with pytest.raises(usb.core.USBError) as info:
        auc_call(dev, auc.build_init())
    assert info.value.errno == errno.ENODEV
    assert usb.core.find(idVendor=0x29F1, backend=emu.usb_backend()) is None
    emu.reconnect()
    assert usb.core.find(idVendor=0x29F1, backend=emu.usb_backend()) is not None
    emu.disconnect()
    assert usb.core.find(idVendor=0x29F1, backend=emu.usb_backend()) is None


def read_frame(port):
    data = port.read(40)
    assert len(data) == 40, f"short read: {data!r}"
    return decode_packet(data)


def test_serial_pty_with_pyserial_resynchronises_after_garbage():
    emu = Emulator(seed=7)
    with emu.serve_serial() as server, serial.Serial(server.path, 115200, timeout=2) as port:
        port.write(b"\x00\xffCNgarbage" + encode_packet(T.DETECT, {"module_id": 1}))
        ack = read_frame(port)
        assert ack.type == T.ACKDETECT and ack.fields()["version"].startswith("851")
        # a corrupted frame, then a good one split across two writes
        bad = bytearray(encode_packet(T.POLLING, {}))
        bad[10] ^= 1
        good = encode_packet(T.POLLING, {})
        port.write(bytes(bad) + good[:7])
        port.flush()
        time.sleep(0.05)
        port.write(good[7:])
        assert read_frame(port).type == T.STATUS
        assert server.sync.crc_errors >= 1
        # DETECT again (host restart) is answered on a serial line
        port.write(encode_packet(T.DETECT, {"module_id": 1}))
        assert read_frame(port).type == T.ACKDETECT


def test_emulate_command_serves_a_pty_until_stopped():
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "asicdrv", "emulate", "--serial", "--seconds", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/")
        with serial.Serial(path, 115200, timeout=3) as port:
            port.write(encode_packet(T.DETECT, {"module_id": 1}))
            assert read_frame(port).type == T.ACKDETECT
    finally:
        proc.terminate()
        proc.wait(timeout=10)


from hypothesis import given, settings, strategies as st  # noqa: E402


# no INIT: one with a delay of minutes makes the AUC busy-wait into its watchdog reset,
# which the emulator does not model (docs/emulator.md, "The AUC")
NOT_INIT = st.binary(min_size=0, max_size=64).filter(lambda p: p[3:4] != b"\xa1")


@settings(max_examples=40, deadline=None)
@given(junk=st.lists(NOT_INIT, max_size=4))
def test_auc_bridge_survives_garbage_packets(junk):
    """Whatever the host writes, the AUC answers it (an unknown command: INVALID_CMD) or
    hangs in a transfer a RESET aborts (an XFER after a DEINIT, a 0xA3 without START), as
    its firmware does; a host that RESETs after each request it got no answer to, then
    INITs, has it back with its version."""
    emu = Emulator(seed=1)
    dev = open_auc(emu)
    for packet in junk:
        dev.write(auc.EP_OUT, packet, 200)
        if not drain(dev):  # it hangs: a RESET aborts the transfer (ERROR), then answers OK
            dev.write(auc.EP_OUT, auc.build_reset(), 200)
            assert drain(dev) == 2
    version = auc.reply_data(auc_call(dev, auc.build_init()))
    assert version == b"AUC-20151208"


def drain(dev) -> int:
    """Read every reply waiting on the AUC's IN endpoint; how many came."""
    count = 0
    while True:
        try:
            reply = bytes(dev.read(auc.EP_IN, 64, 10))
        except usb.core.USBTimeoutError:
            return count
        # as long as its length byte says (which wraps at 256: 4 + a 252-byte read is 0)
        assert len(reply) == (min(reply[0], 64) if reply else 0)
        count += 1


def test_each_hung_request_needs_its_own_reset():
    """cdc_i2c.c clears the reset request after every request it handles: a RESET aborts
    the transfer that hangs, the next one that hangs waits for another RESET (and the
    requests behind it, an INIT too, wait with it)."""
    dev = open_auc(Emulator(seed=1))
    no_start = bytes((4, 0, 0, 0xA3))  # a 0xA3 write whose options ask for no START
    dev.write(auc.EP_OUT, no_start, 200)
    dev.write(auc.EP_OUT, no_start, 200)
    dev.write(auc.EP_OUT, auc.build_reset(), 200)
    replies = [bytes(dev.read(auc.EP_IN, 64, 200))]
    assert replies[0][3] == auc.AucStatus.ERROR  # the first, aborted
    dev.write(auc.EP_OUT, auc.build_init(), 200)
    assert drain(dev) == 0  # the second hangs: neither the RESET nor the INIT is answered
    dev.write(auc.EP_OUT, auc.build_reset(), 200)
    # in ring order: the second aborted, the first RESET, the INIT, the second RESET
    replies = [bytes(dev.read(auc.EP_IN, 64, 200)) for _ in range(4)]
    assert [r[3] for r in replies] == [auc.AucStatus.ERROR] + [auc.AucStatus.OK] * 3
    assert auc.reply_data(replies[2]) == b"AUC-20151208"


def test_model_names_are_matched_whatever_their_case():
    """A user types `model=lc3` or `mm41`: the model table's LC3 and MM41, not an error; an
    unknown name is still refused with the list."""
    import pytest

    import asicdrv
    from asicdrv.emulator import Emulator, FaultSpecError

    assert [s.name for s in Emulator(model="lc3,910s", modules=2, seed=1).specs] == ["LC3", "910S"]
    with asicdrv.open("emu://?model=NANO") as chain:
        assert chain.modules[0].model == "nano"
    for wrong in ("lc4", "", ["lc3"], None):
        with pytest.raises(FaultSpecError, match="LC3"):
            Emulator(model=wrong)
