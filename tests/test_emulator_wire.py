"""The emulator through its wire interfaces: detection, polling, settings, faults, garbage."""

import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from asicdrv.emulator import Emulator, FaultSpecError
from firmware_protocols import PacketType as T, decode_packet, encode_packet
from firmware_protocols.encodings import (
    fan_percent_to_pwm,
    mhz_to_pll_word,
    pvt_code_to_celsius,
    voltage_level_to_word,
)
from emu_wire import FakeClock, detect_all, poll, poll_until, send


def test_detection_assigns_ids_in_chain_order_and_detected_modules_stay_quiet():
    emu = Emulator(modules=3, seed=5)
    acks = detect_all(emu)
    assert len(acks) == 3
    assert all(a.type == T.ACKDETECT for a in acks)
    dnas = [a.fields()["dna"] for a in acks]
    assert len(set(dnas)) == 3
    for a in acks:
        assert a.fields()["version"].startswith("851") and len(a.fields()["version"]) == 15
        assert a.fields()["asic_count"] == 104
    assert [m.module_id for m in emu.modules] == [1, 2, 3]
    # nothing answers a further DETECT
    assert emu.i2c_xfer(0, encode_packet(T.DETECT, {"module_id": 4}), 40) == b""
    # the same seed gives the same DNAs; another seed does not
    assert [a.fields()["dna"] for a in detect_all(Emulator(modules=3, seed=5))] == dnas
    assert [a.fields()["dna"] for a in detect_all(Emulator(modules=3, seed=6))] != dnas


def test_models_and_bad_options():
    for model in ("821", "831", "841", "851"):
        (ack,) = detect_all(Emulator(model=model))
        assert ack.fields()["version"][:3] == model
    with pytest.raises(FaultSpecError):
        Emulator(model="999")
    with pytest.raises(FaultSpecError):
        Emulator(modules=7)
    with pytest.raises(FaultSpecError, match="unknown fault"):
        Emulator(faults="melt")
    with pytest.raises(FaultSpecError):
        Emulator(faults="drop:2")
    with pytest.raises(FaultSpecError, match="between 0 and 1"):
        Emulator(faults="auc_late:1.5")
    with pytest.raises(FaultSpecError, match="the AUC's"):
        Emulator(modules=2, faults="auc_late@2")


def test_polling_rotates_status_packets_and_status_carries_dna_byte():
    emu = Emulator(modules=1, seed=2)
    (ack,) = detect_all(emu)
    seen = {}
    for _ in range(60):
        pkt = poll(emu, 1)
        seen.setdefault(pkt.type, pkt)
    assert {T.STATUS, T.STATUS_PLL, T.STATUS_VOLT, T.STATUS_PMU, T.STATUS_PVT} <= set(seen)
    assert seen[T.STATUS].opt == ack.fields()["dna"][-1]
    pll = seen[T.STATUS_PLL].fields()
    assert pll["frequencies_mhz"] == [0, 0, 0, 850]
    assert pll["lock_counts"] == [0, 0, 0, 26 * 172]
    # an address nobody has gets no answer
    assert poll(emu, 5) is None


def test_settings_change_what_status_reports():
    clock = FakeClock()
    emu = Emulator(seed=3, clock=clock)
    detect_all(emu)
    send(
        emu,
        1,
        [
            encode_packet(
                T.SET_PLL,
                {"pll_words": [mhz_to_pll_word(f) for f in (0, 0, 500, 700)]},
                idx=2,
                cnt=4,
            )
        ],
    )
    words = [voltage_level_to_word(level) for level in (-3, 0, 5, 7)] + [0] * 4
    send(
        emu, 1, [encode_packet(T.SET_VOLT, {"voltage_words": words}), encode_packet(T.SET_FIN, {})]
    )
    pll = poll_until(emu, 1, T.STATUS_PLL, predicate=lambda p: p.idx == 1).fields()
    assert pll["frequencies_mhz"] == [0, 0, 500, 700]
    assert pll["lock_counts"] == [0, 0, 86 * 26, 86 * 26]  # 172 cores split over 2 PLLs
    volts = poll_until(emu, 1, T.STATUS_VOLT).fields()["vout_raw"]
    assert volts[0] < volts[1] < volts[2] < volts[3] and volts[4:] == [0] * 4


def keep_polling(emu, clock, seconds, addresses=(1,)):
    """Let time pass the way a host does: polling every module (an unpolled MM reverts to
    address 0 after 3 s) while the board model runs."""
    for _ in range(int(seconds / 0.5)):
        clock.advance(0.5)
        emu.advance()
        for address in addresses:
            poll(emu, address)


def hottest(emu, clock, seconds):
    keep_polling(emu, clock, seconds)
    temps = []
    for _ in range(80):
        pkt = poll(emu, 1)
        if pkt.type == T.STATUS_PVT:
            temps += [pvt_code_to_celsius(s["temp_code"]) for s in pkt.fields()["sensors"]]
    return max(temps)


def set_fan(emu, percent):
    poll(emu, 1, fan={"change": True, "pwm": fan_percent_to_pwm(percent)})


