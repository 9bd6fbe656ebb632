"""The cgminer-compatible API on a real TCP socket, against a controller mining emulated
chains for the test pool: framing, commands, access, control, abuse."""

import json
import socket
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from asicdrv import Emulator
from asicdrv.farm.api import ApiCommands, ApiServer, parse_request
from asicdrv.mining.controller import Controller, DeviceConfig
from asicdrv.mining.pool import PoolConfig
from asicdrv.testing import EASY_NONCE_MASK, TestPool, easy_difficulty
from conftest import api_command, api_request, wait_for


ask, command = api_request, api_command


@pytest.fixture(scope="module")
def mining():
    """One controller (one chain of two 851 modules) mining for two test pools, with the
    API open to privileged commands from localhost."""
    pools = [TestPool(difficulty=easy_difficulty()).start() for _ in range(2)]
    emu = Emulator(modules=2, nonce_mask=EASY_NONCE_MASK, seed=4)
    controller = Controller(
        [PoolConfig(p.url, "api.test") for p in pools],
        [DeviceConfig(url="emu://", options={"emulator": emu})],
        retry_min=0.05,
        retry_max=0.3,
    )
    quits = []
    api = ApiServer(
        ApiCommands(controller, on_quit=lambda: quits.append(1)), port=0, allow="W:127.0.0.1"
    ).start()
    controller.start()
    pools[0].wait_for_shares(5)
    yield controller, api, pools, emu, quits
    controller.stop()
    api.close()
    for p in pools:
        p.close()
    emu.close()


def test_reply_is_json_with_a_nul_and_the_connection_closes(mining):
    _, api, *_ = mining
    raw = ask(api.port, b'{"command": "summary"}')
    assert raw.endswith(b"}\0") and raw.count(b"\0") == 1
    reply = json.loads(raw[:-1])
    assert reply["STATUS"][0]["STATUS"] == "S" and reply["STATUS"][0]["Code"] == 11
    assert reply["SUMMARY"][0]["Accepted"] > 0 and reply["id"] == 1


def test_text_requests_get_cgminer_text(mining):
    _, api, *_ = mining
    raw = ask(api.port, b"version")
    assert raw.startswith(b"STATUS=S,") and b"|VERSION,CGMiner=" in raw
    assert b"PROD=AvalonMiner 851" in raw and raw.endswith(b"|\0")


def test_multi_command_wraps_each_reply_in_a_list(mining):
    _, api, *_ = mining
    reply = command(api.port, "devs+pools+version+estats+stats+devs")
    assert set(reply) == {"devs", "pools", "version", "estats", "stats", "id"}
    for name in ("devs", "pools", "version", "estats", "stats"):
        assert isinstance(reply[name], list) and reply[name][0]["STATUS"][0]["STATUS"] == "S"
    assert len(reply["stats"][0]["STATS"]) == 3  # the device, then POOL0 and POOL1
    estats = reply["estats"][0]["STATS"][0]
    assert {"MM ID0", "MM ID1"} <= set(estats) and estats["MM Count"] == 2
    # two modules: no MGHS, so pyasic's total comes from devs (all modules)
    assert "MGHS[" not in estats["MM ID0"] and "PVT_T3[" in estats["MM ID0"]
    mixed = command(api.port, "summary+ascset")
    assert mixed["ascset"][0]["STATUS"][0]["Code"] == 45


@pytest.mark.parametrize(
    "raw, code",
    [
        (b'{"command": "nosuch"}', 14),
        (b"{not json", 23),
        (b'{"parameter": "x"}', 24),
        (b'{"command": ["a"]}', 24),
        (b"\x00\xff\xfe garbage \x80", 14),
        (b"[1,2,3]", 14),
        # robustness 3, point 11: a request 30,000 deep got no reply (RecursionError in
        # the log); "+" alone answered without a STATUS
        (b'{"command": ' + b"[" * 30000 + b"]" * 30000 + b"}", 23),
        (b'{"command": "+"}', 14),
        (b"+", 14),
    ],
)
def test_bad_requests_get_cgminer_status_codes(mining, raw, code):
    _, api, *_ = mining
    reply = ask(api.port, raw)
    assert reply.endswith(b"\0")
    if reply.startswith(b"{"):
        status = json.loads(reply[:-1])["STATUS"][0]
        assert status["STATUS"] == "E" and status["Code"] == code
        assert ("Description" in status) == (code != 14)
    else:
        assert f"Code={code}".encode() in reply


