"""Avalon 4 / 4.1 / 5 / 6 (MM40, MM41, MM50, MM60): frames built by hand from
cgminer driver-avalon4.c and Canaan's MM firmware (branch avalon4, docs/families.md), checked
with the bitwise CRC of tests/test_generations.py; device frames carry the CRC low byte
first."""

import struct
import time

import pytest

import asicdrv
from asicdrv import LimitError
from asicdrv.emulator import Emulator
from asicdrv.models import model_for_version
from asicdrv.mining.stratum import StratumJob
from blocks import BLOCK_170, notify_params
from conftest import FAST, wait_for
from firmware_protocols import PacketType as T
from test_generations import be32, frame, sent, xmodem


def a4_set(voltage_word, freqs, start=0, span=0xFFFFFFFF, flags=0x03):
    """driver-avalon4.c avalon4_stratum_set: ntime word 0 (roll = ASIC count), voltage
    word, f0 | f1 << 10 | f2 << 20, nonce2 start and range, flags (bit0 smart speed, bit1
    nonce check), speed_bingo 255, speed_error 3."""
    f0, f1, f2 = freqs
    return frame(
        0x20, be32(0, voltage_word, f0 | f1 << 10 | f2 << 20, start, span) + bytes((flags, 255, 3))
    )


def block_job(difficulty=1 / 65536):
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    return StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=difficulty
    ), nonce2


def test_mm4_version_strings_name_the_model():
    """ACKDETECT versions "TTYYMM-gitid..": the first two characters (spec 5.3)."""
    assert model_for_version("401412-39242210").name == "MM40"
    assert model_for_version("411507-bcf9f610").name == "MM41"
    assert model_for_version("501509-00000000").name == "MM50"
    assert model_for_version("601601-00000000").name == "MM60"


@pytest.mark.parametrize("model, word", [("MM40", 0xC100), ("MM41", 0xA900)])
def test_settings_go_in_one_module_wide_set(model, word):
    """0.6875 V: MM40 ADP3208D rev8(((0x78 - 6875/125) << 1) | 1) << 8 = 0xc100; MM41
    NCP5392P rev8((((0x59 - (6875 - 5000)/125)) << 1) | 1) << 8 = 0xa900."""
    emu = Emulator(model=model, seed=2)
    with asicdrv.open("emu://", emulator=emu, start=False, **FAST) as chain:
        assert sent(emu, T.SYNC) == []  # the A4 host sends no SYNC
        assert sent(emu, T.SET) == [a4_set(word, (200, 200, 200))]
        chain.set_frequency([250, 275, 300])
        assert sent(emu, T.SET)[-1] == a4_set(word, (250, 275, 300))
        with pytest.raises(LimitError, match="whole module"):
            chain.set_frequency(300, miner=1)
        with pytest.raises(LimitError, match="multiple of 125"):
            chain.set_voltage_level(6870)
        with pytest.raises(LimitError, match="4000..9000"):
            chain.set_voltage_level(9125)
        with pytest.raises(LimitError, match="100..1000"):
            chain.set_frequency(1100)
        chain.set_voltage_level(7000)
        chain.idle(timeout=0)
        # idle as cgminer's cutoff: 100 MHz at voltage 0 (NCP5392P: the off word 0xff00;
        # ADP3208D: rev8(((0x78 - 0) << 1) | 1) = rev8(0xf1) = 0x8f)
        off = 0xFF00 if model == "MM41" else 0x8F00
        assert sent(emu, T.SET)[-1] == a4_set(off, (100, 100, 100))
    assert emu.modules[0].physics.frequencies == [[100] * 3] * emu.spec.miner_count


