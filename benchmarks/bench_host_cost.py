"""Host cost per poll and per NONCE, and memory: asicdrv alone, or beside cgminer.

Run: python benchmarks/bench_host_cost.py [--seconds 30]
    asicdrv alone: an 851 chain on an emulated serial line, the emulator in a process of
    its own (``asicdrv emulate --serial``), so this process's CPU and RSS are the host's:
    CPU microseconds per poll, the process's RSS, and whether construct was loaded.

Run: python benchmarks/bench_host_cost.py --cgminer-loop DIR --cgminer BUILD [--rounds 3]
    side by side: DIR is the cgminer-loop tool set (``sidebyside.py`` and its emulated AUC
    server, pool and fake libusb), BUILD a cgminer avalon8 build made by its ``build.sh``
    (cgminer, fakeusb.so, fakeusb_py.so).  Rounds alternate cgminer and ``asicdrv run``
    on the same emulated AUC with six modules, the same fake libusb socket and the same
    verifying pool; prints each run, the medians and asicdrv's ratios to cgminer.
    ``--host-python PATH`` runs asicdrv with another interpreter; ``--deployed DIR`` makes
    (once) a venv in DIR with this checkout installed as a user installs it (``pip install``,
    not editable: an editable install's finder imports ``urllib`` and ``pathlib`` at every
    start, 0.6 MiB; docs/performance.md) and runs asicdrv from it.
    Before the runs the checkout's bytecode is compiled, as an install compiles it: a module
    compiled from source at start-up leaves the compiler's garbage in RSS (0.8 MiB here).
    Also printed: the RSS of the host interpreter with pyusb loaded the way the harness's
    launcher loads it, before any asicdrv module (what asicdrv cannot make smaller).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HOST_ALONE = """
import json, sys, time
import asicdrv
from asicdrv.bitcoin.known_blocks import GENESIS, notify_params

params, en1, size, _ = notify_params(GENESIS, job_id="b")
job = asicdrv.StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size,
                                     difficulty=2**-20)
with asicdrv.open("serial://" + sys.argv[1]) as chain:
    chain.submit(job)
    time.sleep(3)
    polls0, cpu0 = chain.poll_count, time.process_time()
    time.sleep(float(sys.argv[2]))
    polls, cpu = chain.poll_count - polls0, time.process_time() - cpu0
    shares = 0
    while chain.next_share(timeout=0) is not None:
        shares += 1
with open("/proc/self/status") as f:
    rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
print(json.dumps(dict(polls=polls, cpu_s=cpu, rss_mib=rss, shares=shares,
                      construct="construct" in sys.modules)))
"""


def alone(seconds: float) -> None:
    emulator = subprocess.Popen(
        [sys.executable, "-m", "asicdrv", "emulate", "--serial", "--model", "851"]
        + ["--nonce-mask", "10", "--seconds", str(seconds + 30)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        path = emulator.stdout.readline().strip()
        out = subprocess.run(
            [sys.executable, "-c", HOST_ALONE, path, str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    r = json.loads(out)
    us = 1e6 * r["cpu_s"] / max(r["polls"], 1)
    print(
        f"asicdrv alone, one 851 on a serial line, 20 ms polling, {seconds:.0f} s: "
        f"{r['polls']} polls, {us:.0f} us CPU per poll, RSS {r['rss_mib']:.1f} MiB, "
        f"construct loaded: {'yes' if r['construct'] else 'no'}, {r['shares']} shares"
    )


PYUSB_FLOOR = """
import sys
import usb.backend.libusb1 as libusb1
libusb1.get_backend(find_library=lambda _name: sys.argv[1])
with open("/proc/self/status") as f:
    print(next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024)