def test_version_and_devdetails_identify_an_avalon(mining):
    _, api, *_ = mining
    version = command(api.port, "version")["VERSION"][0]
    assert version["PROD"] == "AvalonMiner 851" and version["MODEL"] == "851"
    assert len(version["MAC"]) == 12 and int(version["MAC"], 16) >= 0
    details = command(api.port, "devdetails")["DEVDETAILS"][0]
    assert details["Driver"] == "avalon8"
    for text in (json.dumps(version).upper(), json.dumps(details).upper()):
        assert "AVALON" in text
        assert not any(
            s in text
            for s in (
                "BOSMINER",
                "BTMINER",
                "LUXMINER",
                "HIVEON",
                "ANTMINER",
                "BFGMINER",
                "INNOMINER",
            )
        )


def test_ascset_controls_the_modules(mining):
    controller, api, pools, emu, _ = mining
    chain = controller.slots[0].chain
    assert command(api.port, "ascset", "0,led,2-1")["STATUS"][0]["Msg"] == "ASC 0 set OK"
    assert [m.led for m in chain.status().modules] == [False, True]
    wait_for(lambda: emu.modules[1].led == 1, 5)
    command(api.port, "ascset", "0,led,2-0")
    assert [m.led for m in chain.status().modules] == [False, False]
    assert command(api.port, "ascset", "0,fan,80")["STATUS"][0]["Code"] == 119
    wait_for(lambda: all(m.physics.fan_percent == 80 for m in emu.modules), 5)
    command(api.port, "ascset", "0,fan,auto")
    assert command(api.port, "ascset", "0,frequency,700-1")["STATUS"][0]["Code"] == 119
    assert chain.settings()[1]["frequencies_mhz"][0] == [700] * 4
    assert chain.settings()[2]["frequencies_mhz"][0] != [700] * 4
    refused = command(api.port, "ascset", "0,frequency,5000")["STATUS"][0]
    assert refused["STATUS"] == "E" and refused["Code"] == 120 and "frequency" in refused["Msg"]
    assert command(api.port, "ascset", "0,voltage-level,4")["STATUS"][0]["Code"] == 119
    assert command(api.port, "ascset", "0,pdelay,0")["STATUS"][0]["Code"] == 120
    assert command(api.port, "ascset", "0,help")["STATUS"][0]["STATUS"] == "I"
    assert command(api.port, "ascset", "1,led,1-1")["STATUS"][0]["Code"] == 107
    assert command(api.port, "ascset", "0")["STATUS"][0]["Code"] == 116
    assert command(api.port, "ascset")["STATUS"][0]["Code"] == 15
    assert command(api.port, "ascset", "0,led,9-1")["STATUS"][0]["Code"] == 120
    command(api.port, "ascset", "0,frequency,850")


def test_softoff_idles_the_boards_and_softon_resumes(mining):
    controller, api, pools, emu, _ = mining
    reply = command(api.port, "ascset", f"0,softoff,1:{int(time.time())}")
    assert "success" in reply["STATUS"][0]["Msg"]
    wait_for(lambda: controller.soft_off, 5)
    wait_for(
        lambda: all(f == 0 for m in emu.modules for plls in m.physics.frequencies for f in plls), 5
    )
    assert "success" in command(api.port, "ascset", "0,softon,1")["STATUS"][0]["Msg"]
    wait_for(lambda: not controller.soft_off, 5)
    wait_for(
        lambda: all(f > 0 for m in emu.modules for plls in m.physics.frequencies for f in plls), 5
    )
    count = len(pools[0].accepted)
    pools[0].wait_for_shares(count + 3)


def test_pool_commands(mining):
    controller, api, pools, *_ = mining
    assert command(api.port, "switchpool", "5")["STATUS"][0]["Code"] == 26
    assert command(api.port, "switchpool")["STATUS"][0]["Code"] == 25
    assert command(api.port, "switchpool", "1")["STATUS"][0]["Code"] == 27
    wait_for(lambda: controller.active is controller.pools[1], 10)
    count = len(pools[1].accepted)
    pools[1].wait_for_shares(count + 3)
    listed = command(api.port, "pools")["POOLS"]
    assert [p["Stratum Active"] for p in listed] == [False, True]
    assert [p["Priority"] for p in listed] == [1, 0]
    assert command(api.port, "removepool", "1")["STATUS"][0]["Code"] == 67
    assert command(api.port, "disablepool", "0")["STATUS"][0]["Code"] == 48
    assert command(api.port, "disablepool", "1")["STATUS"][0]["Code"] == 51
    assert command(api.port, "enablepool", "0")["STATUS"][0]["Code"] == 47
    assert command(api.port, "enablepool", "0")["STATUS"][0]["STATUS"] == "I"
    added = command(api.port, "addpool", f"{pools[0].url},extra.worker,x")["STATUS"][0]
    assert added["Code"] == 55
    assert command(api.port, "addpool", "nonsense")["STATUS"][0]["Code"] == 53
    assert len(command(api.port, "pools")["POOLS"]) == 3
    assert command(api.port, "removepool", "2")["STATUS"][0]["Code"] == 68
    assert command(api.port, "switchpool", "0")["STATUS"][0]["Code"] == 27
    wait_for(lambda: controller.active is controller.pools[0], 10)