def a4_set_volt(word, miners=10):
    """SET_VOLT (MM avalon4 main.c case AVA4_P_SET_VOLT; cgminer avalon4_set_voltage):
    miner i's 16-bit word at slot (4 + i // 5 * 5) - i + i // 5 * 5, OPT 0."""
    slots = [0] * 16
    for i in range(miners):
        slots[(4 + i // 5 * 5) - i + i // 5 * 5] = word
    return frame(0x22, b"".join(w.to_bytes(2, "big") for w in slots))


def a4_set_freq(cpm):
    """SET_FREQ (main.c case AVA4_P_SET_FREQ): three CPM words, d[12] miner 0 (all)."""
    return frame(0x23, be32(cpm, cpm, cpm))


def test_job_frames_in_the_avalon4_order():
    """avalon4_update: STATIC (pool difficulty and number at the end), TARGET capped at
    1024, JOB_ID (tag only, always), COINBASE, MERKLES, HEADER; then per module what the
    MM4 firmware needs to hash (main.c): SET_VOLT (the regulators), SET (the nonce2 window,
    the MHz for the timeout), SET_FREQ (the chips' PLL words, 200 MHz: 0x1e278447 as in
    system_config.h ASIC_PLL); FINISH to all."""
    job, nonce2 = block_job(difficulty=4096)
    emu = Emulator(model="MM41", modules=2, seed=2)
    with asicdrv.open("emu://", emulator=emu, start=False, **FAST) as chain:
        before = len(emu.traffic.frames)
        chain.submit(job, extranonce2_start=16, pool=3)
    frames = [f for _, d, f in list(emu.traffic.frames)[before:] if d == ">"]
    types = [f[2] for f in frames]
    assert types[:3] == [0x11, 0x16, 0x12] and types[-7:] == [0x22, 0x20, 0x23] * 2 + [0x21]
    static = frames[0]
    assert static[6 + 20 : 6 + 28] == be32(4096, 3) and static[6 + 28 : 38] == bytes(4)
    # 0xFFFF * 2**208 / 1024 is exact: 0xFFFF << 198, little-endian (spec 5.5 TARGET)
    assert frames[1] == frame(0x16, (0xFFFF << 198).to_bytes(32, "little"))
    assert frames[2] == frame(0x12, struct.pack(">H", job.job_crc))
    assert frames[-1] == frame(0x21, b"")
    assert frames[-4] == a4_set_volt(0xA900)  # 0.6875 V on the NCP5392P
    assert frames[-3] == a4_set(0xA900, (200, 200, 200), start=16, span=0xFFFFFFFF - 16)
    assert frames[-2] == a4_set_freq(0x1E278447)


def hand_nonce(model_correction, nonce2, opt):
    """A4 NONCE (driver-avalon4.c:479-556): (chip << 16) | miner, pool, nonce2, ntime
    offset, the raw nonce, the job tag; CRC low byte first.  The raw nonce is the header's
    four nonce bytes read big-endian plus the correction the host subtracts."""
    job, _ = block_job()
    raw = int.from_bytes(struct.pack("<I", BLOCK_170["nonce"]), "big") + model_correction
    data = be32(5 << 16 | 1, 0, nonce2, 0, raw) + struct.pack(">H", job.job_crc)
    return frame(0x42, data, opt=opt, crc_order="little")


@pytest.mark.parametrize("model, correction", [("MM41", 0x4000), ("MM60", 0)])
def test_a_hand_built_nonce_becomes_the_block(model, correction):
    """The device's NONCE, queued in the emulated MM as it would send it: the host takes
    the little-endian CRC, subtracts the model's correction and finds block 170."""
    job, nonce2 = block_job()
    emu = Emulator(model=model, seed=2, hashrate=0)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        emu.modules[0].nonces.append(hand_nonce(correction, nonce2, emu.modules[0].dna[-1]))
        share = chain.next_share(timeout=10)
    assert share is not None and share.hash == BLOCK_170["hash"]
    assert (share.miner, share.chip) == (1, 5)


def test_a_big_endian_crc_from_an_avalon4_is_a_bad_reply():
    job, nonce2 = block_job()
    emu = Emulator(model="MM41", seed=2, hashrate=0)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        good = hand_nonce(0x4000, nonce2, emu.modules[0].dna[-1])
        emu.modules[0].nonces.append(good[:38] + good[38:][::-1])  # CRC swapped
        wait_for(lambda: chain.status().modules[0].crc_errors >= 1)
        assert chain.next_share(timeout=0.5) is None


def test_the_status_frame_reads_as_cgminer_reads_it():
    """STATUS (driver-avalon4.c:557-606): temperature, fan, frequency, voltage word, works,
    HW, power good, error code, all BE32; LW/HW 24-bit per miner.  The frequency is the
    chips' average in plain MHz (MM avalon4 api.c get_asic_freq); cgminer's x 3968/65 is
    not followed."""
    from asicdrv.generations.avalon4 import Avalon4Readings
    from asicdrv.models import MODELS
    from firmware_protocols import decode_packet

    readings = Avalon4Readings(MODELS["MM41"])
    status = frame(0x41, be32(47, 2400, 200, 0xA900, 9, 1, 0x3FF, 0), opt=7, crc_order="little")
    readings.apply(decode_packet(status, from_device=True, dialect="avalon4"))
    lw = frame(0x44, b"".join(m.to_bytes(3, "big") for m in range(10)), crc_order="little")
    readings.apply(decode_packet(lw, from_device=True, dialect="avalon4"))
    assert readings.temperature_mm == 47 and readings.fan_rpm == 2400
    assert readings.reported_voltage == 6875 and readings.chip_volts[0] == 0.6875
    assert readings.reported_clock == 200
    assert readings.local_works == list(range(10)) and readings.hottest_c() == 47
    assert xmodem(status[6:38]) == int.from_bytes(status[38:], "little")


def test_every_avalon4_model_mines_block_170_on_its_emulator():
    for model in ("MM40", "MM41", "MM50", "MM60"):
        job, nonce2 = block_job()
        url = f"emu://?model={model}&nonce_start={BLOCK_170['nonce']}&nonce_mask=32"
        with asicdrv.open(url, **FAST) as chain:
            chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
            share = chain.next_share(timeout=20)
            status = chain.refresh(timeout=10)
        assert share is not None and share.hash == BLOCK_170["hash"], model
        assert status.modules[0].hashrate_ghs > 0, model  # from the verified work
        assert status.modules[0].voltages_v[0] == 0.6875


def test_an_avalon4_and_an_avalon8_do_not_share_a_chain():
    emu = Emulator(model="MM41,851", modules=2, seed=2)
    with asicdrv.open("emu://", emulator=emu, start=False, **FAST) as chain:
        assert [m.model for m in chain.modules] == ["MM41"]
        assert "different job frames" in chain.status().missing[2]


def test_overheat_cuts_an_mm41_off_at_its_own_limit():
    """MM40/41/50 overheat at 65 degC (cgminer clamps them), far below the chain's 105."""
    emu = Emulator(model="MM41", seed=2, faults="overheat:120", thermal_tau_s=0.05)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        wait_for(lambda: chain.status().modules[0].cutoffs >= 1, timeout=15)
    assert sent(emu, T.SET)[-1][6 + 4 : 6 + 12] == be32(0xFF00, 100 | 100 << 10 | 100 << 20)


def test_an_avalon4_on_a_bare_serial_line_is_read_in_its_crc_order():
    """The serial link does not know the module's generation when frames arrive: an
    Avalon 4's low-byte-first CRC is as good as a later module's high-byte-first one."""
    job, nonce2 = block_job()
    url = f"emu://?model=MM41&link=serial&nonce_start={BLOCK_170['nonce']}&nonce_mask=32"
    with asicdrv.open(url, **FAST) as chain:
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        share = chain.next_share(timeout=20)
        assert chain.status().modules[0].crc_errors == 0
    assert share is not None and share.hash == BLOCK_170["hash"]


def test_status_carries_what_only_the_mm4_reports():
    """MM4.1 firmware sends STATUS, STATUS_LW, STATUS_HW and never 0x48 (main.c polling):
    a status round does not wait for it, and there are no NTC readings to show."""
    emu = Emulator(model="MM41", seed=2)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        started = time.monotonic()
        extra = chain.refresh(timeout=10).modules[0].extra
        assert time.monotonic() - started < 5  # the round completed; no 10 s wait
    assert extra["clock_mhz"] == pytest.approx(200, abs=20)  # clock * 65 / 3968, rounded
    assert extra["ntc_c"] == [] and extra["error_code"] == 0
    assert not [f for _, d, f in emu.traffic.frames if d == "<" and f[2] == 0x48]


# --- the chip test (G7, G8): MM avalon4 firmware main.c case AVA4_P_TEST, api.c ---------------
def a4_test(voltage_word, mhz, cpm, cores=0):
    """AVA4_P_TEST as the MM4 reads it: d[0..3] cores per chip (0: TEST_CORE_COUNT, 64),
    d[4..7] the voltage word (set_voltage and set_voltage_i: both regulators), d[8..11]
    the frequencies packed as in SET (pll[0] = bits 29..20 ...), d[12..23] three PLL words
    (set_asic_freq_i: every chip)."""
    return frame(0x32, be32(cores, voltage_word, mhz | mhz << 10 | mhz << 20, cpm, cpm, cpm))


@pytest.mark.parametrize(
    "model, word, mhz, cpm",
    [
        # system_config.h: ASIC_CORETEST_VOLT (0.7875 V) 0xa100 on the MM41/MM50 (NCP5392P)
        # and 0xce00 on the MM40 (ADP3208D); ASIC_FREQUENCY 200 MHz with ASIC_PLL 0x1e278447
        # (MM40/41), 100 MHz with 0x1e678447 (MM50)
        ("MM41", 0xA100, 200, 0x1E278447),
        ("MM40", 0xCE00, 200, 0x1E278447),
        ("MM50", 0xA100, 100, 0x1E678447),
    ],
)
def test_the_chip_test_runs_at_the_firmwares_own_test_point(model, word, mhz, cpm):
    """G7: the TEST we sent was d[0] = 0xff and zeros: the MM4 read it as 0xff000000 cores
    at voltage word 0x0000 (1.6125 V on an NCP5392P) and 0 MHz.  Now every field is the
    firmware's own power-on test point, checked against the model."""
    emu = Emulator(model=model, seed=2, faults="dead_chip:1.2")
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        failing = chain.test_chips()
    assert sent(emu, T.TEST) == [a4_test(word, mhz, cpm)]
    module = emu.modules[0]
    assert module.unsafe_frames == [] and module.tested_at == (7875, [mhz] * 3)
    assert module.physics.voltage_levels[0] == 0  # switched off after the test
    assert failing == {1: {m: ([2] if m == 1 else []) for m in range(emu.spec.miner_count)}}


def test_a_frame_with_a_voltage_word_outside_the_model_never_leaves_the_host():
    """The last check before the link: whatever builds a frame, a voltage word the model's
    table would not send (0x0000 = 1.6125 V on an MM41) is refused and nothing is sent."""
    from asicdrv.generations.avalon4 import Avalon4
    from asicdrv.generations import generation_of
    from asicdrv.models import MODELS

    old_test = frame(0x32, bytes((0xFF,)))  # what we sent before the fix
    with pytest.raises(LimitError, match="0x0000 stands for level 16125"):
        generation_of(MODELS["MM41"]).check_frame(MODELS["MM41"], old_test)
    generation_of(MODELS["MM41"]).check_frame(MODELS["MM41"], a4_test(0xA100, 200, 1))
    emu = Emulator(model="MM41", seed=2)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        original = Avalon4.test_frame
        Avalon4.test_frame = lambda self, rt: old_test
        try:
            with pytest.raises(LimitError, match="refused: voltage word 0x0000"):
                chain.test_chips()
        finally:
            Avalon4.test_frame = original
        module = chain.status().modules[0]
    assert module.state != "lost" and module.failed_polls == 0, module
    assert sent(emu, T.TEST) == [] and emu.modules[0].unsafe_frames == []


def test_the_emulated_mm4_judges_a_test_frame_as_its_firmware_would_run_it():
    """The old all-zero TEST, sent by hand to the emulated MM41: the firmware would switch
    its regulators to word 0x0000 and then divide by zero (set_asic_timeout)."""
    emu = Emulator(model="MM41", seed=2)
    module = emu.modules[0]
    module.receive(
        frame(0x32, be32(0, 0, 200 | 200 << 10 | 200 << 20, 1, 1, 1)), broadcast=True, now=0.0
    )
    assert "16125" in module.unsafe_frames[0]
    module.receive(frame(0x32, bytes((0xFF,))), broadcast=True, now=0.0)
    assert "divides by zero" in module.unsafe_frames[1] and module.boots == 1


def test_test_ret_is_read_as_api_asic_testcores_sends_it():
    """G8: per miner, one TEST_RET per four chips: d[0] the miner, d[1..16] four failed-work
    counts (BE32); then the summary (passed, all).  One dead chip, miner 3 chip 1 (64
    failed works), reads as exactly that (it read as "miner 0 chips 0-3 fail")."""
    from asicdrv.generations.avalon4 import Avalon4Readings
    from asicdrv.models import MODELS
    from firmware_protocols import decode_packet

    readings = Avalon4Readings(MODELS["MM41"])
    readings.start_test()
    for miner in range(10):
        counts = [64 if (miner, chip) == (3, 1) else 0 for chip in range(4)]
        data = bytes((miner,)) + be32(*counts)
        readings.apply(
            decode_packet(
                frame(0x43, data, crc_order="little"), from_device=True, dialect="avalon4"
            )
        )
    summary = be32(10 * 4 * 64 - 64, 10 * 4 * 64)
    readings.apply(
        decode_packet(frame(0x43, summary, crc_order="little"), from_device=True, dialect="avalon4")
    )
    failing = {
        m: [c for c in range(4) if not bits >> c & 1] for m, bits in readings.test_results.items()
    }
    assert failing == {m: ([1] if m == 3 else []) for m in range(10)}
    assert readings.test_summary == (2496, 2560)


def test_the_mm60_gets_no_chip_test_and_selftest_says_so():
    """No public MM60 firmware says what its TEST reads: none is sent, and the self-test
    shows the check as skipped, never as passed."""
    import json
    from conftest import run

    emu = Emulator(model="MM60", seed=2)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        assert chain.test_chips() == {}
    assert sent(emu, T.TEST) == []
    from asicdrv.bitcoin.known_blocks import KNOWN_ANSWER

    url = f"emu://?model=MM60&nonce_start={KNOWN_ANSWER['nonce']}&polling_delay=0.002"
    out = run("selftest", "--device", url, "--json")
    checks = json.loads(out.stdout)["checks"]
    assert [c["skipped"] for c in checks if c["check"] == "chip test"] == [True]
    assert out.returncode == 0, [c for c in checks if not c["ok"]]  # the rest passes


def test_protection_uses_the_hottest_sensor_an_mm4_reports():
    """Robustness 3, point 7: the host showed the board sensor (57 degC, ok) while the NTC
    channels of a 0x48 read 116 degC against a 65 degC limit.  STATUS d[0] is the module's
    temperature (MM4 main.c: read_temp(), the board's TMP sensor, what the firmware itself
    idles on); when NTC channels are reported too (frames built by hand: STATUS_M, NTC ADCs
    then the 12 V and 3.3 V ADCs), protection uses the hottest of them all."""
    import math

    from asicdrv.generations.avalon4 import Avalon4Readings
    from asicdrv.models import MODELS
    from firmware_protocols import decode_packet

    def adc(celsius):  # driver-avalon4.c's NTC: R = 10k / (1023 / adc - 1), B 3450
        r = 10000 * math.exp(3450 * (1 / (celsius + 273.15) - 1 / 298.15))
        return round(1023 / (1 + 10000 / r))

    readings = Avalon4Readings(MODELS["MM41"])
    status = frame(0x41, be32(57, 2400, 13, 0xA900, 9, 1, 0x3FF, 0), opt=7, crc_order="little")
    readings.apply(decode_packet(status, from_device=True, dialect="avalon4"))
    assert readings.hottest_c() == 57
    ntc = struct.pack(">6H", adc(116), adc(60), adc(50), adc(40), 0, 0) + bytes(20)
    readings.apply(
        decode_packet(frame(0x48, ntc, crc_order="little"), from_device=True, dialect="avalon4")
    )
    assert readings.temperature_mm == 57
    assert readings.hottest_c() == pytest.approx(116, abs=0.5)
    assert readings.hottest_c() > MODELS["MM41"].overheat_c


def test_a_module_testing_its_chips_is_neither_reset_nor_lost(mocker):
    """The MM4 firmware reads no frame while it tests its chips (main.c AVA4_P_TEST) and
    writes each TEST_RET into its I2C transmit FIFO as a miner finishes.  cgminer's answer to
    a failed poll, RSTMMTX, read after the test, would empty that FIFO: the vendor-firmware
    selftest lost every TEST_RET that way under load.  During the test a failed poll sends
    nothing more and does not count towards losing the module."""
    emu = Emulator(model="MM41", seed=1)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        real = chain.link.xfer
        busy_until = []  # the MM tests for 0.8 s of the host's 1 s wait

        def testing(address, frame, read, patience=None):
            if frame[2] == T.POLLING.value and busy_until and time.monotonic() < busy_until[0]:
                return None  # the MM is testing: nothing answers
            if frame[2] == T.TEST.value:
                busy_until.append(time.monotonic() + 0.8)
            return real(address, frame, read, patience)

        mocker.patch.object(chain.link, "xfer", side_effect=testing)
        before = len(sent(emu, T.RSTMMTX.value))
        chain.test_chips(timeout=1.0)  # more than ten polls' patience
        assert len(sent(emu, T.RSTMMTX.value)) == before
        module = chain.status().modules[0]
    assert module.state != "lost" and module.failed_polls == 0, module
