"""Avalon nano 2 and Avalon4 mini: USB HID sticks that take work, not jobs (spec section 7,
cgminer driver-avalon-miner.c).  Headers are built here with hashlib and struct alone, CRCs
with the bitwise CRC-16/XMODEM of tests/test_generations.py."""

import hashlib
import struct
import time

import pytest
import usb.core
import usb.util

import asicdrv
from asicdrv import LimitError
from asicdrv.emulator import Emulator
from asicdrv.mining.stratum import StratumJob
from blocks import BLOCK_170, notify_params
from conftest import FAST, run, wait_for
from test_generations import be32, frame, sent, xmodem

NEAR = BLOCK_170["nonce"] - 400  # where the emulated stick starts hashing
# a 4-mini's chip hashes a work only until the next batch replaces it (about 90 ms at the
# emulator's 5 kH/s shared by five chips): start its chips closer
NEAR_MINI = BLOCK_170["nonce"] - 30


def block_header(nonce=0):
    """Block 170's header from its fields (hashlib for the merkle root, as in
    tests/test_known_answer.py)."""
    b = BLOCK_170
    root = hashlib.sha256(hashlib.sha256(b["coinbase"]).digest()).digest()
    for branch in b["branch"]:
        root = hashlib.sha256(hashlib.sha256(root + branch).digest()).digest()
    return (
        struct.pack("<I", b["version"])
        + bytes.fromhex(b["prevhash"])[::-1]
        + root
        + struct.pack("<III", b["ntime"], b["nbits"], nonce)
    )


def block_job():
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    return StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=1.0
    ), nonce2


