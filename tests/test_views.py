"""Reports, chip maps, burn-in and the repair history, as a technician gets them."""

import json
import multiprocessing
import os
import xml.etree.ElementTree as ET

import pytest

from asicdrv.bench.history import History, HistoryError
from conftest import run

SVG = "{http://www.w3.org/2000/svg}"
FAST = "polling_delay=0.005&thermal_tau_s=0.2&hashrate=200000"
KAT_NEAR = 396000  # chips start near the selftest's known answer (nonce 396850)


def chip_states(html: str, module: int, kind: str) -> dict:
    """{(miner, chip): state} read back from the report's SVG chip map."""
    start = html.index(f"<div class='map' data-module='{module}'><svg")
    while True:
        svg_start = html.index("<svg", start)
        svg = html[svg_start : html.index("</svg>", svg_start) + 6]
        if f'data-kind="{kind}"' in svg:
            break
        start = svg_start + 1
    root = ET.fromstring(svg)
    return {
        (int(r.get("data-miner")), int(r.get("data-chip"))): r.get("data-state")
        for r in root.iter(f"{SVG}rect")
        if r.get("data-chip") is not None
    }


def test_selftest_report_marks_the_dead_chip_in_its_place(tmp_path):
    html, data, db = tmp_path / "r.html", tmp_path / "r.json", tmp_path / "h.sqlite"
    for _ in range(2):  # the board comes back to the bench unrepaired
        result = run(
            "selftest",
            "--device",
            f"emu://?faults=dead_chip:2.5&{FAST}&nonce_start={KAT_NEAR}",
            "--report",
            str(html),
            "--report",
            str(data),
            "--db",
            str(db),
        )
        assert result.returncode == 1
    text = html.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # no network
    states = chip_states(text, 1, "test")
    assert len(states) == 104
    assert {k for k, v in states.items() if v == "failed"} == {(2, 5)}
    temps = chip_states(text, 1, "temperature")
    assert temps[(2, 5)] == "unknown"  # a dead chip's sensor is silent
    assert sum(v == "ok" for v in temps.values()) == 103
    report = json.loads(data.read_text())
    module = report["modules"][0]
    assert module["dead_chips"] == [[2, 5]] and module["chip_test"][2][5] is False
    assert report["kind"] == "selftest" and not report["ok"]
    assert len(report["timeline"]) >= 4 and 'class="timeline"' in text
    # both runs are in the history, under the module's DNA, with the failed chip
    listing = run("history", module["dna"], "--db", str(db), "--json")
    runs = json.loads(listing.stdout)
    assert [r["failed_chips"] for r in runs] == [[[2, 5]], [[2, 5]]]
    table = run("history", "--db", str(db)).stdout
    assert module["dna"] in table and "2.5" in table


# an MM50 (32 chips) at 36 kH/s: a median of about 32 nonces a chip in 8 s, enough to call a
# chip at a fifth of the rate weak, at some 135 nonces/s, under what the host drains from the
# MM's FIFO at a poll a millisecond (an overflow would make the counts unfit, and the verdict
# INCONCLUSIVE)
COUNTED = "emu://?model=MM50&nonce_mask=5&hashrate=36000&polling_delay=0.001"


