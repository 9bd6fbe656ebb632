"""The Avalon nano 2 and Avalon4 mini against Canaan's own stick firmware (Avalon-nano
master, built and run by stick_harness.py), through our unmodified pyusb driver path."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
import usb.core

import asicdrv
from asicdrv.cli import main
from asicdrv.emulator.usb_backend import EmulatedUsbBackend
from asicdrv.transport.usb_hid import HidLink
from blocks import BLOCK_170
from conftest import FAST, wait_for
from stick_harness import FirmwareStick
from test_nano import block_job

pytestmark = pytest.mark.firmware

NONCE = BLOCK_170["nonce"]
# the 4-mini's copper NTC as ADC codes, from its firmware (defines.h): at or below 200
# (66 degC) it powers the chips off, at 230 (60 degC) it resumes
MINI_HOT, MINI_COOL = 180, 400


@contextlib.contextmanager
def stick_chain(model: str, chain_options=None, **settings):
    stick = FirmwareStick(model, **settings)
    try:
        backend = EmulatedUsbBackend([stick])
        with asicdrv.open("usb://", backend=backend, **{**FAST, **(chain_options or {})}) as chain:
            yield chain, stick
    finally:
        stick.close()


def mine(chain, seconds=10.0):
    job, nonce2 = block_job()
    chain.submit(job, extranonce2_start=nonce2, extranonce2_range=0)
    return chain.next_share(timeout=seconds)


@pytest.mark.parametrize("model", ["nano", "4-mini"])
def test_each_stick_mines_block_170_on_its_own_firmware(model):
    """Detection, settings and work through the driver; the chips' stand-in finds block
    170's nonce only in the header the firmware rebuilt from our WORK pair.  The 4-mini
    clocks works only in full batches of five and reports a batch while clocking in the
    next (avalon_a3222.c): a one-nonce2 job must still come back (M4)."""
    with stick_chain(model, nonces=[NONCE]) as (chain, stick):
        module = chain.modules[0]
        assert module.model == model and module.version == stick.version
        if model == "4-mini":
            assert wait_for(lambda: chain.status().modules[0].extra.get("spi_hz"), 3)
            extra = chain.status().modules[0].extra
            assert extra["spi_hz"] == 1_000_000 and extra["voltage_code"] != 0xFF
        assert stick.version.startswith("3U1505-" if model == "nano" else "4M1505-")
        share = mine(chain)
        assert share is not None and share.hash == BLOCK_170["hash"]
        status = chain.status().modules[0]
    assert status.hw_errors == 0 and not status.rejected
    if model == "4-mini":
        # its power-on core test leaves answers of work id 0 in the chips (M9), but the
        # reset that comes with powering them on (set_voltage, a3222_reset) clears them
        assert stick.events("RESET") and status.chip_hw_errors == [[0] * 5]


def test_nano_status_shows_what_its_firmware_reports():
    """STATUS_M as hid_main.c fills it: the clock of its own loop (d[0]), the TMP102 in
    whole degC (d[20], read once a second; 0 until the first read: unknown, not 0 degC),
    the core ADC (d[16]),
    power enabled only while it hashes (d[28]).  set freq/volt are refused (N4)."""
    with stick_chain("nano", nonces=[NONCE], temp=41) as (chain, stick):
        assert chain.status().modules[0].temperature_c is None  # not read yet: not 0 degC
        assert mine(chain) is not None
        assert wait_for(lambda: chain.status().modules[0].temperature_c == 41.0, 3)
        status = chain.status().modules[0]
        assert status.frequencies_mhz[0][0] == 360 and status.extra["clock_mhz"] == 360
        assert abs(status.voltages_v[0] - 0.675) < 0.01
        assert status.power_good is None and status.state == "ok"
        rails = (status.extra["rail_1v8_v"], status.extra["rail_0v9_v"], status.extra["rail_2v5_v"])
        assert [round(v, 1) for v in rails] == [1.8, 0.9, 2.5]
        assert status.extra["power_enabled"] and status.extra["led_rgb"] == "#ff0000"  # 360 MHz
        with pytest.raises(asicdrv.LimitError):
            chain.set_frequency(200)
    assert not stick.events("PLL")[1:]  # one PLL word: its own 360 MHz, with the first work


def test_a_hot_nano_is_idled_by_silence_its_firmware_obeys():
    """Over our limit the host stops sending (no work, no poll): the firmware's 3 s idle
    timer then switches the core off (POWER off), which no frame it has a handler for
    could do (N4)."""
    with stick_chain("nano", nonces=[NONCE], temp=45) as (chain, stick):
        assert mine(chain) is not None
        assert stick.events("POWER")[-1][1] == ["POWER", "on"]
        stick.set(temp=95)
        assert wait_for(lambda: chain.status().modules[0].state == "cutoff", 4)
        sent = len(stick.sent)
        off = stick.wait_event("POWER", timeout=6, after=len(stick.events("POWER")))
        assert off[1] == ["POWER", "off"]
        late = [hex(p[2]) for p in stick.sent[sent:]]
        assert not late, (late, chain.status().modules[0])  # nothing was said to it meanwhile


def test_mini_settings_survive_its_own_idle_and_heat():
    """The 4-mini powers its chips off by itself after 3 s without a frame and while its
    copper NTC is too hot, and ignores SET_VOLT/SET_FREQ while hot (M7, M11): the host
    sends the settings again before work once it sees the chips off."""
    opts = {"polling_delay": 0.05}
    with stick_chain("4-mini", opts, nonces=[NONCE]) as (chain, stick):
        assert mine(chain) is not None
        volts = len(stick.events("VOLT"))
        stick.set(adc=(2, MINI_HOT))
        assert stick.wait_event("VOLT", 3, after=volts - 1 + 1)[1] == ["VOLT", "ff"]
        assert wait_for(lambda: (chain.status().modules[0].temperature_c or 0) >= 66, 3)
        stick.set(adc=(2, MINI_COOL))
        on = stick.wait_event("VOLT", 5, after=volts + 1)  # the host powered it again
        assert on[1] != ["VOLT", "ff"]
        assert mine(chain) is not None


def test_the_selftest_passes_healthy_sticks(capsys):
    """The selftest's known answer on a stick (block 170) comes back from both firmwares,
    the mini's through a full batch; no check fails or is reported passed untested."""
    for model in ("nano", "4-mini"):
        stick = FirmwareStick(model, nonces=[NONCE])
        try:
            backend = EmulatedUsbBackend([stick])

            def opener(url, backend=backend):
                return HidLink(usb.core.find(idVendor=0x29F1, backend=backend))

            asicdrv.register_link_scheme("fwstick", opener)
            main(["selftest", "--json", "--device", "fwstick://x?polling_delay=0.002"])
            report = json.loads(capsys.readouterr().out)
        finally:
            stick.close()
        assert report["ok"], [c for c in report["checks"] if not c["ok"]]
        ran = {c["check"] for c in report["checks"] if not c["skipped"]}
        assert "known answer" in ran, report["checks"]