def test_work_frames_carry_the_midstate_and_the_header_tail():
    """WORK (0x24) frame 1: the SHA-256 state after the header's first 64 bytes, words
    H7..H0; frame 2: the work id, then d[20..31] = nBits, nTime, merkle tail as in the
    header.  Finishing the hash from what the frames carry gives block 170's hash."""
    job, nonce2 = block_job()
    emu = Emulator(model="nano", seed=6, hashrate=0)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        deadline = time.monotonic() + 5
        while len(sent(emu, 0x24)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    first, second = sent(emu, 0x24)[:2]
    header = block_header(BLOCK_170["nonce"])
    assert first[2:6] == bytes((0x24, 0, 1, 2)) and second[2:6] == bytes((0x24, 0, 2, 2))
    assert xmodem(first[6:38]) == int.from_bytes(first[38:], "big")
    d = second[6:38]
    assert d[0:4] == be32(1) and d[4:20] == bytes(16)
    assert d[20:32] == header[72:76] + header[68:72] + header[64:68]
    from asicdrv.bitcoin import sha256  # the stick's side: resume from the midstate

    words = struct.unpack(">8I", first[6:38])
    state = struct.pack(">8I", *reversed(words))
    first_pass = sha256.finish(state, header[64:80], 64)
    assert hashlib.sha256(first_pass).digest()[::-1].hex() == BLOCK_170["hash"]
    assert hashlib.sha256(header[:64] + header[64:80]).digest() == first_pass


def nonce_report(work_id, chip, nonce):
    """One NONCE_M report: work id, 2 zero bytes, chip, ntime, the nonce + 0x4000 as the
    host reads it (big-endian), reserved, three FIFO counts."""
    raw = int.from_bytes(struct.pack("<I", nonce), "big") + 0x4000
    return struct.pack(">IHBBIBBBB", work_id, 0, chip, 0, raw, 0, 1, 1, 1)


@pytest.mark.parametrize("second", ["empty", "unknown work"])
def test_a_hand_built_nonce_report_becomes_the_block(second):
    job, nonce2 = block_job()
    emu = Emulator(model="4-mini", seed=6, hashrate=0)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        deadline = time.monotonic() + 5
        while not sent(emu, 0x24) and time.monotonic() < deadline:
            time.sleep(0.01)
        other = b"\xff" * 16 if second == "empty" else nonce_report(999, 1, 5)
        emu.modules[0].nonces.append(nonce_report(1, 3, BLOCK_170["nonce"]))
        emu.modules[0].nonces.append(other)
        share = chain.next_share(timeout=10)
        unknown = int(second == "unknown work")
        if unknown:  # the report after the share's may come in the next NONCE_M
            assert wait_for(lambda: chain.status().modules[0].rejected.get("unknown_job"), 3)
        status = chain.status().modules[0]
    assert share is not None and share.hash == BLOCK_170["hash"] and share.chip == 3
    assert status.rejected.get("unknown_job", 0) == unknown


def test_nano_status_m_reads_as_its_firmware_fills_it():
    """Avalon-nano master b22b4ec, nano/code/src/hid_main.c (AVAM_P_POLLING, STATUS_M):
    d[0] a3233_freqneeded (MHz), d[4] LED, d[8] -1, d[12] the V_25 ADC, d[16] the V_CORE
    ADC, d[20] i2c_readtemp() (TMP102, whole degC, signed), d[24] V18 << 16 | V09, d[28]
    a3233_power_isenable().  (cgminer reads d[12] as the core and d[20] as an NTC: 25 degC
    would read as 164 degC.)"""
    from asicdrv.generations.nano import NanoReadings
    from asicdrv.models import MODELS
    from firmware_protocols import decode_packet

    readings = NanoReadings(MODELS["nano"])
    status = frame(0x41, be32(280, 0, 0xFFFFFFFF, 512, 209, 25, 558 << 16 | 279, 1))
    readings.apply(decode_packet(status, from_device=True, dialect="avalon_nano"))
    assert readings.chip_volts == [pytest.approx(209 * 3.3 / 1023)]  # 0.674 V
    assert readings.temperature_mm == 25.0
    assert readings.reported_clock == 280 and readings.reported_frequencies == [[280] * 3]
    assert readings.power_enabled is True and readings.power_ok() is None
    cold = frame(0x41, be32(360, 0, 0xFFFFFFFF, 512, 0, (-5) & 0xFFFFFFFF, 0, 0))
    readings.apply(decode_packet(cold, from_device=True, dialect="avalon_nano"))
    assert readings.temperature_mm == -5.0 and readings.power_enabled is False
    assert readings.power_ok() is None  # idle power off is not a power fault


def test_mini_status_m_reads_the_copper_ntc():
    """mini/code/src/hid_main.c STATUS_M: d[16] the 12 V ADC, d[20] the copper NTC, d[24]
    the fan-side NTC, d[28] power good; the firmware's own cut is at copper ADC 200."""
    import math
    from asicdrv.generations.nano import NanoReadings
    from asicdrv.models import MODELS
    from firmware_protocols import decode_packet

    def ntc(adc):  # driver-avalon4.c: R = 10k / (1023 / adc - 1), B 3450, 25 degC
        r = 10000.0 / (1023.0 / adc - 1)
        return 1 / (math.log(r / 10000) / 3450 + 1 / 298.15) - 273.15

    readings = NanoReadings(MODELS["4-mini"])
    status = frame(0x41, be32(1000000, 0, 0xFFFFFFFF, 0x9B, 745, 200, 600, 1))
    readings.apply(decode_packet(status, from_device=True, dialect="avalon_nano"))
    assert readings.temperature_mm == pytest.approx(ntc(200), abs=0.05)  # 66.5 degC
    assert 66 < readings.temperature_mm < 67 and readings.power_ok() is True


def test_mini_settings_are_table_values_sent_to_every_asic():
    """SET_FREQ (0x23): three g_freq_array words, OPT 0 (all ASICs); 263 MHz is 0x282a0447;
    SET_VOLT (0x22): ((0x59 - (6500 - 5000)/125) << 1) | 1 = 0x9b as BE16."""
    emu = Emulator(model="4-mini", seed=6, hashrate=0)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        assert sent(emu, 0x22) == [frame(0x22, struct.pack(">H", 0x9B))]
        chain.set_frequency(263)
        with pytest.raises(LimitError, match="100, 113"):
            chain.set_frequency(260)
        with pytest.raises(LimitError, match="5000..9000"):
            chain.set_voltage_level(9500)
    assert sent(emu, 0x23)[-1] == frame(0x23, be32(*[0x282A0447] * 3))
    assert emu.modules[0].physics.frequencies == [[263] * 3]


def test_the_nano_is_sent_no_settings_and_set_refuses_them():
    """The nano's firmware has no SET_VOLT, SET_FREQ or GET_FREQ handler: nothing of the
    kind goes out, and set says so instead of printing values the stick never runs."""
    emu = Emulator(model="nano", seed=6, hashrate=0)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        for call in (lambda: chain.set_frequency(200), lambda: chain.set_voltage_level(6500)):
            with pytest.raises(LimitError, match="takes no frequency or voltage"):
                call()
        assert chain.settings()[1]["source"] == "firmware"
        assert wait_for(lambda: chain.status().modules[0].extra.get("clock_mhz") == 360)
        assert chain.status().modules[0].frequencies_mhz == [[360] * 3]
    assert not [f for f in sent(emu, 0x22) + sent(emu, 0x23) + sent(emu, 0x25)]
    assert not emu.modules[0].ignored
    with pytest.raises(LimitError, match="takes no frequency"):
        asicdrv.open("emu://?model=nano", frequency=200, **FAST)
    out = run("set", "--device", "emu://?model=nano", "freq", "200")
    assert out.returncode == 2 and "takes no frequency or voltage" in out.stderr


def test_an_idled_nano_hears_nothing_until_its_firmware_powers_off():
    """How its firmware obeys: no WORK, then no frame at all for more than IDLE_TIME (3 s);
    its chip powers off and its STATUS_M says so; WORK again powers it on."""
    job, nonce2 = block_job()
    emu = Emulator(model="nano", seed=6, nonce_start=NEAR)
    stick = emu.modules[0]
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=5)
        assert wait_for(lambda: stick.power_enabled, 5)
        chain.idle(timeout=0)
        idled_at = time.monotonic()
        assert wait_for(lambda: not stick.power_enabled, 6)
        # no frame reached the stick from the moment it was idled until it powered off
        assert stick.silent_since < idled_at + 0.05
        # IDLE_TIME counts from the stick's last frame, which came just before idle()
        # returned (a run had 2.998 s from the return)
        off_after = time.monotonic() - stick.silent_since
        assert wait_for(lambda: chain.status().modules[0].extra["power_enabled"] is False, 3)
        assert not stick.power_enabled  # polls again, still off
        chain.resume()
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=5)
        assert wait_for(lambda: stick.power_enabled, 5)
    assert 3.0 <= off_after < 4.5


