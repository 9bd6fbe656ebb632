"""Avalon 7, 9 and LC3 (and mixed chains) end to end, with frames built by hand.

Every golden frame below is written out from the cgminer driver code path named at each
(see docs/families.md), with PLL words typed from those drivers' tables and the CRC
computed by the bitwise CRC-16/XMODEM in this file, never by our encoder.  The chain's own
frames are read off the emulator's traffic log and compared byte for byte.
"""

import struct

import pytest

import asicdrv
from asicdrv import LimitError
from asicdrv.emulator import Emulator
from asicdrv.models import MODELS, model_for_version
from asicdrv.mining.stratum import StratumJob
from blocks import BLOCK_170, notify_params
from conftest import FAST
from firmware_protocols import PacketType as T, decode_packet


def xmodem(data: bytes) -> int:
    """CRC-16/XMODEM, bit by bit (poly 0x1021, init 0): independent of crc_hqx."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1 ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def frame(ptype, data, idx=1, cnt=1, opt=0, crc_order="big"):
    data = data.ljust(32, b"\0")
    return b"CN" + bytes((ptype, opt, idx, cnt)) + data + xmodem(data).to_bytes(2, crc_order)


def be32(*words):
    return b"".join(struct.pack(">I", w) for w in words)


def sent(emu, ptype):
    return [f for _, d, f in emu.traffic.frames if d == ">" and f[2] == ptype]


def test_bitwise_crc_is_xmodem():
    assert xmodem(b"123456789") == 0x31C3


def test_model_table_rows_match_the_spec():
    """Section 5.9.6: miners x chips, PLLs and defaults per model."""
    expect = {
        "711": (4, 18, 6, 14),
        "721": (4, 18, 6, 14),
        "741": (4, 22, 6, 12),
        "761": (4, 26, 6, 12),
        "821": (4, 26, 4, 5),
        "851": (4, 26, 4, 5),
        "910": (6, 34, 4, 26),
        "911": (6, 34, 4, 26),
        "910S": (6, 34, 4, 26),
        "LC3": (4, 34, 4, 5),
    }
    for name, (miners, chips, plls, level) in expect.items():
        spec = MODELS[name]
        assert (spec.miner_count, spec.asic_count, spec.pll_count, spec.default_voltage_level) == (
            miners,
            chips,
            plls,
            level,
        ), name
    assert MODELS["910"].default_frequencies_mhz == (0, 475, 525, 575)
    assert MODELS["LC3"].default_frequencies_mhz == (0, 0, 0, 500)
    assert MODELS["741"].diffmax == 500 and MODELS["851"].diffmax == 2700
    # the longest prefix wins: "910S..." is a 910S, not a 910
    assert model_for_version("910S-190314_4a2").name == "910S"
    assert model_for_version("910-190314_4a27").name == "910"
    assert model_for_version("LC3-190314_4a27").name == "LC3"


def test_avalon7_configuration_frames_are_byte_exact():
    """A7 (driver-avalon7.c, spec 5.7.1-5.7.3): SET with freq_sel 0, flags 0x07, nonce_mask
    29; SET_VOLT 0x8000 | (4825 - 3889) / 78 = 0x800c per miner; SET_PLL six cpm words and
    two timeout words; no SET_ASIC_OTP."""
    emu = Emulator(model="741", seed=3)
    with asicdrv.open("emu://", emulator=emu, start=False, **FAST):
        pass
    assert sent(emu, T.SET) == [frame(0x20, be32(0, 0) + bytes((0x07, 29)))]
    assert sent(emu, T.SET_VOLT) == [frame(0x22, be32(*[0x800C] * 4))]
    assert sent(emu, T.SET_ASIC_OTP) == []
    words = be32(0x01363813, 0x01369813, 0x0136F813, 0x01375813, 0x0137B813, 0x01240813)
    timeouts = be32((0x2000000 // 780) * 40 // 4, 0x2000000 // 780 * 98 // 100)
    assert sent(emu, T.SET_PLL) == [
        frame(0x25, words + timeouts, idx=m + 1, cnt=4) for m in range(4)
    ]
    assert sent(emu, T.SET_FIN) == [frame(0x21, b"")]


def test_avalon9_configuration_frames_are_byte_exact():
    """A9 (Canaan avalon911 driver-avalon9.c, spec 5.7.2-5.7.3): raw level 26 for six
    miners and adjust_volt_freq 1 at d[24]; SET_PLL from the x.5 MHz table (462 ->
    0x00920c81, 512 -> 0x00940d01, 562 -> 0x00960d81; 0 -> 0x04400000), 100, the A8
    timeout, then miner and ASIC id."""
    emu = Emulator(model="911", seed=3)
    with asicdrv.open("emu://", emulator=emu, start=False, **FAST):
        pass
    assert sent(emu, T.SET_VOLT) == [frame(0x22, be32(*[26] * 6, 1))]
    plls = be32(0x04400000, 0x00920C81, 0x00940D01, 0x00960D81)
    assert sent(emu, T.SET_PLL) == [
        frame(0x25, plls + be32(100, 419430400 // 562 * 83 // 100, m, 0), idx=m + 1, cnt=6)
        for m in range(6)
    ]
    assert len(sent(emu, T.SET_ASIC_OTP)) == 1


def test_lc3_voltage_is_a_raw_level():
    emu = Emulator(model="LC3", seed=3)
    with asicdrv.open("emu://", emulator=emu, start=False, voltage_level=7, **FAST) as chain:
        assert chain.settings()[1]["voltage_levels"] == [7] * 4
    assert sent(emu, T.SET_VOLT) == [frame(0x22, be32(7, 7, 7, 7))]
    assert emu.modules[0].physics.voltage_levels == [7] * 4


def test_device_frames_of_each_generation_are_read_as_the_hosts_read_them():
    """Device -> host frames built by hand, handed to the emulator's place on the link:
    the A7 STATUS_PVT (per miner: two id bytes, three codes; cgminer's fan uses the second
    code), the A9 one-word STATUS_VOLT and the A7 six-counter STATUS_PLL."""
    from asicdrv.device.status import ModuleReadings
    from firmware_protocols.tables import a7_pvt_code_to_celsius

    readings = ModuleReadings(MODELS["741"])
    pvt = b"".join(bytes((1, 7)) + struct.pack(">HHH", 400, 500 + m, 450) for m in range(4))
    readings.apply(decode_packet(frame(0x4C, pvt, opt=0x2A), from_device=True, dialect="avalon7"))
    assert readings.miner_temps == [
        pytest.approx(a7_pvt_code_to_celsius(500 + m)) for m in range(4)
    ]
    assert readings.hottest_c() == pytest.approx(a7_pvt_code_to_celsius(503))
    readings.apply(
        decode_packet(
            frame(0x49, be32(10, 20, 30, 40, 50, 60), idx=2, cnt=4),
            from_device=True,
            dialect="avalon7",
        )
    )
    assert readings.lock_counts[2] == [10, 20, 30, 40, 50, 60]
    a9 = ModuleReadings(MODELS["910"])
    a9.apply(
        decode_packet(frame(0x46, struct.pack(">H", 4321)), from_device=True, dialect="avalon9")
    )
    assert a9.module_vout_raw == 4321


@pytest.mark.parametrize(
    "model", ["711", "721", "741", "761", "821", "831", "841", "851", "910", "911", "910S", "LC3"]
)
def test_every_model_mines_a_real_block_on_its_emulator(model):
    """Detect, settings, block 170 replayed, the share verified by the host."""
    params, en1, size, nonce2 = notify_params(BLOCK_170)
    job = StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=1 / 65536
    )
    url = f"emu://?model={model}&nonce_start={BLOCK_170['nonce']}&nonce_mask=32"
    with asicdrv.open(url, **FAST) as chain:
        assert [m.model for m in chain.modules] == [model]
        chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
        share = chain.next_share(timeout=20)
        status = chain.refresh(timeout=10)
    assert share is not None and share.hash == BLOCK_170["hash"]
    m = status.modules[0]
    spec = MODELS[model]
    assert m.frequencies_mhz == [list(spec.default_frequencies_mhz)] * spec.miner_count
    assert m.hottest_chip_c is not None and m.hashrate_ghs > 0
    assert m.generation == spec.generation


def test_a_mixed_chain_gets_each_models_frames_and_limits():
    emu = Emulator(modules=3, model="741,851,910S", seed=5)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        assert [m.model for m in chain.modules] == ["741", "851", "910S"]
        chain.set_frequency(612, module=1)  # a 12 MHz step: A7 only
        with pytest.raises(LimitError, match="851: frequency 612 MHz"):
            chain.set_frequency(612)  # refused for all, none sent
        with pytest.raises(LimitError, match="out of range 0..15 for the 741"):
            chain.set_voltage_level(20)  # the 741 refuses: nobody gets it
        chain.set_voltage_level(20, module=3)  # raw level: fine on the 910S
        chain.set_frequency(800, module=2)
        status = chain.refresh(timeout=10)
    a7, a8, a9 = (m.physics for m in emu.modules)
    assert a7.frequencies == [[612] * 6] * 4
    assert a8.frequencies == [[800] * 4] * 4
    assert a9.frequencies == [[0, 462, 512, 562]] * 6 and a9.voltage_levels == [20] * 6
    assert a7.voltage_levels == [12] * 4 and a8.voltage_levels == [5] * 4
    assert [m.generation for m in status.modules] == ["avalon7", "avalon8", "avalon9"]


def test_mixed_chain_jobs_take_the_lowest_target_cap():
    """A7 DIFFMAX is 500, A8 2700: a job for both is capped at 500 (spec 5.5 TARGET: the
    256-bit floor(0xFFFF * 2**208 / diff), computed in doubles, little-endian)."""
    params, en1, size, _ = notify_params(BLOCK_170)
    job = StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size, difficulty=4096)
    emu = Emulator(modules=2, model="741,851", seed=5)
    with asicdrv.open("emu://", emulator=emu, start=False, **FAST) as chain:
        chain.submit(job)
    got = sent(emu, T.TARGET)[-1]
    assert got[:6] == bytes((0x43, 0x4E, 0x16, 0, 1, 1))
    assert xmodem(got[6:38]) == int.from_bytes(got[38:], "big")
    value, exact = int.from_bytes(got[6:38], "little"), (0xFFFF << 208) // 500
    assert abs(value - exact) <= exact >> 50  # within a double's precision
    assert abs(value - (0xFFFF << 208) // 2700) > exact // 2  # not the A8 cap


def test_idle_and_cutoff_on_an_avalon7_use_its_lowest_pll():
    """The A7 table has no off word (cpm_table starts at 24 MHz): idle sets 24 MHz."""
    emu = Emulator(model="741", seed=5)
    with asicdrv.open("emu://", emulator=emu, **FAST) as chain:
        chain.idle(timeout=2)
        assert emu.modules[0].physics.frequencies == [[24] * 6] * 4
        chain.resume()
    assert emu.modules[0].physics.frequencies == [[600, 636, 672, 708, 744, 780]] * 4


@pytest.mark.parametrize(
    "url, dead",
    [
        ("emu://?model=741,851&modules=2&faults=dead_chip:1.25@2", (2, "1", 25)),
        ("emu://?model=MM41&modules=2&faults=dead_chip:3.1@2&nonce_start=1889418000", (2, "3", 1)),
        ("emu://?model=MM3&modules=2&faults=dead_chip:4.0@1&nonce_start=1889418000", (1, "4", 0)),
    ],
)
def test_selftest_and_scan_name_the_dead_chip_on_every_generation(url, dead):
    """The known answer starts near its nonce (a test of the generations, not of speed)."""
    import json
    from conftest import run

    if "nonce_start" not in url:  # the A2/3 answer is block 170 itself (diff-1 results)
        url += "&nonce_start=396000"
    url += "&polling_delay=0.005"
    out = run("scan", "--device", url)
    assert out.returncode == 0
    models = url.split("model=")[1].split("&")[0].split(",")
    for model in models:
        assert f" {model} " in out.stdout
    out = run("selftest", "--device", url, "--json")
    data = json.loads(out.stdout)
    failed = {(c["check"], c["module"]) for c in data["checks"] if not c["ok"]}
    module, miner, chip = dead
    assert ("chip test", module) in failed and failed <= {
        ("chip test", module),
        ("sensors", module),
    }
    assert data["chip_maps"][str(module)][miner][chip] == "X"
    assert data["chip_maps"][str(module)][miner].count("X") == 1


def test_the_chip_test_reads_chips_above_31():
    """A9 and LC3 miners have 34 chips: TEST_RET carries chips 32..63 in d[8..11]."""
    with asicdrv.open("emu://?model=LC3&faults=dead_chip:1.33", **FAST) as chain:
        assert chain.test_chips() == {1: {0: [], 1: [33], 2: [], 3: []}}


@pytest.mark.parametrize(
    "url, models",
    [
        (
            "emu://?model=741,851,910S,LC3&modules=4&polling_delay=0.003",
            ["741", "851", "910S", "LC3"],
        ),
        ("emu://?model=MM41&modules=2", ["MM41"]),
        ("emu://?model=MM3&modules=2", ["MM3"]),
        ("emu://?model=nano", ["nano"]),
    ],
)
def test_status_reads_every_generation(url, models, capsys):
    """`asicdrv status --json` (the CLI's entry point, in this process) on each family:
    every module's model, its own PLL count, a temperature, state ok."""
    import json
    from asicdrv.cli import main

    assert main(["status", "--json", "--device", url]) == 0
    data = json.loads(capsys.readouterr().out)
    got = [m["model"] for m in data["modules"]]
    assert sorted(set(got)) == sorted(models)
    for m in data["modules"]:
        spec = MODELS[m["model"]]
        assert all(len(plls) == spec.pll_count for plls in m["frequencies_mhz"])
        assert m["temperature_c"] is not None and m["state"] == "ok"


def test_the_a9_auto_tuning_options_are_taken_not_refused():
    """cgminer's avalon911 driver sends SET_ADJUST_VOLT (0x51) and SET_ADJUST_FREQ (0x52):
    seven BE32 words (driver-avalon9.c avalon9_set_adjust_*_option), built here by hand;
    the emulated A9 keeps them instead of counting a bad frame."""
    from firmware_protocols import PacketType as T

    emu = Emulator(model="911", modules=1, seed=1)
    with asicdrv.open("emu://", emulator=emu, start=False, **FAST):
        data = be32(-2 & 0xFFFFFFFF, 3, 80, 1, 2, 90, 60) + bytes(4)
        frame = b"CN" + bytes((0x51, 0, 1, 1)) + data + xmodem(data).to_bytes(2, "big")
        emu.i2c_xfer(1, frame, 0)
    assert emu.modules[0].adjust_options[T.SET_ADJUST_VOLT]["up_init"] == -2
    assert emu.modules[0].adjust_options[T.SET_ADJUST_VOLT]["time"] == 60
    assert emu.modules[0].rx_bad_frames == 0