def test_mini_pause_longer_than_its_idle_timer_gets_settings_first():
    """After 3 s without a frame the 4-mini zeroes every PLL word and powers off (M7):
    the next work must follow fresh settings, or the chips would hash nothing."""
    with stick_chain("4-mini", {"polling_delay": 0.02}, nonces=[NONCE]) as (chain, stick):
        assert mine(chain) is not None
        volts = len(stick.events("VOLT"))
        with chain._lock:  # a host that stalls: nothing reaches the stick until it is off
            stalled = time.monotonic()
            off = stick.wait_event("VOLT", timeout=8, after=volts)
            assert time.monotonic() - stalled >= 2.5  # its own 3 s idle timer, not a frame
        assert off[1] == ["VOLT", "ff"]
        on = stick.wait_event("VOLT", 3, after=len(stick.events("VOLT")) - 1 + 1)
        assert on[1] != ["VOLT", "ff"]
        assert mine(chain) is not None
        loads = [t for t, e in stick.events("LOAD") if t > off[0]]
        assert loads and loads[0] > on[0]  # no work clocked in before the power came back


def test_the_nano_labels_a_late_nonce_with_its_latest_work():
    """N7: the nano's chip goes on with the old work while the new one's 88 bytes cross
    the UART, and every NONCE_M carries the id of the latest WORK (hid_main.c gwork_id):
    a nonce found for work 1 just before work 2 took over comes back labelled 2.  (The
    host tries the work before the labelled one: tests/test_nano.py.)"""
    from test_fw_differential_sticks import POLL, cn, play, work_pair

    stick = FirmwareStick("nano", nonces=[NONCE], work_s=0.004)
    try:
        seen = []
        for attempt in range(5):
            first, second = 10 * attempt + 1, 10 * attempt + 2
            other = work_pair(second)
            other[1] = other[1][:30] + bytes(4) + other[1][34:]  # another header: no nonce
            other[1] = cn(0x24, other[1][6:38], 2, 2)
            play(stick, [(work_pair(first), False, 0.006), (other, False, 0.05)])
            for _ in range(20):  # a loaded machine: the chip may report a poll or two later
                reply = play(stick, [POLL])[0]
                if reply.type == 0x42:
                    break
                time.sleep(0.02)
            if reply.type == 0x42:
                seen.append(reply.fields()["reports"][0]["work_id"])
                if seen[-1] == second:
                    break
    finally:
        stick.close()
    assert seen and all(work_id % 10 == 2 for work_id in seen), seen


@pytest.mark.parametrize("dead", [None, 2])
def test_the_mini_chip_test_runs_on_its_firmware(dead):
    """TEST (0x32) at the 4-mini's own test point (0.7 V, 200 MHz, checked against the
    model): its firmware runs the golden work through each chip 16 times and answers per
    chip (testcores); a chip that never answers is named, the others pass.  The chips are
    off afterwards and the host powers them again before work."""
    settings = {} if dead is None else {"dead": 1 << dead}
    with stick_chain("4-mini", nonces=[NONCE], **settings) as (chain, stick):
        volts = len(stick.events("VOLT"))
        assert chain.test_chips() == {1: {0: [] if dead is None else [dead]}}
        codes = [e[1][1] for e in stick.events("VOLT")[volts:]]
        assert "93" in codes and codes[codes.index("93") + 1] == "ff"  # 0.7 V, then off
        assert mine(chain) is not None