def test_a_hot_nano_is_cut_off_by_silence():
    """Past the cutoff (70 degC, above the firmware's own 65 degC loop) the host stops
    work and polls until the stick has powered itself off."""
    emu = Emulator(model="nano", seed=6, hashrate=0)
    stick = emu.modules[0]
    job, nonce2 = block_job()
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=5)
        assert wait_for(lambda: stick.power_enabled, 5)
        stick.physics.temps = [[75.0]]
        stick.physics.thermal_tau_s = 1e9  # hold the heat where it is
        assert wait_for(lambda: chain.status().modules[0].state == "cutoff", 3)
        cut_at = time.monotonic()
        assert wait_for(lambda: not stick.power_enabled, 6)
        assert stick.silent_since < cut_at + 0.05
        assert chain.status().modules[0].power_good is None


@pytest.mark.parametrize("model, product, interface", [("nano", 0x33F3, 0), ("4-mini", 0x40F1, 1)])
def test_sticks_are_told_apart_by_their_usb_ids(model, product, interface):
    emu = Emulator(model=model, seed=6, hashrate=0)
    device = usb.core.find(idVendor=0x29F1, idProduct=product, backend=emu.usb_backend())
    assert device is not None and usb.util.get_string(device, device.iProduct) in (
        "Avalon nano",
        "Avalon4 mini",
    )
    cfg = device.get_active_configuration()
    intf = cfg[(interface, 0)]
    assert intf.bInterfaceClass == 3
    assert [(e.bEndpointAddress, e.bmAttributes, e.wMaxPacketSize) for e in intf] == [
        (0x81, 3, 40),
        (0x01, 3, 40),
    ]
    with asicdrv.open("usb://", backend=emu.usb_backend(), **FAST) as chain:
        assert [m.model for m in chain.modules] == [model]
    emu.close()


