"""The real pyasic (0.79.0) reads and controls ``asicdrv run``.

pyasic only talks to port 4028, so its connections to (127.0.0.1, 4028) are redirected to the
controller's free port; its parsing is untouched.  Each case runs ``asicdrv run`` as a
subprocess on the emulator, mining for a test pool, and compares what pyasic sees with what
``asicdrv status``-style data says (the controller's own API replies and the device layer).
"""

import asyncio
import re
import socket
import subprocess
import sys

import pytest

pyasic = pytest.importorskip("pyasic")

from asicdrv.testing import TestPool, easy_difficulty  # noqa: E402
from conftest import ROOT, api_command, wait_for  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


api = api_command


@pytest.fixture
def controller_run(monkeypatch):
    """Start ``asicdrv run`` on an emulated chain; pyasic's port 4028 leads to it."""
    procs, pools = [], []

    def start(device: str, *extra: str):
        pool = TestPool(difficulty=easy_difficulty()).start()
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "asicdrv",
                "run",
                "--pool",
                pool.url,
                "--user",
                "farm.1",
                "--device",
                device,
                "--api-listen",
                f"127.0.0.1:{port}",
                "--api-allow",
                "W:127.0.0.1",
                "--status-interval",
                "60",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        procs.append(proc)
        pools.append(pool)
        wait_for(lambda: _answers(port), 30)
        pool.wait_for_shares(3, timeout=30)
        # the API answers from a snapshot at most 0.5 s old: wait until it shows the shares
        wait_for(lambda: api(port, "pools")["POOLS"][0]["Accepted"] > 0, 10)
        real_open = asyncio.open_connection

        async def redirected(host=None, port_=None, *args, **kwargs):
            if port_ == 4028 and host in ("127.0.0.1", "localhost"):
                return await real_open("127.0.0.1", port, *args, **kwargs)
            return await real_open(host, port_, *args, **kwargs)

        monkeypatch.setattr(asyncio, "open_connection", redirected)
        return port, pool

    yield start
    for proc in procs:
        proc.terminate()
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    for pool in pools:
        pool.close()


def _answers(port) -> bool:
    try:
        return api(port, "version")["STATUS"][0]["STATUS"] == "S"
    except (OSError, ValueError):
        return False


def mm_values(mm: str) -> dict:
    return {k: v for k, v in re.findall(r"(\w+)\[([^\]]*)\]", mm)}


@pytest.mark.parametrize(
    "model, cls",
    [("821", "CGMinerAvalon821"), ("841", "CGMinerAvalon841"), ("851", "CGMinerAvalon851")],
)
def test_pyasic_recognises_the_model_and_reads_what_the_controller_says(controller_run, model, cls):
    port, pool = controller_run(f"emu://?model={model}&modules=1&nonce_mask=12")

    async def read():
        miner = await pyasic.get_miner("127.0.0.1")
        return miner, await miner.get_data()

    miner, data = asyncio.run(read())
    assert type(miner).__name__ == cls
    estats = api(port, "estats")["STATS"][0]
    mm = mm_values(estats["MM ID0"])
    version = api(port, "version")["VERSION"][0]
    # hash rate: one module, so pyasic sums the boards' MGHS: the modules' own figure
    boards = [float(x) for x in mm["MGHS"].split()]
    assert float(data.hashrate) == pytest.approx(sum(boards) / 1000, rel=0.01)
    assert float(mm["GHSmm"]) == pytest.approx(sum(boards), rel=0.01)
    assert len(data.hashboards) == 4
    tmax = [int(x) for x in mm["MTmax"].split()]
    tavg = [int(x) for x in mm["MTavg"].split()]
    for n, board in enumerate(data.hashboards):
        assert not board.missing
        assert board.chip_temp == tmax[n] and board.inlet_temp == tavg[n]
        assert float(board.hashrate) == pytest.approx(boards[n] / 1000, rel=0.01)
    assert data.fans[0].speed == int(mm["Fan1"]) > 0
    assert data.env_temp == float(mm["Temp"])
    assert data.mac == ":".join(re.findall("..", version["MAC"].upper()))
    assert data.fw_ver == version["CGMiner"] and data.api_ver == version["API"]
    assert [p.url for p in data.pools] and data.pools[0].accepted > 0
    assert data.uptime is not None and data.uptime >= 0


