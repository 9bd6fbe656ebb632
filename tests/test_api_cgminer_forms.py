"""What farm tools expect of the API as cgminer's ``api.c`` writes it (issue 21): the
commands ``asc|N``, ``asccount``, ``notify`` and ``lcd`` with cgminer's codes and messages;
text replies that name only the sections cgminer names; numbers with cgminer's decimals.
The expectations are read from cgminer's api.c (print_data's formats, the MSG_ table,
``isjson ? COMSTR JSON_X : _X COMSTR``), not from our encoder."""

from __future__ import annotations

import json
import re
import time

import pytest

from asicdrv import Emulator
from asicdrv.farm.api import ApiCommands, ApiServer
from asicdrv.mining.controller import Controller, DeviceConfig
from asicdrv.mining.pool import PoolConfig
from asicdrv.testing import EASY_NONCE_MASK, TestPool, easy_difficulty
from conftest import api_command, api_request


@pytest.fixture(scope="module")
def api():
    pool = TestPool(difficulty=easy_difficulty()).start()
    emu = Emulator(modules=2, nonce_mask=EASY_NONCE_MASK, seed=5)
    controller = Controller(
        [PoolConfig(pool.url, "forms.test")],
        [DeviceConfig(url="emu://", options={"emulator": emu})],
    )
    server = ApiServer(ApiCommands(controller), port=0, allow="R:127.0.0.1").start()
    controller.start()
    pool.wait_for_shares(3)
    yield server
    controller.stop()
    server.close()
    pool.close()
    emu.close()


def raw_json(port: int, command: str, parameter=None) -> str:
    request = {"command": command} | ({} if parameter is None else {"parameter": parameter})
    return api_request(port, json.dumps(request).encode())[:-1].decode()


def test_asccount_asc_notify_and_lcd_answer_as_cgminer(api):
    count = api_command(api.port, "asccount")
    assert count["STATUS"][0]["Code"] == 104 and count["STATUS"][0]["Msg"] == "ASC count"
    assert count["ASCS"] == [{"Count": 1}]
    one = api_command(api.port, "asc", "0")
    assert one["STATUS"][0]["Code"] == 106 and one["STATUS"][0]["Msg"] == "ASC0"
    assert one["ASC"][0]["ASC"] == 0 and one["ASC"][0]["Accepted"] > 0
    bad = api_command(api.port, "asc", "3")
    assert (bad["STATUS"][0]["STATUS"], bad["STATUS"][0]["Code"]) == ("E", 107)
    assert bad["STATUS"][0]["Msg"] == "Invalid ASC id 3 - range is 0 - 0"
    missing = api_command(api.port, "asc")
    assert missing["STATUS"][0]["Code"] == 15
    assert missing["STATUS"][0]["Msg"] == "Missing device id parameter"
    notify = api_command(api.port, "notify")
    assert notify["STATUS"][0]["Code"] == 60 and notify["STATUS"][0]["Msg"] == "Notify"
    item = notify["NOTIFY"][0]
    assert item["NOTIFY"] == 0 and item["Reason Not Well"] == "None" and item["Last Well"] > 0
    assert "*Dev Thermal Cutoff" in item
    lcd = api_command(api.port, "lcd")
    assert lcd["STATUS"][0]["Code"] == 125
    assert {"GHS av", "GHS 5s", "Temperature", "Current Pool", "User"} <= set(lcd["LCD"][0])
    assert lcd["LCD"][0]["User"] == "forms.test"


def test_text_replies_name_only_the_sections_cgminer_names(api):
    devs = api_request(api.port, b"devs").decode()
    assert re.match(r"STATUS=S,[^|]*\|ASC=0,Name=AV8,", devs), devs[:200]
    pools = api_request(api.port, b"pools").decode()
    assert "|POOL=0," in pools and "POOLS," not in pools
    stats = api_request(api.port, b"stats").decode()
    assert "|STATS=0," in stats and "|STATS,STATS" not in stats
    summary = api_request(api.port, b"summary").decode()
    assert "|SUMMARY,Elapsed=" in summary
    for named in (b"version", b"config", b"coin", b"asccount", b"lcd"):
        section = named.decode().upper().replace("ASCCOUNT", "ASCS")
        assert f"|{section}," in api_request(api.port, named).decode(), named


def test_numbers_have_cgminer_decimals_in_json_and_text(api):
    devs = raw_json(api.port, "devs")
    assert re.search(r'"Temperature":\d+\.\d{2}[,}]', devs), devs
    assert re.search(r'"MHS av":\d+\.\d{2}[,}]', devs)
    assert re.search(r'"Total MH":\d+\.\d{4}[,}]', devs)
    assert re.search(r'"Difficulty Accepted":\d+\.\d{8}[,}]', devs)
    assert re.search(r'"Device Hardware%":\d+\.\d{4}[,}]', devs)
    text = api_request(api.port, b"summary").decode()
    assert re.search(r",MHS av=\d+\.\d{2},", text) and re.search(r",Utility=\d+\.\d{2},", text)
    # and still JSON a strict parser takes
    assert json.loads(devs)["DEVS"][0]["ASC"] == 0


def test_each_hash_rate_matches_its_own_source():
    """``MHS av`` is what verified shares prove was hashed: on the emulator, what its chips
    really hashed (the pool's difficulty set to the chips' own reporting threshold, so that
    every hash is counted once).  ``GHSmm`` is what the board reports: the emulated board's
    locked cores times MHz, a real 851's figure.  Each matches its own source; the two
    differ by design (docs/farm.md, "Hash rates")."""
    mask = 13  # at 120 kH/s about 15 nonces/s: fewer than the polls drain (one reply each)
    pool = TestPool(difficulty=2.0 ** (mask - 32)).start()
    emu = Emulator(modules=1, nonce_mask=mask, hashrate=120_000, seed=8)
    controller = Controller(
        [PoolConfig(pool.url, "rates.test")],
        [DeviceConfig(url="emu://", options={"emulator": emu})],
    )
    server = ApiServer(ApiCommands(controller), port=0, allow="R:127.0.0.1").start()
    try:
        controller.start()
        scanner = emu.modules[0].scanner
        started, hashed_before = time.monotonic(), scanner.hashes_done
        pool.wait_for_shares(20)
        time.sleep(4)
        devs = api_command(server.port, "devs")["DEVS"][0]
        hashed = (scanner.hashes_done - hashed_before) / (time.monotonic() - started)
        mm = api_command(server.port, "estats")["STATS"][0]["MM ID0"]
        ghs_mm = float(re.search(r"GHSmm\[([^\]]*)\]", mm).group(1))
        board_ghs = emu.modules[0].physics.ghs()
    finally:
        controller.stop()
        server.close()
        pool.close()
        emu.close()
    assert emu.modules[0].nonces_overflowed == 0  # every nonce found was sent
    assert devs["MHS av"] * 1e6 == pytest.approx(hashed, rel=0.3)
    assert ghs_mm == pytest.approx(board_ghs, rel=0.01) and ghs_mm > 1e3
