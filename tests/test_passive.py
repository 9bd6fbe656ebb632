"""Commands that only read never change a board, and `set X` changes X alone (issue 21).

Judged on the frames the emulated modules received, read by hand from cgminer's layout
(``driver-avalon8.c``): the type in byte 2 of a "CN" frame; a POLLING's fan word is data
bytes 4..7 big-endian, bit 31 "change" (``avalon8_init_pkg`` of AVA8_P_POLLING), so a
poll that leaves the fan alone has data[4] bit 7 clear.
"""

from __future__ import annotations

import json

import pytest

import asicdrv
from asicdrv.cli import main
from asicdrv.emulator import Emulator
from asicdrv.transport.emulated import EmulatorLink

POLLING, SET_VOLT, SET_PLL, SET_FREQ = 0x30, 0x22, 0x25, 0x23
# SET .. SET_MINER_EN and the avalon8 branch's 0x50..0x52: everything that configures a board
SETTINGS = set(range(0x20, 0x30)) | {0x50, 0x51, 0x52}


def host_frames(emu: Emulator) -> list[bytes]:
    return [f for _, d, f in emu.traffic.frames if d == ">" and f[:2] == b"CN"]


def changes(emu: Emulator) -> list[str]:
    """Every frame that configures a board or sets a fan, by name."""
    found = []
    for frame in host_frames(emu):
        if frame[2] in SETTINGS:
            found.append(f"type 0x{frame[2]:02x}")
        elif frame[2] == POLLING and frame[6 + 4] & 0x80:
            found.append(f"fan {int.from_bytes(frame[10:14], 'big') & 0x3FF}")
    return found


@pytest.fixture
def shared_emulator():
    """A freshly powered board (nothing set: its PLLs are off) behind a link scheme every
    command can be pointed at."""
    emu = Emulator(modules=2, seed=4)
    asicdrv.register_link_scheme("passivetest", lambda url: EmulatorLink(emu))
    yield emu
    emu.close()


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["scan"]])
def test_commands_that_only_read_send_no_setting_and_no_fan(shared_emulator, command, capsys):
    url = "passivetest://x?polling_delay=0.005&fan_interval=0.05"
    main([*command, "--device", url])
    out = capsys.readouterr().out
    assert changes(shared_emulator) == []
    assert any(f[2] == POLLING for f in host_frames(shared_emulator)) or command == ["scan"]
    # the fresh board was left as it was found: no clock set
    assert all(
        f == 0 for m in shared_emulator.modules for plls in m.physics.frequencies for f in plls
    )
    if command == ["status", "--json"]:
        modules = json.loads(out)["modules"]
        assert [m["fan_sent"] for m in modules] == [None, None]
        assert {m["settings_source"] for m in modules} == {"unset"}
    elif command == ["status"]:  # the fan duty: never sent, so not claimed; the RPM is read
        # module, state, MM C, hottest C, fan, RPM, ...
        rows = [line.split() for line in out.splitlines() if line.split()[1:2] == ["ok"]]
        assert [(r[4], r[5].isdigit()) for r in rows] == [("-", True), ("-", True)], out
        volt = out.splitlines()[-1].split()[4]
        assert volt == "-"  # the voltage level of a board found unset is not ours to claim


def test_monitor_sends_no_setting_and_no_fan(shared_emulator, capsys):
    main(["monitor", "--count", "2", "--device", "passivetest://x?fan_interval=0.05"])
    assert changes(shared_emulator) == []


def test_set_freq_sends_the_clock_and_nothing_else(shared_emulator, capsys):
    main(["set", "freq", "500", "--device", "passivetest://x?fan_interval=0.05"])
    sent = changes(shared_emulator)
    assert sent and set(sent) <= {f"type 0x{SET_PLL:02x}", f"type 0x{SET_FREQ:02x}"}, sent


def test_set_fan_sends_that_duty_and_no_setting(shared_emulator, capsys):
    main(["set", "fan", "60", "--device", "passivetest://x?fan_interval=0.05"])
    sent = changes(shared_emulator)
    assert sent and all(s.startswith("fan ") for s in sent), sent
    pwms = {s for s in sent}
    assert len(pwms) == 1  # one duty, the asked one, however often it is sent
    assert all(m.physics.fan_percent == 60 for m in shared_emulator.modules)


def test_a_passive_chain_still_protects_a_board_that_overheats():
    """Protection is not a setting: a passive chain still runs the fan at full and cuts
    the clock of a module that overheats."""
    emu = Emulator(modules=1, seed=4, ambient_c=25)
    with asicdrv.open(
        "emu://", emulator=emu, passive=True, polling_delay=0.005, fan_interval=0.05
    ) as chain:
        chain.refresh(timeout=5)
        assert changes(emu) == []
        emu.set_ambient(140)
        deadline_status = None
        for _ in range(400):
            deadline_status = chain.refresh(timeout=5)
            if deadline_status.modules[0].state == "cutoff":
                break
    assert deadline_status is not None and deadline_status.modules[0].state == "cutoff"
    assert deadline_status.modules[0].fan_sent == 100


def test_passive_refuses_settings_at_open():
    with pytest.raises(asicdrv.LimitError, match="passive"):
        asicdrv.open("emu://", passive=True, frequency=500)
