"""Each bench command run as a subprocess against the emulator, healthy and with faults."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, run

FAST = "polling_delay=0.005&thermal_tau_s=0.2&hashrate=200000"
KAT_NEAR = 396000  # chips start near the selftest's known answer (nonce 396850)


def run_json(*args):
    result = run(*args, "--json")
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def test_status_healthy_table_and_json():
    result = run("status", "--device", f"emu://?modules=2&{FAST}")
    assert result.returncode == 0
    assert "module" in result.stdout and "PLL MHz" in result.stdout
    code, data = run_json("status", "--device", f"emu://?modules=2&{FAST}")
    assert code == 0 and data["connected"] and len(data["modules"]) == 2
    m = data["modules"][0]
    assert m["state"] == "ok" and m["findings"] == []
    # a board just powered is shown as found, not configured by a command that only reads
    assert m["settings_source"] == "unset" and m["frequencies_mhz"][0] == [0, 0, 0, 0]
    assert m["hashrate_ghs"] == 0 and m["fan_sent"] is None


@pytest.mark.parametrize(
    "fault, finding",
    [("dead_chip:1.4", "1 chip sensor(s) silent"), ("fan_stall", "fan stalled (0 RPM)")],
)
def test_status_findings_exit_1(fault, finding):
    code, data = run_json("status", "--device", f"emu://?faults={fault}&{FAST}")
    assert code == 1
    assert finding in data["modules"][0]["findings"]


@pytest.mark.parametrize(
    "fault, failing",
    [
        ("dead_chip:2.5", {"chip test", "sensors"}),
        ("fan_stall", {"fan"}),
        ("overheat", {"thermal"}),
    ],
)
def test_selftest_names_what_failed(fault, failing):
    # the known answer cannot come from a board that stays cut off: do not wait long for it
    kat = ["--kat-seconds", "3"] if fault == "overheat" else []
    # (the overheat needs its seconds to build up: there the known answer is not hurried)
    near = "" if fault == "overheat" else f"&nonce_start={KAT_NEAR}"
    device = f"emu://?faults={fault}&{FAST}{near}"
    code, data = run_json("selftest", "--device", device, *kat)
    assert code == 1 and data["ok"] is False
    failed = {c["check"] for c in data["checks"] if not c["ok"]}
    assert failing <= failed
    if fault.startswith("dead_chip"):
        assert data["chip_maps"]["1"]["2"] == "....." + "X" + "." * 20
        chip = next(c for c in data["checks"] if c["check"] == "chip test")
        assert "miner 2: chip(s) 5 FAIL" in chip["detail"]


def test_selftest_healthy_over_usb_includes_auc_info():
    result = run("selftest", "--device", f"emu://?link=usb&modules=2&{FAST}&nonce_start={KAT_NEAR}")
    assert result.returncode == 0, result.stdout
    assert "PASS  AUC info       AUC-" in result.stdout
    assert result.stdout.count("PASS  known answer") == 2
    assert "VERDICT: healthy" in result.stdout


def test_set_commands_report_back():
    code, data = run_json(
        "set", "freq", "700", "--module", "1", "--miner", "2", "--device", f"emu://?{FAST}"
    )
    assert code == 0 and data["modules"][0]["frequencies_mhz"][2] == [700] * 4
    code, data = run_json("set", "fan", "40", "--device", f"emu://?{FAST}")
    assert code == 0 and data["modules"][0]["fan_rpm"] == 2400
    code, data = run_json("set", "volt", "-2", "--device", f"emu://?{FAST}")
    assert code == 0 and data["modules"][0]["voltage_levels"] == [-2] * 4
    result = run("set", "freq", "0:0:500:750", "--device", f"emu://?{FAST}")
    assert result.returncode == 0 and "0/0/500/750" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["set", "freq", "1300"], "0..1200"),
        (["set", "volt", "20"], "-15..15"),
        (["set", "fan", "2"], "5..100"),
        (["set", "fan", "lots"], "not a whole number"),
        (["set", "freq", "800", "--module", "4"], "no module 4"),
    ],
)
def test_set_refuses_unsafe_values_with_one_line(args, message):
    result = run(*args, "--device", f"emu://?{FAST}")
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_helpful_errors_for_missing_devices():
    result = run("status", "--device", "serial:///dev/does-not-exist")
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = run("status", "--device", "usb://")
    assert result.returncode == 2
    assert "AUC" in result.stderr or "libusb" in result.stderr


def test_scan_lists_modules_behind_the_device():
    code, data = run_json("scan", "--device", "emu://?modules=3&link=usb")
    assert code == 0
    (device,) = data["devices"]
    assert device["auc_version"].startswith("AUC-")
    assert [m["id"] for m in device["modules"]] == [1, 2, 3]
    assert all(m["model"] == "851" and len(m["dna"]) == 16 for m in device["modules"])


def test_monitor_plain_lines_when_not_a_terminal():
    result = run("monitor", "--device", f"emu://?{FAST}", "--count", "2", "--interval", "0.1")
    assert result.returncode == 0
    assert result.stdout.count(" total ") == 2 and "\x1b[" not in result.stdout
    code, data = run_json("monitor", "--device", f"emu://?{FAST}", "--count", "1")
    assert code == 0 and data["modules"][0]["state"] == "ok"


def test_mine_lists_verified_shares():
    job = os.path.join(ROOT, "tools", "jobs", "block170.json")
    code, data = run_json(
        "mine",
        "--job",
        job,
        "--seconds",
        "3",
        "--difficulty",
        "1e-6",
        "--device",
        f"emu://?nonce_mask=12&hashrate=100000&{FAST}",
    )
    assert code == 0 and len(data["shares"]) >= 5
    assert all(s["job_id"] == "block170" for s in data["shares"])
    result = run(
        "mine",
        "--job",
        job,
        "--seconds",
        "2",
        "--difficulty",
        "1e-6",
        "--device",
        f"emu://?nonce_mask=12&hashrate=100000&faults=bad_nonce:1.0&{FAST}",
    )
    assert result.returncode == 1 and "bad_hash" in result.stdout
    result = run("mine", "--notify", "{not json", "--device", "emu://")
    assert result.returncode == 2 and "job JSON" in result.stderr


def test_tools_scripts_run_the_same_commands():
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "status.py"),
            "--device",
            f"emu://?{FAST}",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and json.loads(result.stdout)["modules"]


def test_burnin_refuses_a_frequency_of_zero():
    """Robustness 3, point 11: --frequency 0 (every PLL off) was taken: a burn-in that
    tests nothing."""
    result = run("burnin", "--minutes", "1", "--frequency", "0", "--device", "emu://")
    assert result.returncode == 2 and "--frequency" in result.stderr


def test_the_library_example_in_the_docs_runs_and_finds_a_share():
    """Robustness 3, point 12: the example's loop never ended at the difficulty its comment
    suggested and used names it never defined.  It runs as printed."""
    import re

    text = open(os.path.join(ROOT, "docs", "library.md")).read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(code, "docs/library.md", "exec"), {})


def test_every_command_has_its_tools_script():
    """tools/X.py is asicdrv X, for every command."""
    from asicdrv.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    scripts = {
        name[:-3] for name in os.listdir(os.path.join(ROOT, "tools")) if name.endswith(".py")
    }
    assert commands <= scripts, commands - scripts


def test_an_auc_that_answers_late_is_named_as_the_slow_part():
    # every reply of the emulated AUC 0.3 s late: past the host's 200 ms USB timeout
    result = run("status", "--device", "emu://?link=usb&faults=auc_late:1")
    assert result.returncode == 2
    assert "no module answered DETECT in time" in result.stderr
    assert "replies came after its 200 ms USB timeout" in result.stderr
    assert "power, cabling" not in result.stderr  # the modules are not what failed
    assert len(result.stderr.strip().splitlines()) == 1