def test_check_privileged_restart_and_quit(mining):
    controller, api, pools, emu, quits = mining
    assert command(api.port, "check", "ascset")["CHECK"] == [{"Exists": "Y", "Access": "Y"}]
    assert command(api.port, "check", "fly")["CHECK"][0]["Exists"] == "N"
    assert command(api.port, "check")["STATUS"][0]["Code"] == 71
    assert command(api.port, "privileged")["STATUS"][0]["Code"] == 46
    opens = controller.slots[0].opens
    assert command(api.port, "restart") == {"STATUS": "RESTART", "id": 1}
    wait_for(
        lambda: controller.slots[0].opens == opens + 1 and controller.slots[0].state == "mining", 20
    )
    count = len(pools[0].accepted)
    pools[0].wait_for_shares(count + 3)
    assert command(api.port, "quit") == {"STATUS": "BYE", "id": 1}
    wait_for(lambda: quits, 5)


def test_read_only_and_unknown_addresses(mining):
    controller, *_ = mining
    reader = ApiServer(ApiCommands(controller), port=0, allow="R:127.0.0.1").start()
    stranger = ApiServer(ApiCommands(controller), port=0, allow="W:10.0.0.0/8").start()
    try:
        assert command(reader.port, "summary")["STATUS"][0]["STATUS"] == "S"
        for name in ("ascset", "restart", "quit", "switchpool", "privileged"):
            status = command(reader.port, name, "0,led,1-1")["STATUS"][0]
            assert (status["STATUS"], status["Code"]) == ("E", 45)
            assert status["Msg"] == f"Access denied to '{name}' command"
        assert ask(stranger.port, b'{"command": "summary"}') == b""
        # cgminer answers check's Access for the asking client (robustness 3, point 5)
        assert command(reader.port, "check", "quit")["CHECK"] == [{"Exists": "Y", "Access": "N"}]
        assert command(reader.port, "check", "summary")["CHECK"][0]["Access"] == "Y"
    finally:
        reader.close()
        stranger.close()


def test_api_allow_takes_the_first_match_and_every_ipv6_form():
    """cgminer's check_connect (api.c) stops at the first entry that matches: in
    R:127.0.0.1,W:127.0.0.0/8 the address 127.0.0.1 is read-only (it was given W)."""
    from asicdrv.farm.api import Access

    assert Access("R:127.0.0.1,W:127.0.0.0/8").level("127.0.0.1") == "R"
    assert Access("R:127.0.0.1,W:127.0.0.0/8").level("127.0.0.2") == "W"
    assert Access("W:127.0.0.0/8,R:127.0.0.1").level("127.0.0.1") == "W"
    assert Access("W:::1").level("::1") == "W"
    assert Access("W:::ffff:127.0.0.1").level("127.0.0.1") == "W"
    assert Access("W:::ffff:127.0.0.1").level("::ffff:127.0.0.1") == "W"
    assert Access("W:fe80::1%eth0").level("fe80::1%eth0") == "W"
    assert Access("R:10.0.0.0/8").level("11.0.0.1") is None
    # cgminer's own forms (setup_ipaccess): everyone, bracketed IPv6, a short IPv4
    assert Access("W:0/0").level("8.8.8.8") == "W" and Access("W:0/0").level("::1") == "W"
    assert Access("R:[::1]").level("::1") == "R"
    assert Access("W:[2001:db8::]/32").level("2001:db8::5") == "W"
    assert Access("W:192.168/16").level("192.168.3.4") == "W"
    assert Access("W:192.168/16").level("192.169.0.1") is None


def _ipaddress_level(spec, address):
    """The judge: --api-allow decided with the ipaddress module (None: refused, "bad": a
    spec that is not an address or address/prefix)."""
    import ipaddress

    def as_ipv4(net):
        mapped = net.network_address.ipv4_mapped if net.version == 6 else None
        if mapped is None or net.prefixlen < 96:
            return net
        return ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}", strict=False)

    entries = []
    for item in spec.split(","):
        group, _, text = item.rpartition("|")
        if text == "0/0":  # cgminer's every address
            entries.append((group, None))
            continue
        address_part, slash, prefix = text.partition("/")
        if address_part and ":" not in address_part and address_part.count(".") < 3:
            address_part += ".0" * (3 - address_part.count("."))  # cgminer pads 10/8
        if slash and not (prefix.isascii() and prefix.isdigit()):
            return "bad"  # a netmask form, which cgminer's syntax does not have
        network = address_part.split("%")[0] + slash + prefix  # a scope is ignored
        try:
            entries.append((group, as_ipv4(ipaddress.ip_network(network, strict=False))))
        except ValueError:
            return "bad"
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return next(
        (g for g, net in entries if net is None or (ip.version == net.version and ip in net)), None
    )