def test_burnin_names_a_dead_and_a_slow_chip(tmp_path):
    report = tmp_path / "b.json"
    faulty = f"{COUNTED}&faults=dead_chip:0.7,slow_chip:1.3"
    result = run(
        "burnin", "--minutes", "0.13", "--device", faulty, "--report", str(report),
        "--db", str(tmp_path / "h.sqlite"),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    module = json.loads(report.read_text())["modules"][0]
    assert module["dead_chips"] == [[0, 7]] and module["weak_chips"] == [[1, 3]], module
    assert len(module["findings"]) == 2 and module["fifo_overflows"] == 0
    assert "FINDING module 1: weak chip: miner 1 chip 3" in result.stdout


def test_burnin_names_sensor_faults_without_counting_nonces(tmp_path):
    # the sensors of an 851 (per chip): no nonce count needed to call them
    report = tmp_path / "b.json"
    sensors = "stuck_sensor:0.5,zero_sensor:3.11"
    device = f"emu://?hashrate=30000&polling_delay=0.001&thermal_tau_s=1&faults={sensors}"
    result = run(
        "burnin", "--minutes", "0.05", "--device", device, "--report", str(report),
        "--db", str(tmp_path / "h.sqlite"),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    findings = " ".join(json.loads(report.read_text())["modules"][0]["findings"])
    assert (
        "stuck sensor: miner 0 chip 5" in findings and "sensor reads 0: miner 3 chip 11" in findings
    )


def test_burnin_passes_a_healthy_board(tmp_path):
    healthy = run("burnin", "--minutes", "0.06", "--device", COUNTED, "--db", str(tmp_path / "h"))
    assert healthy.returncode == 0 and "VERDICT: PASS" in healthy.stdout, healthy.stdout


def _record_many(path, tag, count):
    with History(path) as history:
        for n in range(count):
            history.record(
                {
                    "kind": "burnin",
                    "started": n,
                    "device": tag,
                    "modules": [
                        {"dna": f"{tag}{n:04d}", "model": "851", "findings": [], "dead_chips": []}
                    ],
                }
            )


def test_history_survives_two_concurrent_writers(tmp_path):
    path = str(tmp_path / "h.sqlite")
    History(path).close()
    writers = [
        multiprocessing.Process(target=_record_many, args=(path, tag, 60)) for tag in ("aa", "bb")
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    with History(path) as history:
        runs = history.runs()
    assert len(runs) == 120 and len({r["dna"] for r in runs}) == 120


@pytest.mark.parametrize(
    "content", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_a_damaged_history_is_a_clear_error_and_left_alone(tmp_path, content):
    path = tmp_path / "h.sqlite"
    path.write_bytes(content)
    with pytest.raises(HistoryError, match="not an asicdrv history database or damaged"):
        History(str(path))
    assert path.read_bytes() == content
    result = run("history", "--db", str(path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_a_foreign_database_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError):
        History(str(path))
    assert path.read_bytes() == before
    assert os.path.getsize(path) == len(before)


def test_a_bad_report_name_is_refused_before_the_test_and_history_is_read_only(tmp_path):
    db = tmp_path / "none" / "h.sqlite"
    for name, message in (
        ("r.txt", "name it .html or .json"),
        ("no/such/dir/r.html", "does not exist"),
    ):
        result = run(
            "burnin",
            "--minutes",
            "30",
            "--device",
            "emu://",
            "--report",
            str(tmp_path / name),
            "--db",
            str(db),
            timeout=30,
        )
        assert result.returncode == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    listing = run("history", "--db", str(db))
    assert listing.returncode == 0 and "does not exist" in listing.stdout
    assert not (tmp_path / "none").exists()  # reading created nothing


SELFTEST_QUICK = "emu://?nonce_start=396000"  # the known answer comes in a second


def test_a_run_the_history_could_not_record_exits_4_and_says_why(tmp_path):
    """Robustness 3, point 6: a history that could not be written exited 0, so a script
    checking the exit status lost the record unnoticed.  The verdict is still printed; the
    exit status is 4 (healthy, not recorded), with one line naming the cause."""
    import sqlite3

    unwritable = "/proc/asicdrv-history.sqlite"  # no file can be made there, even as root
    result = run("selftest", "--device", SELFTEST_QUICK, "--db", unwritable)
    assert "VERDICT: healthy" in result.stdout
    assert result.returncode == 4 and "cannot open" in result.stderr, result.stderr
    # a history a newer asicdrv wrote is refused for writing, with one line
    newer = tmp_path / "newer.sqlite"
    History(str(newer)).close()
    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    result = run("selftest", "--device", SELFTEST_QUICK, "--db", str(newer))
    assert result.returncode == 4 and "written by a newer asicdrv" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # ... and still read
    listing = run("history", "--db", str(newer))
    assert listing.returncode == 0


def test_reading_a_history_opens_it_read_only(tmp_path):
    """A history on read-only media can be read: reading opens it read-only (SQLite's
    mode=ro, else as it stands on the medium) and never writes to it."""
    path = tmp_path / "h.sqlite"
    with History(str(path)) as history:
        history.record({"kind": "selftest", "modules": [{"dna": "aa", "findings": []}]})
    content, stamp = path.read_bytes(), os.path.getmtime(path)
    with History(str(path), create=False) as history:
        assert len(history.runs()) == 1
        with pytest.raises(Exception, match="readonly"):
            history._db.execute("DELETE FROM runs")
    assert path.read_bytes() == content and os.path.getmtime(path) == stamp


def test_a_history_that_cannot_be_set_up_names_the_cause_and_leaves_no_file(tmp_path, mocker):
    """A disk that fills while the history is created: the error says so (not "damaged")
    and no 0-byte file is left behind for the next run to trip over."""
    import sqlite3

    path = tmp_path / "h.sqlite"
    mocker.patch.object(
        History, "_prepare", side_effect=sqlite3.OperationalError("database or disk is full")
    )
    with pytest.raises(HistoryError, match="the disk is full"):
        History(str(path))
    assert not path.exists()
