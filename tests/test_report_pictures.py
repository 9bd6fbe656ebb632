"""Reports a technician reads as pictures (issue 21): the timeline's legend fits and does
not overlap at 1 and 6 modules, the settings read as words, a chip at a normal 72 degC is
not coloured like a warning, and no Python value (True, None, a dict) reaches the page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from asicdrv.bench.chipmap import cell_style
from asicdrv.bench.report import render_html, settings_text, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
CHAR_PX = 7  # 11 px sans-serif: wider than the average character


def timeline(modules: int) -> list:
    return [
        {
            "t": t,
            "modules": {
                str(m): {"hottest_c": 60 + t + m, "fan_percent": 40 + t, "fan_rpm": 3000}
                for m in range(1, modules + 1)
            },
        }
        for t in range(0, 60, 5)
    ]


@pytest.mark.parametrize("modules", [1, 6])
def test_the_timeline_legend_fits_without_overlap(modules):
    root = ET.fromstring(timeline_svg(timeline(modules)))
    width = float(root.get("width"))
    rows: dict[str, list[tuple[float, float]]] = {}
    for text in root.iter(SVG + "text"):
        x, words = float(text.get("x")), text.text or ""
        rows.setdefault(text.get("y"), []).append((x, x + CHAR_PX * len(words)))
    labels = [t.text for t in root.iter(SVG + "text") if (t.text or "").startswith("module ")]
    assert labels == [f"module {m}" for m in range(1, modules + 1)]
    for spans in rows.values():
        spans.sort()
        assert all(end <= width for _, end in spans), spans
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans


def test_settings_read_as_words_not_json():
    same = {"frequencies_mhz": [[800] * 4] * 4, "voltage_levels": [5] * 4, "source": "host"}
    assert settings_text(same) == (
        "PLLs 800/800/800/800 MHz, every miner; voltage level 5; set by this host"
    )
    found = {"frequencies_mhz": [[0, 0, 0, 850], [0, 0, 0, 800]], "voltage_levels": [None, None]}
    found["source"] = "board"
    text = settings_text(found)
    assert "miner 1: 0/0/0/800 MHz" in text and "voltage level -" in text and "{" not in text


def test_a_normal_temperature_is_not_coloured_like_a_warning():
    normal, over_target, hot = (cell_style("temperature", t) for t in (72.0, 93.0, 99.0))
    assert normal[1] == "ok" and hot[1] == "hot"
    red = lambda fill: int(fill[1:3], 16)  # noqa: E731
    green = lambda fill: int(fill[3:5], 16)  # noqa: E731
    assert green(normal[0]) > red(normal[0])  # green family under the fan target
    assert red(over_target[0]) > green(over_target[0])  # amber once over it
    assert red(hot[0]) > 2 * green(hot[0])  # red past the warning


def test_a_report_page_carries_no_python_values():
    report = {
        "kind": "burnin",
        "verdict": "PASS",
        "ok": True,
        "device": "emu://",
        "settings": {"1": {"frequencies_mhz": [[800] * 4] * 4, "voltage_levels": [5] * 4}},
        "modules": [
            {
                "id": 1,
                "model": "851",
                "dna": "d862c2e36b0a42f7",
                "version": "851-190314_4a27",
                "hottest_c": 72.0,
                "fan_rpm": 3000,
                "fan_percent": 40,
                "findings": [],
                "temperatures": [[72.0] * 26] * 4,
            }
        ],
        "timeline": timeline(1),
    }
    page = render_html(report)
    text = re.sub(r"<[^>]+>", " ", page)
    for python in ("True", "False", "None", "{'", '{"'):
        assert python not in text, python


@pytest.mark.parametrize("kind", ["test", "temperature", "nonces", "errors", "health"])
def test_every_chip_map_legend_fits_its_map(kind):
    from asicdrv.bench.chipmap import LEGENDS, chip_map_svg

    value = {"health": ("ok", "fine"), "test": True}.get(kind, 1.0)
    root = ET.fromstring(chip_map_svg([[value] * 26] * 4, kind))
    width, height = float(root.get("width")), float(root.get("height"))
    labels = {label for _, label in LEGENDS[kind]}
    for text in root.iter(SVG + "text"):
        if text.text in labels:
            assert float(text.get("x")) + CHAR_PX * len(text.text) <= width, text.text
            assert float(text.get("y")) <= height
