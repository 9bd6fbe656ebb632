"""The live page of ``asicdrv run --web``, driven in headless Chromium: the page's own
JavaScript fetches the status and draws the cards and chip maps."""

import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from asicdrv.testing import TestPool, easy_difficulty
from conftest import ROOT

BROWSER = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium (.ci/run installs Debian's chromium)"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rendered(url: str) -> str:
    """The DOM after the page's scripts ran for 3 s of virtual time."""
    result = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout


def run_with_web(pool, port: int, device: str) -> subprocess.Popen:
    """`asicdrv run` mining ``device`` for ``pool``, the live page on ``port``, no API."""
    return subprocess.Popen(
        [sys.executable, "-m", "asicdrv", "run", "--pool", pool.url, "--user", "web.1"]
        + ["--api-listen", "off", "--web", f"127.0.0.1:{port}", "--device", device],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )


def test_live_page_shows_every_module_the_dead_chip_and_moving_numbers():
    port = free_port()
    with TestPool(difficulty=easy_difficulty()) as pool:
        proc = run_with_web(pool, port, "emu://?modules=2&nonce_mask=12&faults=dead_chip:2.5@2")
        try:
            pool.wait_for_shares(5, timeout=30)
            first = rendered(f"http://127.0.0.1:{port}/")
            time.sleep(2)
            second = rendered(f"http://127.0.0.1:{port}/")
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert re.search(r"<title>AvalonMiner 851 - asicdrv", first)
    counts = [int(re.search(r"id=\"accepted\">(\d+)<", dom).group(1)) for dom in (first, second)]
    assert 0 < counts[0] < counts[1]  # the page follows the mining
    for key, dead in (("0-1", set()), ("0-2", {(2, 5)})):
        card = second[second.index(f'id="module-{key}"') :]
        svg = card[card.index("<svg") : card.index("</svg>") + 6]
        rects = [
            r
            for r in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}rect")
            if r.get("data-chip") is not None
        ]
        assert len(rects) == 104
        failed = {
            (int(r.get("data-miner")), int(r.get("data-chip")))
            for r in rects
            if r.get("data-state") == "failed"
        }
        assert failed == dead


def test_a_stalled_fan_is_an_alarm_on_the_page_and_in_the_card():
    """A module whose fan stalls shows it in its card's state (not "ok") and in the
    page-level alarm, whatever else is fine (issue 21)."""
    port = free_port()
    with TestPool(difficulty=easy_difficulty()) as pool:
        proc = run_with_web(
            pool, port, "emu://?modules=2&nonce_mask=12&faults=fan_stall@2&polling_delay=0.005"
        )
        try:
            pool.wait_for_shares(2, timeout=30)
            time.sleep(2)  # the stall is judged over a few polls
            dom = rendered(f"http://127.0.0.1:{port}/")
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    alarm = re.search(r'<div id="alarm" class="alarm"( hidden="")?>(.*?)</div>', dom, re.S)
    assert alarm is not None and alarm.group(1) is None, dom[:2000]
    assert "ATTENTION" in alarm.group(2) and "module 0-2: fan stalled (0 RPM)" in alarm.group(2)
    card = dom[dom.index('id="module-0-2"') :]
    state = re.search(r"<span>state</span><span( class=\"bad\")?>([^<]*)<", card)
    assert state.group(1) and "fan stalled" in state.group(2)
    first = dom[dom.index('id="module-0-1"') :]
    assert re.search(r"<span>state</span><span>ok<", first)
