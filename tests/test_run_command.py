"""``asicdrv run`` as a user runs it: a subprocess, a pool that checks every share, a board
in another process whose traffic log shows what reached the wire."""

import os
import signal
import subprocess
import sys
import time

import pytest

from asicdrv.testing import TestPool, easy_difficulty
from conftest import ROOT, api_command, run, wait_for
from firmware_protocols import PacketType as T, decode_packet
from firmware_protocols.encodings import pll_word_to_mhz, pwm_to_fan_percent


def start_run(*args):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asicdrv",
            "run",
            "--status-interval",
            "1",
            "--api-listen",
            "127.0.0.1:0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def host_frames(log):
    frames = []
    for line in log.read_text().splitlines():
        _, direction, data = line.split()
        if direction == ">":
            frames.append(decode_packet(bytes.fromhex(data)))
    return frames


def test_run_mines_on_two_chains_of_three_and_stops_on_sigterm():
    with TestPool(difficulty=easy_difficulty()) as pool:
        proc = start_run(
            "--pool",
            pool.url,
            "--user",
            "farm.a1",
            "--device",
            "emu://?modules=3&nonce_mask=12&seed=1",
            "--device",
            "emu://?modules=3&nonce_mask=12&seed=2",
        )
        try:
            pool.wait_for_shares(60, timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert not pool.rejected, [s.reason for s in pool.rejected][:5]
        keys = [(s.extranonce2, s.ntime, s.nonce) for s in pool.shares]
        assert len(keys) == len(set(keys))  # no two boards hashed the same
        assert "chains 2/2, modules 6" in err and "stopping (SIGTERM)" in err
        final = err.strip().splitlines()[-1]
        assert f"accepted {len(pool.accepted)} rejected 0" in final
        assert pool.subscriptions[0][0].startswith("asicdrv/")


def test_sigterm_leaves_the_board_idle_on_the_wire(serial_board):
    url, log = serial_board
    with TestPool(difficulty=easy_difficulty()) as pool:
        proc = start_run("--pool", pool.url, "--user", "bench.1", "--device", url)
        try:
            pool.wait_for_shares(3, timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    frames = host_frames(log)
    plls = [f for f in frames if f.type == T.SET_PLL]
    fans = [f for f in frames if f.type == T.POLLING and f.fields()["fan"]["change"]]
    last_plls = {f.idx: [pll_word_to_mhz(w) for w in f.fields()["pll_words"]] for f in plls[-4:]}
    assert plls and any(pll_word_to_mhz(w) for f in plls for w in f.fields()["pll_words"])
    assert len(last_plls) == 4 and all(mhz == [0, 0, 0, 0] for mhz in last_plls.values())
    assert pwm_to_fan_percent(fans[-1].fields()["fan"]["pwm"]) == 50


@pytest.mark.parametrize(
    "args, config, message",
    [
        (["--pool", "http://pool:3333", "--user", "u"], None, "use stratum+tcp://"),
        (["--pool", "stratum+tcp://pool", "--user", "u"], None, "give a host and a port"),
        (["--pool", "stratum+tcp://pool:3333"], None, "give --user"),
        (
            ["--pool", "stratum+tcp://pool:3333", "--user", "u", "--frequency", "5000"],
            None,
            "frequency",
        ),
        (["--pool", "stratum+tcp://pool:3333", "--user", "u", "--fan", "2"], None, "fan"),
        ([], "frequncy = 800\n", "unknown key(s) frequncy"),
        # 1500 MHz suits an Avalon 2 (300..2000); 2500 suits no model
        (
            [],
            '[[pool]]\nurl = "stratum+tcp://p:1"\nuser = "u"\n[[device]]\nfrequency = 2500\n',
            "frequency",
        ),
        ([], '[[device]]\nurl = "DEV"\n[device.modules.9]\nfan = 50\n', "module id '9'"),
        ([], "this is not toml", "not valid TOML"),
        (["--api-listen", "127.0.0.1:99999"], None, "listen address"),
        (["--api-allow", "W:not-an-address"], None, "--api-allow"),
        ([], 'metrics_listen = "x:y"\n', "listen address"),
        # robustness 3, point 11: a taken port was found only after the boards were set up
        # (the API off: another test's run may hold the default port 4028 meanwhile)
        (
            ["--pool", "stratum+tcp://127.0.0.1:1", "--user", "u", "--api-listen", "off"]
            + ["--web", "127.0.0.1:TAKEN"],
            None,
            "web page cannot listen",
        ),
        (
            ["--pool", "stratum+tcp://127.0.0.1:1", "--user", "u", "--api-listen", "off"]
            + ["--metrics-listen", "127.0.0.1:TAKEN"],
            None,
            "metrics cannot listen",
        ),
    ],
    ids=[
        "scheme",
        "no-port",
        "no-user",
        "frequency",
        "fan",
        "unknown-key",
        "file-frequency",
        "module-id",
        "not-toml",
        "api-listen",
        "api-allow",
        "metrics-listen",
        "web-port-taken",
        "metrics-port-taken",
    ],
)
def test_bad_configuration_is_one_line_and_no_frame(serial_board, tmp_path, args, config, message):
    import socket

    url, log = serial_board
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    args = [a.replace("TAKEN", str(taken.getsockname()[1])) for a in args]
    if config is not None:
        path = tmp_path / "asicdrv.toml"
        path.write_text(config.replace("DEV", url))
        args = [*args, "--config", str(path)]
    sent_before = len(host_frames(log))
    result = run("run", "--device", url, *args, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    time.sleep(0.2)
    assert len(host_frames(log)) == sent_before == 0
    taken.close()


def test_a_config_file_runs_with_per_module_settings(tmp_path):
    with TestPool(difficulty=easy_difficulty()) as pool:
        path = tmp_path / "asicdrv.toml"
        path.write_text(f'''
log_level = "info"
status_interval = 1
api_listen = "127.0.0.1:0"
[[pool]]
url = "{pool.url}"
user = "cfg.worker"
[[device]]
url = "emu://?modules=2&nonce_mask=12"
frequency = 700
fan = 60
[device.modules.2]
frequency = 650
''')
        result = run("run", "--config", str(path), "--seconds", "2.5", timeout=60)
    assert result.returncode == 0, result.stderr
    assert pool.accepted and not pool.rejected
    assert {s.worker for s in pool.shares} == {"cfg.worker"}
    assert "chains 1/1, modules 2" in result.stderr and "fan 60 %" in result.stderr


def test_the_shipped_example_config_loads():
    from asicdrv.mining.config import load_file

    config = load_file(os.path.join(ROOT, "contrib", "asicdrv.toml"))
    assert [p.url for p in config.pools] == [
        "stratum+tcp://pool.example.com:3333",
        "stratum+tcp://backup.example.com:3333",
    ]


def test_demo_mines_without_hardware_or_network():
    result = run("run", "--demo", "--seconds", "2.5", "--api-listen", "127.0.0.1:0", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "demo: the built-in EMULATOR" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("demo pool: ") and " 0 rejected" in last
    assert int(last.split()[2]) > 0


def test_no_pool_keeps_the_boards_idle_and_serves_the_api():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asicdrv",
            "run",
            "--device",
            "emu://?modules=2",
            "--api-listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )

    def estats():
        try:
            return api_command(port, "estats")["STATS"][0]
        except (OSError, ValueError, AssertionError):
            return None

    try:
        assert wait_for(lambda: (estats() or {}).get("MM Count") == 2, 30)
        stats = estats()
        assert "GHSmm[0.00]" in stats["MM ID0"] and "FanR[50%]" in stats["MM ID1"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "no pool configured" in err


def test_sigterm_is_prompt_while_a_pool_is_still_connecting():
    # a black-hole address: the connect hangs (or fails at once where there is no route)
    proc = start_run(
        "--pool", "stratum+tcp://10.255.255.1:3333", "--user", "u", "--device", "emu://?modules=1"
    )
    time.sleep(3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - t0 < 8
    assert "stopped:" in err


@pytest.mark.parametrize(
    "content, says",
    [
        (b"log_level = '\xff\xfe'\n", "not UTF-8"),
        (b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "not valid TOML"),
        (b"log_level = '" + b"x" * 5_000_000 + b"'\n", "log_level must be one of"),
        (b"".join(b"k%d = 1\n" % n for n in range(200_000)), "and 199990 more"),
    ],
    ids=["not-utf8", "deep", "huge-value", "many-keys"],
)
def test_a_hostile_config_file_is_one_short_line(tmp_path, content, says):
    """Robustness 3, point 11: these gave "internal error ... please report it", or echoed
    megabytes back.  Each is one line naming the problem, exit 2."""
    path = tmp_path / "hostile.toml"
    path.write_bytes(content)
    result = run("run", "--config", str(path), timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[:300]
    assert says in lines[0] and "internal error" not in lines[0]
    assert len(lines[0]) < 1000
