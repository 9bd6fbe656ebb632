"""``asicdrv decode`` run as a technician runs it: a subprocess."""

import json
import os
import subprocess
import sys

from firmware_protocols import PacketType, auc, encode_packet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_decode(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "asicdrv", "decode", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_names_for_nonce_ackdetect_and_xfer():
    nonce = encode_packet(
        PacketType.NONCE,
        {
            "chip": 5,
            "miner": 3,
            "nonce2": 9,
            "ntime_offset": 1,
            "nonce": 0x12345678,
            "job_crc": 0xBEEF,
            "pool": 2,
        },
    )
    ack = encode_packet(
        PacketType.ACKDETECT,
        {"dna": bytes.fromhex("0102030405060708"), "version": "851-2019030401", "asic_count": 104},
    )
    xfer = auc.build_xfer(3, encode_packet(PacketType.POLLING, {}), rlen=40)
    result = run_decode("--json", nonce.hex(), ack.hex(), xfer.hex())
    assert result.returncode == 0, result.stderr
    first, second, third = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["type"] == "NONCE" and first["crc_ok"] is True
    assert {
        k: first[k] for k in ("chip", "miner", "nonce2", "ntime_offset", "nonce", "job_crc", "pool")
    } == {
        "chip": 5,
        "miner": 3,
        "nonce2": 9,
        "ntime_offset": 1,
        "nonce": 0x12345678,
        "job_crc": 0xBEEF,
        "pool": 2,
    }
    assert second["type"] == "ACKDETECT"
    assert (second["dna"], second["version"], second["asic_count"]) == (
        "0102030405060708",
        "851-2019030401",
        104,
    )
    assert third["type"] == "AUC_XFER"
    assert (third["slave"], third["wlen"], third["rlen"]) == (3, 40, 40)
    assert third["packet"]["type"] == "POLLING"


def test_crc_mismatch_is_shown_with_fields_and_exit_1():
    frame = bytearray(encode_packet(PacketType.STATUS, {"temperature_mm": 42}))
    frame[-1] ^= 0xFF
    result = run_decode("--json", frame.hex())
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["crc_ok"] is False and out["temperature_mm"] == 42


def test_readable_dump_and_stdin_log_lines():
    frame = encode_packet(PacketType.DETECT, {"module_id": 1})
    reply = auc.build_reply(encode_packet(PacketType.ACKDETECT, {"asic_count": 104}))
    log = f"# emulator traffic\n0.001000 > {frame.hex()}\n0.002000 < {reply.hex()}\n"
    result = run_decode(stdin=log)
    assert result.returncode == 0, result.stderr
    assert "DETECT (0x10)" in result.stdout and "module_id" in result.stdout
    assert "AUC_REPLY" in result.stdout and "ACKDETECT (0x40)" in result.stdout
    assert "host->device" in result.stdout and "device->host" in result.stdout


def test_spaced_hex_is_accepted():
    frame = encode_packet(PacketType.DETECT, {"module_id": 2})
    spaced = " ".join(f"{b:02X}" for b in frame)
    result = run_decode("--json", stdin=spaced + "\n")
    assert json.loads(result.stdout)["module_id"] == 2


def test_bad_input_gives_one_line_and_no_traceback():
    bad_type = bytearray(encode_packet(PacketType.DETECT, {}))
    bad_type[2] = 0x99
    for arg, needle in (
        ("nothex!", "not hex"),
        ("434e10", "3 bytes"),
        ("00" * 40, "expected 434e"),
        (bad_type.hex(), "unknown MM packet"),
    ):
        result = run_decode(arg)
        assert result.returncode == 2
        assert needle in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_the_docs_decode_example_runs_as_printed():
    import re

    readme = open(os.path.join(ROOT, "docs", "bench.md")).read()
    command = re.search(r"^\$ asicdrv decode (\S+)$", readme, re.M).group(1)
    result = subprocess.run(
        [sys.executable, "-m", "asicdrv", "decode", command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0 and "DETECT (0x10)" in result.stdout