def test_fan_rpm_and_temperature_physics():
    clock = FakeClock()
    emu = Emulator(seed=4, clock=clock)
    detect_all(emu)
    set_fan(emu, 50)
    status = poll_until(emu, 1, T.STATUS).fields()
    assert status["fan_rpm"] == 3000
    at_half_fan = hottest(emu, clock, 30)
    set_fan(emu, 100)
    at_full_fan = hottest(emu, clock, 30)
    assert at_full_fan < at_half_fan - 5
    emu.set_ambient(35)
    warmer_room = hottest(emu, clock, 30)
    assert warmer_room == pytest.approx(at_full_fan + 10, abs=1.5)
    # more frequency and voltage, more heat
    send(
        emu,
        1,
        [
            encode_packet(
                T.SET_PLL,
                {"pll_words": [mhz_to_pll_word(f) for f in (0, 0, 0, 1100)]},
                idx=m + 1,
                cnt=4,
            )
            for m in range(4)
        ],
    )
    faster = hottest(emu, clock, 30)
    assert faster > warmer_room + 5
    words = [voltage_level_to_word(15)] * 4 + [0] * 4
    send(emu, 1, [encode_packet(T.SET_VOLT, {"voltage_words": words})])
    assert hottest(emu, clock, 30) > faster + 3


def test_dead_chip_fails_test_and_drops_out_of_lock_counts():
    emu = Emulator(seed=1, faults="dead_chip:2.5")
    detect_all(emu)
    send(emu, 1, [encode_packet(T.TEST, {"miner": 0xFF})])
    results = {}
    for _ in range(4):
        pkt = poll(emu, 1)
        assert pkt.type == T.TEST_RET
        results[pkt.idx - 1] = pkt.fields()
    full = (1 << 26) - 1
    assert results[0]["pass_bitmap"] == results[1]["pass_bitmap"] == full
    assert results[2]["pass_bitmap"] == full & ~(1 << 5)
    pll = poll_until(emu, 1, T.STATUS_PLL, predicate=lambda p: p.idx == 2).fields()
    assert pll["lock_counts"][3] == 25 * 172


def test_fan_stall_and_overheat():
    clock = FakeClock()
    emu = Emulator(modules=2, seed=1, faults="fan_stall@1,overheat:30@2", clock=clock)
    detect_all(emu)
    assert poll_until(emu, 1, T.STATUS).fields()["fan_rpm"] == 0
    assert poll_until(emu, 2, T.STATUS).fields()["fan_rpm"] == 6000
    keep_polling(emu, clock, 30, addresses=(1, 2))
    t1 = poll_until(emu, 1, T.STATUS).fields()["temperature_mm"]
    t2 = poll_until(emu, 2, T.STATUS).fields()["temperature_mm"]
    assert t1 > 40 and t2 > 40


def test_reply_faults():
    emu = Emulator(seed=1, faults="crc_errors:1.0")
    ack = emu.i2c_xfer(0, encode_packet(T.DETECT, {"module_id": 1}), 40)
    with pytest.raises(Exception, match="CRC"):
        decode_packet(ack)  # corrupted on the wire, but the module took its id
    reply = emu.i2c_xfer(1, encode_packet(T.POLLING, {}), 40)
    with pytest.raises(Exception, match="CRC"):
        decode_packet(reply)
    emu = Emulator(seed=1, faults="drop:1.0")
    assert emu.i2c_xfer(0, encode_packet(T.DETECT, {"module_id": 1}), 40) == b""
    assert emu.i2c_xfer(1, encode_packet(T.POLLING, {}), 40) == b""


def test_stall_delays_replies_past_a_quick_read():
    clock = FakeClock()
    emu = Emulator(seed=1, faults="stall:0.5", clock=clock)
    assert emu.i2c_xfer(0, encode_packet(T.DETECT, {"module_id": 1}), 40) == b""
    clock.advance(0.6)
    assert decode_packet(emu.i2c_xfer(0, b"", 40)).type == T.ACKDETECT  # read again, late


def test_reboot_forgets_the_id_and_answers_detect_again():
    emu = Emulator(seed=1)
    detect_all(emu)
    assert poll(emu, 1, reboot=1) is not None  # the reboot poll is still answered
    assert poll(emu, 1) is None
    (ack,) = detect_all(emu)
    assert emu.modules[0].boots == 1


def test_bad_frames_are_dropped_and_counted_in_status():
    emu = Emulator(seed=1)
    detect_all(emu)
    good = encode_packet(T.SET_FIN, {})
    bad_crc = good[:-1] + bytes([good[-1] ^ 0xFF])
    for junk in (bad_crc, bad_crc, b"garbage", good[:20], b"CN\x99" + good[3:]):
        assert emu.i2c_xfer(1, junk, 0) == b""
    errors = sum(
        poll_until(emu, 1, T.STATUS, predicate=lambda p: p.idx == m).fields()["crc_errors"]
        for m in range(4)
    )
    assert errors == 2


@settings(max_examples=150, deadline=None)
@given(address=st.integers(0, 7), junk=st.binary(max_size=80), rlen=st.integers(0, 60))
def test_emulator_never_crashes_on_host_garbage(address, junk, rlen):
    emu = Emulator(seed=1)
    reply = emu.i2c_xfer(address, junk, rlen)
    assert reply == b"" or len(reply) == 40


def test_traffic_log_is_decodable(tmp_path):
    log = tmp_path / "traffic.log"
    with open(log, "w") as sink:
        emu = Emulator(seed=1, log=sink)
        detect_all(emu)
        poll(emu, 1)
    result = subprocess.run(
        [sys.executable, "-m", "asicdrv", "decode", "--json"],
        stdin=open(log),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    types = [line.split('"type": "')[1].split('"')[0] for line in result.stdout.splitlines()]
    assert types[:2] == ["DETECT", "ACKDETECT"] and "POLLING" in types
    assert len(emu.traffic.lines()) == len(types)