@pytest.mark.parametrize("model", ["nano", "4-mini"])
def test_every_stick_mines_block_170(model):
    job, nonce2 = block_job()
    near = NEAR if model == "nano" else NEAR_MINI
    with asicdrv.open(f"emu://?model={model}&nonce_start={near}", **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        share = chain.next_share(timeout=20)
    assert share is not None and share.hash == BLOCK_170["hash"]


def test_selftest_and_scan_on_a_stick():
    url = f"emu://?model=nano&nonce_start={NEAR}"
    out = run("selftest", "--device", url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "nonce 1889418792 found" in out.stdout and "no fan of its own" in out.stdout
    out = run("scan", "--device", "emu://?model=4-mini")
    assert out.returncode == 0 and "4-mini" in out.stdout


def test_a_nano_nonce_labelled_with_the_next_work_is_still_a_share():
    """The nano labels every nonce with its latest WORK's id, and its chip finishes the old
    work while the new one crosses the UART (hid_main.c gwork_id, avalon_a3233.c; shown
    against its firmware in tests/firmware): a nonce of the first work read after the
    second went out must become the first work's share, not a hardware error."""
    job, nonce2 = block_job()
    emu = Emulator(model="nano", seed=6, hashrate=0)
    stick = emu.modules[0]
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=1)
        assert wait_for(lambda: len(sent(emu, 0x24)) >= 4, 5)  # both works went out
        with stick.lock:
            assert stick.work_id == (2).to_bytes(4, "big") + bytes(2)
            stick.uart_ring.append(BLOCK_170["nonce"])  # found for work 1
        share = chain.next_share(timeout=5)
        status = chain.status().modules[0]
    assert share is not None and share.hash == BLOCK_170["hash"]
    assert status.hw_errors == 0 and not status.rejected


def mini_frames(emu, *frames):
    """Hand-built frames to the emulated stick's OUT endpoint; the replies read back."""
    replies = []
    for data in frames:
        emu.auc.write(0x01, data)
        if emu.modules[0].replies:
            replies.append(emu.auc.read(0x81, 40, 10))
    return replies


def test_emulated_mini_powers_off_after_its_idle_time_and_while_hot():
    """hid_main.c: 3 s without a frame, or the copper NTC at ADC 200 (66 degC) or below:
    voltage off (0xff), every PLL word 0; SET_VOLT ignored until it reads 230 (60 degC)."""
    from emu_wire import FakeClock

    clock = FakeClock()
    emu = Emulator(model="4-mini", seed=6, hashrate=0, clock=clock)
    stick = emu.modules[0]
    on = frame(0x22, bytes((0, 0x9B)))
    mini_frames(emu, frame(0x10, b""), on, frame(0x23, bytes.fromhex("1e278447" * 3)))
    assert stick.voltage == 0x9B and stick.freq_words[0] == [0x1E278447] * 3
    clock.advance(3.5)
    emu.advance()
    assert stick.voltage == 0xFF and stick.freq_words[0] == [0, 0, 0]
    mini_frames(emu, on)
    assert stick.voltage == 0x9B
    stick.physics.temps = [[70.0] * 5]
    stick.physics.thermal_tau_s = 1e9  # hold the heat where it is
    emu.advance()
    mini_frames(emu, on)
    assert stick.voltage == 0xFF and stick.too_hot
    stick.physics.temps = [[40.0] * 5]
    emu.advance()
    mini_frames(emu, on)
    assert stick.voltage == 0x9B and not stick.too_hot


def test_a_report_of_work_id_0_is_the_minis_boot_test_not_a_hardware_error():
    """The 4-mini's power-on core test runs its golden work under id 0 and leaves the
    answers in its chips (shown against its firmware in tests/firmware); a host whose first
    batch reaches unpowered chips reads them back.  Never ours (our ids start at 1): they
    are counted as boot_test, not as hardware errors."""
    emu = Emulator(model="4-mini", seed=6, hashrate=0)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        with emu.modules[0].lock:
            emu.modules[0].nonces.append(nonce_report(0, 2, 0xA2870100))
        assert wait_for(lambda: chain.status().modules[0].rejected.get("boot_test") == 1, 3)
        status = chain.status().modules[0]
    assert status.hw_errors == 0 and status.chip_hw_errors == [[0] * 5]


def test_status_shows_no_fan_duty_for_a_stick():
    """The sticks have no fan of their own: status shows "none", not a duty the host's fan
    loop computes and never sends."""
    out = run("status", "--device", "emu://?model=4-mini")
    fan_column = [
        line.split()[4] for line in out.stdout.splitlines() if line.startswith("     1  ok")
    ]
    assert fan_column == ["none"], out.stdout
