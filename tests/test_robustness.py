"""Nothing lost, nothing crashes, every bad input gets one clear line (issue: robustness).
Commands run as subprocesses; the library through its public API."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import asicdrv
from asicdrv import Emulator
from blocks import GENESIS, notify_params
from conftest import FAST, run, wait_for
from firmware_protocols import PacketType as T, encode_packet

EMU = "emu://?polling_delay=0.005&thermal_tau_s=0.2"


def one_line_error(result):
    return result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def job(difficulty=2**-24, job_id="rb"):
    params, en1, size, _ = notify_params(GENESIS, job_id=job_id)
    return asicdrv.StratumJob.from_notify(
        params, extranonce1=en1, extranonce2_size=size, difficulty=difficulty
    )


# --- crashes and silent deaths ------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--device", "emu://?hashrate=nan"],
        ["status", "--device", "emu://?thermal_tau_s=0"],
        ["status", "--device", "serial:///dev/ttyS0?baud=-9600"],
        [
            "mine",
            "--notify",
            '{"params": null, "extranonce1": "00", "extranonce2_size": 4}',
            "--device",
            EMU,
        ],
        ["mine", "--job", "tools/jobs/block170.json", "--difficulty", "nan", "--device", EMU],
        ["mine", "--job", "tools/jobs/block170.json", "--difficulty", "0", "--device", EMU],
        ["mine", "--job", "tools/jobs/block170.json", "--difficulty", "inf", "--device", EMU],
        ["mine", "--job", "tools/jobs/block170.json", "--seconds", "-1", "--device", EMU],
        ["mine", "--job", "tools/jobs/block170.json", "--seconds", "nan", "--device", EMU],
        ["monitor", "--interval", "nan", "--device", EMU],
        ["monitor", "--count", "-1", "--device", EMU],
        ["emulate", "--serial", "--log", "/no/such/dir/x", "--seconds", "1"],
        ["status", "--device", "emu://?faults=dead_chip:9.99"],
        ["status", "--device", "emu://?faults=stall:-1"],
        ["status", "--device", "emu://?faults=disconnect:0"],
        ["status", "--device", "emu://?faults=fan_stall@9"],
        ["status", "--device", "emu://?hashrate=-5"],
        ["status", "--device", "emu://?polling_delay=-1"],
        ["status", "--device", "emu://?temp_target=-50"],
        ["set", "freq", "\u0668\u0660\u0660", "--device", EMU],  # Arabic-Indic 800
        ["decode", ""],
        ["status", "--device", "bogus://x"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv):
    result = run(*argv)
    assert one_line_error(result) or (
        result.returncode == 2 and "usage:" in result.stderr and "error:" in result.stderr
    ), result.stderr


def test_device_option_works_before_the_command_too():
    result = run("--device", EMU, "status", "--json")
    assert result.returncode == 0 and '"connected": true' in result.stdout


def test_help_texts_are_whole():
    mine = run("mine", "--help").stdout
    assert '"params": [job_id' in mine and "Exit status" in mine
    assert "``" not in mine
    set_help = run("set", "--help").stdout
    assert "MHz" in set_help and "percent" in set_help and "-15..15" in set_help


def test_public_api_raises_only_asic_errors_for_wrong_types():
    calls = [
        lambda: asicdrv.open(123),
        lambda: asicdrv.open("emu://", modules="x"),
        lambda: asicdrv.open("emu://", modules=2.5),
        lambda: asicdrv.open("emu://", bogus=1),
        lambda: asicdrv.open("emu://", polling_delay="x"),
        lambda: asicdrv.open("emu://", hashrate=float("nan")),
        lambda: asicdrv.open("serial:///dev/null?baud=-9600"),
    ]
    for call in calls:
        with pytest.raises(asicdrv.AsicError):
            call()
    with asicdrv.open("emu://", start=False) as chain:
        for call in (
            lambda: chain.set_frequency(800.0),
            lambda: chain.set_fan("50"),
            lambda: chain.set_voltage_level(4.5),
            lambda: chain.submit("notajob"),
            lambda: chain.next_share(timeout=-1),
            lambda: chain.set_fan(None),
            lambda: chain.set_frequency(None),
            lambda: chain.refresh(timeout="x"),
            lambda: chain.set_auto_fan(float("nan")),
            lambda: chain.submit(job(), extranonce2_start=-1),
        ):
            with pytest.raises(asicdrv.AsicError):
                call()


def test_a_poller_that_dies_makes_every_call_raise(mocker):
    with asicdrv.open("emu://", **FAST) as chain:
        mocker.patch("asicdrv.device.poller.protect", side_effect=ZeroDivisionError("boom"))
        deadline = time.monotonic() + 5
        while chain.status().connected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not chain.status().connected
        for call in (
            lambda: chain.set_fan(50),
            lambda: chain.next_share(timeout=0.01),
            lambda: chain.refresh(timeout=1),
        ):
            with pytest.raises(asicdrv.PollerStopped, match="ZeroDivisionError"):
                call()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.one_of(st.integers(0, 40), st.integers(2**24, 2**32 - 1)),
    coinbase=st.integers(0, 2**32 - 1),
    idx=st.integers(0, 255),
    cnt=st.integers(0, 255),
    n2size=st.integers(0, 8),
    offset=st.integers(0, 2**32 - 1),
)
def test_job_assembly_survives_any_valid_crc_counts(count, coinbase, idx, cnt, n2size, offset):
    emu = Emulator(seed=1, chip_thread=False)
    emu.i2c_xfer(0, encode_packet(T.DETECT, {"module_id": 1}), 40)
    static = {
        "coinbase_len": coinbase,
        "nonce2_offset": offset,
        "nonce2_size": n2size,
        "merkle_offset": 36,
        "merkle_count": count,
        "nonce2_start": 0,
        "nonce2_range": 0xFFFFFFFF,
        "clean": 1,
    }
    frames = [
        encode_packet(T.STATIC, static),
        encode_packet(T.COINBASE, data=bytes(32), idx=idx, cnt=cnt),
        encode_packet(T.MERKLES, data=bytes(32), idx=idx, cnt=cnt),
        encode_packet(T.HEADER, data=bytes(32), idx=idx % 6, cnt=4),
        encode_packet(T.JOB_FIN, {}),
    ]
    for frame in frames:
        emu.i2c_xfer(0, frame, 0)
    emu.advance()
    assert emu.i2c_xfer(1, encode_packet(T.POLLING, {}), 40)  # still answers


def test_serial_crc_errors_reach_module_status():
    with asicdrv.open("emu://?link=serial&faults=crc_errors:0.3", **FAST) as chain:
        deadline = time.monotonic() + 10
        while chain.status().modules[0].crc_errors == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert chain.status().modules[0].crc_errors > 0


# more than an open takes on each link (usb: about 340, the AUC's INIT and detection)
@pytest.mark.parametrize("link, transfers", [("inprocess", 300), ("usb", 600), ("serial", 300)])
def test_disconnect_fault_works_on_every_link(link, transfers):
    with asicdrv.open(f"emu://?link={link}&faults=disconnect:{transfers}", **FAST) as chain:
        deadline = time.monotonic() + 30  # a pty under a loaded CI machine is slow
        while chain.status().connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not chain.status().connected
        with pytest.raises(asicdrv.DeviceGone):
            chain.set_fan(50)


def test_mine_keeps_shares_found_before_the_device_went_away():
    result = run(
        "mine",
        "--job",
        "tools/jobs/block170.json",
        "--seconds",
        "20",
        "--difficulty",
        "1e-6",
        "--json",
        "--device",
        "emu://?nonce_mask=12&hashrate=50000&polling_delay=0.005&faults=disconnect:300",
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "gone" in result.stderr or "disconnected" in result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["shares"] and data["error"]


def test_monitor_says_the_device_is_gone_and_exits_2():
    result = run(
        "monitor",
        "--interval",
        "0.2",
        "--device",
        "emu://?link=usb&polling_delay=0.005&faults=disconnect:600",
    )
    assert result.returncode == 2 and "device lost" in result.stderr


def test_scan_with_nothing_attached_says_so_and_exits_1():
    result = run("scan")
    assert result.returncode == 1 and "no AUC" in result.stderr
    assert "emu://" not in result.stdout


@pytest.mark.parametrize("link", ["inprocess", "usb", "serial"])
def test_short_soak_every_good_nonce_is_delivered_or_counted(link):
    """With CRC errors and drops on the line, every NONCE the emulator handed to the link
    with a good CRC ends up a share or a counted rejection."""
    emu = Emulator(seed=21, nonce_mask=11, hashrate=120_000, faults="crc_errors:0.02,drop:0.02")
    with asicdrv.open(f"emu://?link={link}", emulator=emu, **FAST) as chain:
        chain.submit(job())
        deadline = time.monotonic() + 3
        shares = 0
        while time.monotonic() < deadline:
            if chain.next_share(timeout=0.1) is not None:
                shares += 1
        # the chips stop, and what is on its way is read: a nonce still in the pty's buffer
        # when the host closes on purpose is not one the host lost
        chain.idle(timeout=1)

        def accounted():
            return sum(m.shares + sum(m.rejected.values()) for m in chain.status().modules)

        wait_for(lambda: accounted() == emu.traffic.nonces_out, 5)
        chain.close()
    assert shares > 10
    assert accounted() == emu.traffic.nonces_out


def test_a_late_auc_reply_still_reaches_its_module():
    """An AUC answering past the driver's 200 ms USB timeout (here every reply, for a
    second): a poll gets nothing, the chain stays up, and the reply that comes behind the
    next request's, with an old transaction id, goes to the module that request read
    from.  Every nonce handed to the USB link is a share or a counted rejection."""
    emu = Emulator(modules=2, seed=23, nonce_mask=8, hashrate=200_000)
    with asicdrv.open("emu://?link=usb", emulator=emu, **FAST) as chain:
        chain.submit(job())
        for faults, seconds in (("", 1.0), ("auc_late:1", 2.0), ("", 1.5)):
            emu.set_faults(faults)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                chain.next_share(timeout=0.1)
        # enough nonces for the count below to mean something, however loaded the host
        assert wait_for(lambda: emu.traffic.nonces_out > 10, 30)
        chain.idle(timeout=1)

        def accounted():
            return sum(m.shares + sum(m.rejected.values()) for m in chain.status().modules)

        wait_for(lambda: accounted() == emu.traffic.nonces_out, 5)
        link = chain.link
        states = [m.state for m in chain.status().modules]
    assert link.late_answers > 0 and link.late_replies > 0, (link.late_answers, link.stale_replies)
    assert not link.late  # every late frame went to its module
    assert emu.traffic.nonces_out > 10
    assert accounted() == emu.traffic.nonces_out
    assert states == ["ok", "ok"]


def test_a_hung_auc_is_initialised_again_and_the_chain_recovers():
    """Another program's DEINIT leaves the AUC hanging in the next XFER until a RESET.
    Every transfer then times out; after that many in a row (cgminer: 100) the link
    initialises the AUC again (RESET aborts the hung transfer) and the modules are polled
    again: the chain is neither stuck nor dropped."""
    from test_wire_fidelity import AUC_WRITE, cgminer_cmd, open_auc

    emu = Emulator(modules=2, seed=29)
    with asicdrv.open("emu://?link=usb", emulator=emu, **FAST) as chain:
        chain.link.late_in_a_row_limit = 6  # 100 would take ~40 s here
        other = open_auc(emu)  # another program on the same AUC
        other.write(AUC_WRITE, cgminer_cmd(0xA2), 200)  # DEINIT, as cgminer writes it
        assert wait_for(lambda: chain.link.reinits >= 1, 30)
        polls = chain.poll_count
        assert wait_for(
            lambda: (
                chain.poll_count > polls + 20
                and [m.state for m in chain.status().modules] == ["ok", "ok"]
            ),
            30,
        )
        assert chain.link.late_in_a_row == 0


def test_selftest_names_missing_modules_and_link_faults():
    # the faulty module cannot return the known answer: do not wait the default 15 s for it
    # (the healthy one starts near it, nonce 396850)
    result = run(
        "selftest",
        "--expect",
        "2",
        "--json",
        "--kat-seconds",
        "2",
        "--device",
        "emu://?modules=2&polling_delay=0.005&faults=drop:1.0@2&nonce_start=396000",
    )
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 1 and not data["ok"]
    detect = [c for c in data["checks"] if c["check"] == "detect"]
    assert not detect[0]["ok"] and "1 module(s) of 2 expected" in detect[0]["detail"]
    result = run(
        "selftest",
        "--json",
        "--kat-seconds",
        "2",
        "--device",
        "emu://?modules=2&polling_delay=0.005&faults=crc_errors:1.0@2&nonce_start=396000",
    )
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 1
    assert any(c["fault"] == "link" and "address 2" in c["detail"] for c in data["checks"])


def test_tables_fit_80_columns():
    for argv in (["status"], ["monitor", "--count", "1"]):
        result = run(*argv, "--device", "emu://?modules=6&polling_delay=0.005")
        widths = [
            len(line.rstrip())
            for line in result.stdout.splitlines()
            if not line.startswith(("device ", "FINDING"))
        ]
        assert max(widths) <= 80, result.stdout


@pytest.mark.parametrize("link", ["inprocess", "usb", "serial"])
def test_closing_twice_closes_nothing_else(link, tmp_path):
    """A second close() must not close a descriptor number that another file now has."""
    chain = asicdrv.open(f"emu://?link={link}", **FAST)
    chain.close()
    with open(tmp_path / "other", "w") as other:  # may get the pty's old number
        chain.close()
        with chain:
            pass
        other.write("still open")
    assert (tmp_path / "other").read_text() == "still open"


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(0, 2000), max_size=5),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    options=st.dictionaries(
        st.sampled_from(
            [
                "polling_delay",
                "detect_interval",
                "temp_target",
                "overheat_c",
                "nonce_mask",
                "voltage_level",
                "frequency",
                "apply_settings",
                "modules",
                "hashrate",
                "seed",
                "faults",
                "ambient",
                "bogus",
            ]
        ),
        _values,
        max_size=3,
    )
)
def test_open_gives_a_chain_or_an_asic_error_never_anything_else(options):
    try:
        chain = asicdrv.open("emu://", start=False, **options)
    except asicdrv.AsicError:
        return
    chain.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    argv=st.one_of(
        st.tuples(
            st.just("set"),
            st.sampled_from(["fan", "freq", "volt", "x"]),
            st.text(min_size=1, max_size=6),
        ),
        st.tuples(
            st.just("monitor"),
            st.just("--interval"),
            st.text(min_size=1, max_size=6),
            st.just("--count"),
            st.sampled_from(["1", "0", "-1", "x"]),
        ),
        st.tuples(st.just("mine"), st.just("--notify"), st.text(max_size=30)),
    )
)
def test_the_cli_answers_bad_arguments_with_one_line(argv, capsys):
    from asicdrv.cli import main

    capsys.readouterr()  # each example reads only its own output
    argv = list(argv) + ["--device", "emu://?polling_delay=0.005"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage line + one error line, exit 2
        assert exc.code == 2
        err = capsys.readouterr().err
        assert "error:" in err and "Traceback" not in err
        return
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err


def test_selftest_passes_a_healthy_board_behind_a_separate_process():
    """asicdrv emulate --serial runs in its own process: no shortcut reaches it, and the
    known answer must still come within the test's time."""
    import subprocess
    import sys
    from conftest import ROOT

    server = subprocess.Popen(
        # the chips start near the known answer's nonce (396850): no wait for it to come
        [sys.executable, "-m", "asicdrv", "emulate", "--serial", "--seconds", "120"]
        + ["--nonce-start", "396000"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        path = server.stdout.readline().strip()
        result = run("selftest", "--device", f"serial://{path}")
        assert result.returncode == 0, result.stdout
        assert "VERDICT: healthy" in result.stdout and "PASS  known answer" in result.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_serial_port_that_fails_in_tcflush_is_a_device_gone(mocker):
    """A pty or USB-serial adapter that goes away can fail inside pyserial's
    reset_input_buffer (termios.tcflush: termios.error EIO, not an OSError): that is the
    device gone, never a poller that dies of an unknown error."""
    import termios

    with asicdrv.open("emu://?link=serial", **FAST) as chain:
        mocker.patch.object(
            chain.link.port,
            "reset_input_buffer",
            side_effect=termios.error(5, "Input/output error"),
        )
        deadline = time.monotonic() + 10
        while chain.status().connected and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(asicdrv.DeviceGone, match="Input/output error"):
            chain.set_fan(50)


def test_the_live_page_bounds_idle_connections_and_keeps_to_its_access_rule(mocker):
    """Robustness 3, point 4: 400 idle sockets held 410 threads until the clients closed,
    and anyone could read the page.  Connections are bounded in number and in idle time,
    and --web-allow (default localhost) admits as the API's --api-allow does."""
    import socket
    import urllib.request

    from asicdrv.farm import web
    from asicdrv.mining.controller import Controller, DeviceConfig

    mocker.patch.object(web._Handler, "timeout", 0.5)
    controller = Controller([], [DeviceConfig(url="emu://")])  # read, never started
    page = web.LivePage(controller, "127.0.0.1", 0).start()
    try:
        idle = [socket.create_connection(("127.0.0.1", page.port)) for _ in range(40)]
        time.sleep(0.2)
        # beyond the bound they were closed at once
        assert page.refused >= 40 - web.MAX_CLIENTS
        time.sleep(1.0)  # the idle ones are dropped after the timeout
        for s in idle:
            s.settimeout(2)
            assert s.recv(100) == b""  # closed by the page
            s.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{page.port}/status.json", timeout=5):
            pass  # served again once the idle ones are gone
    finally:
        page.close()
    stranger = web.LivePage(controller, "127.0.0.1", 0, allow="10.0.0.0/8").start()
    try:
        with socket.create_connection(("127.0.0.1", stranger.port)) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            s.settimeout(2)
            assert s.recv(100) == b""  # refused: 127.0.0.1 is not admitted
    finally:
        stranger.close()


def test_a_link_scheme_of_ones_own_is_checked_and_then_opens():
    """asicdrv.register_link_scheme: a name that is not one, a built-in scheme or an opener
    that cannot be called is one clear LimitError; a registered scheme opens a chain on
    the opener's link and checks its query's chain options as any URL's."""
    from asicdrv import LimitError
    from asicdrv.transport.emulated import EmulatorLink

    for scheme, opener in [(None, print), (5, print), ("", print), ("usb", print), ("x", 3)]:
        with pytest.raises(LimitError):
            asicdrv.register_link_scheme(scheme, opener)
    emu = Emulator(modules=1, seed=2)
    asicdrv.register_link_scheme("mytestlink", lambda url: EmulatorLink(emu))
    with pytest.raises(LimitError, match="finite"):
        asicdrv.open("mytestlink://a?polling_delay=nan")
    with pytest.raises(LimitError, match="bogus"):
        asicdrv.open("mytestlink://a?bogus=1")
    with asicdrv.open("mytestlink://a?polling_delay=0.01") as chain:
        assert [m.model for m in chain.modules] == ["851"]
