"""A cgminer user's command line starts `asicdrv run` (issue 21): the options mean what
they mean in cgminer (cgminer.c's opt_config table, driver-avalon8.c's set_avalon8_*), or
one line names the asicdrv equivalent; a cgminer.conf works with -c; an unknown option gets
run's own usage."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from asicdrv.cli.cgminer_args import translate
from asicdrv.errors import ConfigError
from asicdrv.testing import TestPool, easy_difficulty
from conftest import ROOT


def test_cgminer_options_become_asicdrv_options():
    out, notes = translate(
        ["-o", "stratum+tcp://p:3333", "-u", "w.1", "-p", "x", "-O", "b:y", "--url", "u2"]
    )
    assert out == ["--pool", "stratum+tcp://p:3333", "--user", "w.1", "--pass", "x"] + [
        "--user",
        "b",
        "--pass",
        "y",
        "--pool",
        "u2",
    ]
    # --api-listen is a flag in cgminer: the address is --api-host/--api-port's
    out, _ = translate(["--api-listen", "--api-port", "4029", "--api-allow", "W:127.0.0.1"])
    assert out == ["--api-allow", "W:127.0.0.1", "--api-listen", "127.0.0.1:4029"]
    out, _ = translate(["--api-listen", "--api-network"])
    assert out == ["--api-listen", "0.0.0.0:4028", "--api-allow", "R:0/0"]
    assert translate(["--api-listen", "0.0.0.0:4030"])[0] == ["--api-listen", "0.0.0.0:4030"]
    # set_avalon8_freq: PLLs not given are 0; --log is the status interval, not --log-level
    out, _ = translate(["--avalon8-freq", "800", "--log", "5", "-q", "-T", "--failover-only"])
    assert out == ["--frequency", "800:0:0:0", "--status-interval", "5", "--log-level", "warning"]
    out, notes = translate(["--avalon8-fan", "30-100", "--avalon8-fan", "60"])
    assert out == ["--fan", "60"] and len(notes) == 1 and "--fan PERCENT" in notes[0]
    out, _ = translate(["--avalon8-polling-delay", "10", "--avalon8-temp", "85"])
    assert out == ["--polling-delay", "0.01", "--temp-target", "85"]
    # as set_avalon8_fan refuses them; and an option is not taken for another's value
    for bad in (["--avalon8-fan", "30-abc"], ["--avalon8-fan", "80-30"], ["-O", "--device"]):
        with pytest.raises(ConfigError):
            translate(bad)


def run_asicdrv(*args, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "asicdrv", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_a_working_cgminer_command_line_starts_asicdrv_unchanged():
    with TestPool(difficulty=easy_difficulty()) as pool:
        result = run_asicdrv(
            *("-o", pool.url, "-u", "cg.1", "-p", "x", "--api-listen", "--api-port", "0"),
            *("--avalon8-freq", "800:800:800:800", "--avalon8-voltage-level", "5"),
            *("--avalon8-fan", "30-100", "--avalon8-temp", "85", "--avalon8-polling-delay", "5"),
            *("--failover-only", "-T", "-q", "--log", "5"),
            *("--device", "emu://?nonce_mask=12", "--seconds", "2.5"),
        )
        accepted = len(pool.accepted)
    assert result.returncode == 0, result.stderr
    assert "--avalon8-fan 30-100: the fan PID runs between" in result.stderr
    assert accepted > 0


def test_a_cgminer_conf_is_taken_with_c_and_checked_the_same_way(tmp_path):
    with TestPool(difficulty=easy_difficulty()) as pool:
        conf = tmp_path / "cgminer.conf"
        conf.write_text(
            json.dumps(
                {
                    "pools": [{"url": pool.url, "user": "conf.1", "pass": "x"}],
                    "api-listen": True,
                    "api-port": "0",
                    "avalon8-freq": "700",
                    "failover-only": True,
                }
            )
        )
        result = run_asicdrv("-c", str(conf), "--device", "emu://?nonce_mask=12", "--seconds", "2")
        accepted = len(pool.accepted)
    assert result.returncode == 0, result.stderr
    assert accepted > 0
    conf.write_text(json.dumps({"pools": [{"url": "stratum+tcp://x:1"}], "bogus-option": "1"}))
    bad = run_asicdrv("-c", str(conf), "--device", "emu://", "--seconds", "1")
    assert bad.returncode == 2 and "usage: asicdrv run" in bad.stderr
    assert "unrecognized arguments: --bogus-option 1" in bad.stderr


def test_an_unknown_option_prints_runs_usage():
    result = run_asicdrv("--no-such-option", "--device", "emu://", "--seconds", "1")
    assert result.returncode == 2
    assert "usage: asicdrv run" in result.stderr and "--no-such-option" in result.stderr