ADDRESS_TEXT = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda ip: f"::ffff:{ip}"),
    st.ip_addresses(v=6).map(lambda ip: f"{ip}%eth0"),
    st.text(alphabet="0123456789abcdef.:%/", max_size=20),
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("RW"),
            ADDRESS_TEXT,
            st.one_of(st.none(), st.integers(0, 129).map(str), st.sampled_from(["", "x", "08"])),
        ),
        min_size=1,
        max_size=3,
    ),
    st.one_of(ADDRESS_TEXT, st.ip_addresses().map(str)),
)
def test_api_allow_decides_as_the_ipaddress_module_would(items, address):
    from asicdrv.errors import ConfigError
    from asicdrv.farm.api import Access

    texts = [text if prefix is None else f"{text}/{prefix}" for _, text, prefix in items]
    if any("," in t or not t.strip() for t in texts):
        return
    expected = _ipaddress_level(",".join(f"{g}|{t}" for (g, _, _), t in zip(items, texts)), address)
    spec = ",".join(f"{g}:{t}" for (g, _, _), t in zip(items, texts))
    try:
        got = Access(spec).level(address)
    except ConfigError:
        got = "bad"
    assert got == expected, spec


def test_abuse_is_served_or_refused_in_time(mining):
    controller, api, pools, *_ = mining
    # a client that connects and says nothing, and one that sends 1 MiB
    silent = socket.create_connection(("127.0.0.1", api.port))
    t0 = time.monotonic()
    silent.settimeout(10)
    assert silent.recv(100) == b"" and time.monotonic() - t0 < 5
    silent.close()
    big = socket.create_connection(("127.0.0.1", api.port), timeout=10)
    try:
        big.sendall(b"{" + b" " * (1 << 20))
    except OSError:
        pass  # the server may close while we still send
    try:
        assert big.recv(100) == b""
    except ConnectionResetError:
        pass
    big.close()
    # 200 clients at once: each gets a whole reply or a closed connection, in time
    results = []

    def one():
        try:
            raw = ask(api.port, b'{"command": "estats"}', timeout=20)
            results.append("ok" if raw.endswith(b"}\0") else "closed" if not raw else "bad")
        except OSError:
            results.append("refused")

    threads = [threading.Thread(target=one) for _ in range(200)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 200 and "bad" not in results
    assert results.count("ok") >= 150 and time.monotonic() - t0 < 30
    count = len(pools[0].accepted)
    pools[0].wait_for_shares(count + 3)  # mining went on


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda c, p: json.dumps({"command": c, "parameter": p}).encode(),
            st.text(max_size=40),
            st.one_of(st.none(), st.text(max_size=40), st.integers(), st.floats()),
        ),
        st.text(max_size=80).map(str.encode),
    )
)
def test_fuzzed_requests_get_a_reply_and_never_an_exception(request_bytes):
    class Idle:
        pools, slots, active, soft_off = [], [], None, False

        def status(self):
            return {
                "uptime_s": 1.0,
                "pools": [],
                "chains": [],
                "modules": {},
                "hashrate_ghs": dict.fromkeys(("5s", "1m", "5m", "15m", "av"), 0.0),
                "totals": dict.fromkeys(("found", "accepted", "rejected", "stale"), 0),
                "active_pool": None,
                "soft_off": False,
            }

        def snapshot(self, max_age):
            return self.status()

    server = ApiServer.__new__(ApiServer)
    from asicdrv.farm.api import Access

    server.commands, server.access = ApiCommands(Idle()), Access("R:127.0.0.1")
    reply = server.answer(request_bytes, "127.0.0.1")
    assert reply.endswith(b"\0")
    commands, is_json, failure = parse_request(request_bytes)
    if is_json:
        json.loads(reply[:-1])


def test_an_idle_api_sleeps_until_a_request_and_closes_at_once(mining):
    """The serving thread wakes for a connection or for close(), never on a timer (every
    idle wake-up costs CPU on a controller board); close() returns without waiting."""
    import os

    server = ApiServer(ApiCommands(mining[0]), port=0, allow="R:127.0.0.1").start()
    thread = server._thread

    def switches() -> int:
        with open(f"/proc/self/task/{thread.native_id}/status") as status:
            return sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)

    try:
        if not os.path.exists(f"/proc/self/task/{thread.native_id}/status"):
            pytest.skip("no /proc task status here to count wake-ups")
        time.sleep(0.3)
        before = switches()
        time.sleep(1.6)  # socketserver's own loop would wake three times
        idle = switches() - before
        assert api_command(server.port, "version")["STATUS"][0]["STATUS"] == "S"
    finally:
        started = time.monotonic()
        server.close()
        closed_in = time.monotonic() - started
    assert idle == 0
    assert closed_in < 0.3 and not thread.is_alive()
