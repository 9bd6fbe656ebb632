"""What ``asicdrv run`` loads: a mining controller's memory is mostly the code it imports
(docs/performance.md, "Memory").  A real run, mining from a pool with the API on, against a
board in another process, must not load the modules it does not use: ``typing`` and
``dataclasses`` (with ``inspect``, ``ast``, ``dis``), construct's payload definitions, the
emulator, the plug-ins of generations it does not meet, the bench's self-test, ``uuid``
before an API VERSION, OpenSSL's hashlib, ``urllib`` with ``ipaddress``, ``socketserver``.
The run starts with ``-S`` and the checkout and site-packages on its path: an editable
install's finder (run by ``site``) imports ``urllib`` itself, which is not asicdrv's doing."""

import os
import subprocess
import sys
import sysconfig

from asicdrv.testing import TestPool, easy_difficulty
from conftest import ROOT

# the modules the run loaded, written when it exits: what a launcher script sees
LAUNCHER = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('MODULES', ' '.join(sorted(sys.modules)), file=sys.stderr))\n"
    "from asicdrv.cli import main\n"
    "sys.exit(main())\n"
)
NOT_LOADED = (
    "typing",
    "dataclasses",
    "inspect",
    "ast",
    "construct",
    "hashlib",
    "uuid",
    "asicdrv.emulator",
    "asicdrv.generations.avalon2",
    "asicdrv.generations.avalon4",
    "asicdrv.generations.nano",
    "asicdrv.device.chiptest",
    "asicdrv.bench",
    "firmware_protocols.payloads",
    "urllib",
    "ipaddress",
    "socketserver",
)


def test_a_run_loads_only_what_it_uses(serial_board):
    device, _ = serial_board
    with TestPool(difficulty=easy_difficulty()) as pool:
        run = [sys.executable, "-S", "-c", LAUNCHER, "run", "--pool", pool.url, "--user", "u"]
        run += ["--device", device, "--api-listen", "127.0.0.1:0", "--seconds", "6"]
        path = os.pathsep.join([ROOT, sysconfig.get_paths()["purelib"]])
        env = dict(os.environ, PYTHONPATH=path)
        done = subprocess.run(run, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert pool.accepted, done.stderr  # it mined: the path was the whole path
    loaded = set(done.stderr.rsplit("MODULES ", 1)[1].split())
    assert {"asicdrv.generations.avalon8", "asicdrv.farm.api.server"} <= loaded
    unused = sorted(m for m in loaded if any(m == t or m.startswith(f"{t}.") for t in NOT_LOADED))
    assert not unused, unused
