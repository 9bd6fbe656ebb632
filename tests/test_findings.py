"""A module over its model's warning temperature, or with a stalled fan, is a finding
wherever a module is shown (issue 21): status, monitor, selftest's thermal check."""

from __future__ import annotations

from firmware_protocols import records

import asicdrv
from asicdrv.cli.selftest import thermal
from asicdrv.device.findings import module_findings
from asicdrv.models import MODELS


def a_module():
    with asicdrv.open("emu://?polling_delay=0.005") as chain:
        return chain.refresh(timeout=5).modules[0]


def test_the_warning_temperature_sits_between_the_fan_target_and_the_cutoff():
    spec = MODELS["851"]
    assert spec.temp_target_c < spec.warn_c < spec.overheat_c
    assert spec.warn_c == 97.5


def test_a_hot_module_with_a_stalled_fan_has_both_findings_and_fails_thermal():
    """The issue's case: 97.6 degC at 0 RPM, no cutoff yet, selftest said "thermal" PASS
    and the live page "ok"."""
    hot = records.replace(a_module(), hottest_chip_c=97.6, fan_rpm=0, fan_failed=True)
    found = module_findings(hot)
    assert "fan stalled (0 RPM)" in found
    assert any("97.6 degC, over the 851's warning 97.5 degC" in f for f in found), found
    ok, text = thermal(hot)
    assert not ok and "warning 97.5" in text


def test_a_module_under_its_warning_temperature_is_fine():
    module = records.replace(a_module(), hottest_chip_c=90.0)
    assert module_findings(module) == []
    assert thermal(module)[0]
