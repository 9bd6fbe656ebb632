import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# the suite starts asicdrv in a hundred subprocesses: let them keep compiled modules
# (__pycache__, ignored by git) rather than compile every module every time, whatever the
# environment says (some CI images set PYTHONDONTWRITEBYTECODE)
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# Fast chain settings for tests: the logic is the same, the clocks are shorter.
FAST = dict(polling_delay=0.002, detect_interval=0.3, fan_interval=0.05, min_cutoff_s=0.5)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# selftest and burnin record every run in the repair history: keep the tests' runs (in this
# process and its subprocesses) out of the user's own history
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

if "ASICDRV_TEST_DATA" not in os.environ:  # made once, by the process that runs pytest
    os.environ["ASICDRV_TEST_DATA"] = os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(
        prefix="asicdrv-test-data-"
    )
    atexit.register(shutil.rmtree, os.environ["ASICDRV_TEST_DATA"], True)

# The longest tests first, so that the workers finish together rather than one running
# a 15 s test at the end (pytest-xdist hands tests out in collection order).
LONGEST_FIRST = (
    "firmware/",
    "test_burnin_names_dead_slow",
    "test_a_redirect_to_a_dead_port",
    "test_selftest_names_missing_modules",
    "test_mine_lists_verified_shares",
    "test_recovery.py",
    "test_mine_keeps_shares_found",
    "test_cgminer_cli.py",
    "test_live_page.py",
    "test_burnin_verdicts.py",
    "test_passive.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        return next((i for i, key in enumerate(LONGEST_FIRST) if key in item.nodeid), 99)

    items.sort(key=rank)


def run(*args, timeout=120):
    """``asicdrv ARGS`` as a subprocess; a traceback on stderr fails the test."""
    result = subprocess.run(
        [sys.executable, "-m", "asicdrv", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def wait_for(predicate, timeout=10.0):
    """True once ``predicate()`` is, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def api_request(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """One raw request to an API on 127.0.0.1:``port``; everything it sends until it closes."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def api_command(port: int, command: str, parameter=None) -> dict:
    """A JSON command; the decoded reply (its NUL checked)."""
    import json

    request = {"command": command}
    if parameter is not None:
        request["parameter"] = parameter
    raw = api_request(port, json.dumps(request).encode())
    assert raw.endswith(b"\0"), raw[-20:]
    return json.loads(raw[:-1])


@pytest.fixture
def serial_board(tmp_path):
    """``asicdrv emulate --serial`` in its own process, with its traffic log."""
    log = tmp_path / "traffic.log"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asicdrv",
            "emulate",
            "--serial",
            "--nonce-mask",
            "12",
            "--log",
            str(log),
            "--seconds",
            "120",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        yield f"serial://{server.stdout.readline().strip()}", log
    finally:
        server.terminate()
        server.wait(timeout=10)