def test_pyasic_fault_light_and_soft_off_round_trip(controller_run):
    port, pool = controller_run("emu://?modules=1&nonce_mask=12")

    async def control():
        miner = await pyasic.get_miner("127.0.0.1")
        on = await miner.fault_light_on()
        light_on = (await miner.get_data()).fault_light
        off = await miner.fault_light_off()
        light_off = (await miner.get_data()).fault_light
        stopped = await miner.stop_mining()
        return on, light_on, off, light_off, stopped, miner

    on, light_on, off, light_off, stopped, miner = asyncio.run(control())
    assert (on, light_on, off, light_off) == (True, True, True, False)
    assert stopped is True
    wait_for(
        lambda: (
            "PLL" not in api(port, "estats")["STATS"][0]["MM ID0"]
            and float(mm_values(api(port, "estats")["STATS"][0]["MM ID0"])["GHSmm"]) == 0
        ),
        20,
    )
    assert asyncio.run(miner.resume_mining()) is True
    wait_for(lambda: float(mm_values(api(port, "estats")["STATS"][0]["MM ID0"])["GHSmm"]) > 0, 20)


def test_pyasic_total_equals_the_controller_total_with_several_modules(controller_run):
    port, pool = controller_run("emu://?modules=3&nonce_mask=12")

    async def read():
        miner = await pyasic.get_miner("127.0.0.1")
        return await miner.get_data()

    data = asyncio.run(read())
    devs = api(port, "devs")["DEVS"][0]
    estats = api(port, "estats")["STATS"][0]
    assert estats["MM Count"] == 3 and {"MM ID0", "MM ID1", "MM ID2"} <= set(estats)
    # no MGHS with several modules: pyasic's hash rate is devs MHS 1m, the whole controller
    assert float(data.hashrate) == pytest.approx(devs["MHS 1m"] / 1e6, rel=0.2, abs=1e-9)
    assert devs["MHS 1m"] > 0 and devs["MM Count"] == 3


def test_pyasic_sees_only_the_first_module_and_the_others_are_in_estats(controller_run):
    """Why pyasic cannot see a second module, pinned (docs/farm.md): pyasic 0.79's
    AvalonMiner backend reads STATS[0]["MM ID0"] only, board by board up to its class's
    expected hashboards; a hot second module is invisible to it whatever the layout.  A
    farm tool reads it in estats' "MM ID1" (or the Prometheus metrics)."""
    port, pool = controller_run("emu://?modules=2&nonce_mask=12&faults=overheat:30@2")
    wait_for(
        lambda: (
            int(mm_values(api(port, "estats")["STATS"][0]["MM ID1"])["TMax"])
            > int(mm_values(api(port, "estats")["STATS"][0]["MM ID0"])["TMax"]) + 15
        ),
        30,
    )
    estats = api(port, "estats")["STATS"][0]
    first, second = mm_values(estats["MM ID0"]), mm_values(estats["MM ID1"])

    async def read():
        miner = await pyasic.get_miner("127.0.0.1")
        return await miner.get_data()

    data = asyncio.run(read())
    after = mm_values(api(port, "estats")["STATS"][0]["MM ID0"])  # the boards still warm up
    hottest_seen = max(b.chip_temp for b in data.hashboards if b.chip_temp is not None)
    assert len(data.hashboards) == 4  # one module's boards, whatever the modules
    assert hottest_seen <= max(int(first["TMax"]), int(after["TMax"])) + 2  # module 1's
    assert int(second["TMax"]) > hottest_seen + 10  # the hot module: only in MM ID1


@pytest.mark.parametrize("model, nearest", [("711", "721"), ("910", "921")])
def test_a_model_pyasic_has_no_class_for_reads_as_the_nearest_when_asked(
    controller_run, model, nearest
):
    """pyasic 0.79 has no class for a 711 or a 910: by default it sees "AvalonUnknown" with
    no boards (the real model is reported, as cgminer would); with --api-pyasic-nearest the
    API's PROD names the nearest model, whose MM ID tokens are the same, and pyasic reads
    every board it expects from them.  MODEL and the MM ID's Ver still say the real model."""
    port, _ = controller_run(f"emu://?model={model}&modules=1&nonce_mask=12")

    async def read():
        miner = await pyasic.get_miner("127.0.0.1")
        return miner, await miner.get_data()

    miner, data = asyncio.run(read())
    assert type(miner).__name__ == "AvalonUnknown" and not data.hashboards

    port, _ = controller_run(
        f"emu://?model={model}&modules=1&nonce_mask=12", "--api-pyasic-nearest"
    )
    miner, data = asyncio.run(read())
    version = api(port, "version")["VERSION"][0]
    mm = mm_values(api(port, "estats")["STATS"][0]["MM ID0"])
    assert type(miner).__name__ == f"CGMinerAvalon{nearest}"
    assert version["PROD"] == f"AvalonMiner {nearest}" and version["MODEL"] == model
    assert mm["Ver"].startswith(model[:3])
    assert len(data.hashboards) == 4
    tmax = [int(x) for x in mm["MTmax"].split()]
    assert [b.chip_temp for b in data.hashboards] == tmax[:4]
    assert all(not b.missing for b in data.hashboards)
