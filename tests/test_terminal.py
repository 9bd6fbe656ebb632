"""On a terminal, status and monitor draw rich tables with findings in red; in a pipe they
stay plain text (the other tests read that)."""

import os
import pty
import subprocess
import sys

from conftest import ROOT

RED = ";31m"  # bold red: \x1b[1;31m


def on_a_terminal(*args, timeout=60) -> str:
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="50")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "asicdrv", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=env,
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=timeout)
    os.close(master)
    return out.decode(errors="replace")


def test_status_on_a_terminal_is_a_coloured_table():
    out = on_a_terminal(
        "status", "--device", "emu://?modules=2&faults=fan_stall@2&polling_delay=0.005"
    )
    assert "\x1b[" in out and ("┃" in out or "│" in out)  # rich box drawing
    finding = [line for line in out.splitlines() if "FINDING module 2" in line]
    assert finding and RED in finding[0]
    assert not any("FINDING module 1" in line for line in out.splitlines())


def test_monitor_on_a_terminal_draws_a_live_table():
    out = on_a_terminal(
        "monitor", "--count", "2", "--interval", "0.3", "--device", "emu://?polling_delay=0.005"
    )
    assert "\x1b[" in out and "module" in out and "TH/s" in out