"""


def host_wrapper(runs_dir: str, host_python: str) -> str:
    """An interpreter for sidebyside.py's PY: ``host_python`` for the asicdrv host, this one
    for the emulated AUC and the pool."""
    path = os.path.join(runs_dir, "host-python.sh")
    with open(path, "w") as f:
        f.write(
            "#!/bin/sh\n"
            f'case "$1" in *asicdrv_fakeusb.py) exec "{host_python}" "$@";; esac\n'
            f'exec "{sys.executable}" "$@"\n'
        )
    os.chmod(path, 0o755)
    return path


def deployed_python(venv: str) -> str:
    """The python of a venv at ``venv`` with this checkout installed (made if missing)."""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        subprocess.run([python, "-m", "pip", "install", "--quiet", checkout], check=True)
    return python


def side_by_side(loop_dir: str, build: str, rounds: int, seconds: float, host_python: str) -> None:
    runs_dir = os.environ.get("RUNS", "/tmp/asicdrv-sidebyside")
    os.makedirs(runs_dir, exist_ok=True)
    shim = os.path.join(build, "fakeusb_py.so")
    env = dict(
        os.environ, PY=host_wrapper(runs_dir, host_python), CGM=build, PYSHIM=shim, RUNS=runs_dir
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    packages = [os.path.join(checkout, p) for p in ("asicdrv", "firmware_protocols")]
    subprocess.run([host_python, "-m", "compileall", "-q", *packages], env=env, check=True)
    floor = float(
        subprocess.run(
            [host_python, "-c", PYUSB_FLOOR, shim],
            env=dict(env, LD_PRELOAD=os.path.join(build, "fakeusb.so")),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print(f"asicdrv host: {host_python}; its interpreter with pyusb loaded: RSS {floor:.1f} MiB")
    runs: dict[str, list[dict]] = {"cgminer": [], "asicdrv": []}
    for _ in range(rounds):
        for host in runs:
            out = subprocess.run(
                [sys.executable, os.path.join(loop_dir, "sidebyside.py"), "--host", host]
                + ["--modules", "6", "--warmup", "10", "--seconds", str(seconds)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            runs[host].append(r)
            print(
                f"{host:<8} {r['polls']:>5} polls  {r['us_per_poll']:>7.0f} us/poll  "
                f"{r['nonce_replies']:>3} NONCE  {r['us_per_nonce'] or 0:>9.0f} us/NONCE  "
                f"RSS {r['rss_mib']:.1f} MiB",
                flush=True,
            )
            time.sleep(1)
    med = {
        host: {
            key: statistics.median(r[key] or 0 for r in rs)
            for key in ("us_per_poll", "us_per_nonce", "rss_mib")
        }
        for host, rs in runs.items()
    }
    for host, m in med.items():
        print(
            f"median {host:<8} {m['us_per_poll']:7.0f} us/poll {m['us_per_nonce']:9.0f} "
            f"us/NONCE  RSS {m['rss_mib']:.1f} MiB"
        )
    c, a = med["cgminer"], med["asicdrv"]
    print(
        f"asicdrv / cgminer: CPU per poll {a['us_per_poll'] / c['us_per_poll']:.2f}x, "
        f"per NONCE {a['us_per_nonce'] / max(c['us_per_nonce'], 1):.2f}x, "
        f"RSS {a['rss_mib'] / c['rss_mib']:.2f}x (asicdrv's own {a['rss_mib'] - floor:.1f} MiB "
        f"over the {floor:.1f} MiB of its interpreter with pyusb)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cgminer-loop", help="the cgminer-loop tools directory")
    parser.add_argument("--cgminer", help="a cgminer avalon8 build directory (build.sh)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--host-python", default=sys.executable, help="the interpreter of the asicdrv host"
    )
    parser.add_argument("--deployed", metavar="DIR", help="run asicdrv from a venv in DIR")
    args = parser.parse_args()
    if args.deployed:
        args.host_python = deployed_python(args.deployed)
    if args.cgminer_loop and args.cgminer:
        side_by_side(args.cgminer_loop, args.cgminer, args.rounds, args.seconds, args.host_python)
    else:
        alone(args.seconds)
