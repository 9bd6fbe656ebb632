"""/metrics scraped over HTTP and parsed with prometheus_client's own text parser."""

import os
import re
import shutil
import subprocess
import urllib.request

import pytest

from prometheus_client.parser import text_string_to_metric_families

from asicdrv import Emulator
from asicdrv.mining.controller import Controller, DeviceConfig
from asicdrv.farm.metrics import serve_metrics
from asicdrv.mining.pool import PoolConfig
from asicdrv.testing import EASY_NONCE_MASK, TestPool, easy_difficulty
from conftest import ROOT, wait_for


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family, **labels):
    return [s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


def test_metrics_describe_modules_and_pools():
    emu = Emulator(modules=2, nonce_mask=EASY_NONCE_MASK, seed=7)
    with TestPool(difficulty=easy_difficulty()) as pool:
        controller = Controller(
            [PoolConfig(pool.url, "m.1")], [DeviceConfig(url="emu://", options={"emulator": emu})]
        )
        controller.start()
        server, _ = serve_metrics(controller, "127.0.0.1", 0)
        chip_server, _ = serve_metrics(controller, "127.0.0.1", 0, per_chip=True)
        try:
            pool.wait_for_shares(5)
            chain = controller.slots[0].chain
            wait_for(lambda: all(m.hashrate_ghs > 0 for m in chain.status().modules), 10)
            families = scrape(server.server_port)
            with_chips = scrape(chip_server.server_port)
        finally:
            server.shutdown()
            chip_server.shutdown()
            controller.stop()
    emu.close()
    status = controller.status()
    up = samples(families["asicdrv_module_up"])
    assert sorted((s.labels["chain"], s.labels["module"]) for s in up) == [("0", "1"), ("0", "2")]
    assert all(s.value == 1 and s.labels["model"] == "851" for s in up)
    assert len(samples(families["asicdrv_miner_temperature_max_celsius"])) == 8
    assert all(
        20 < s.value < 110 for s in samples(families["asicdrv_miner_temperature_max_celsius"])
    )
    rpm = samples(families["asicdrv_module_fan_rpm"], module="1")[0].value
    assert rpm > 0
    plls = samples(families["asicdrv_pll_frequency_hertz"], module="1", miner="0")
    assert len(plls) == 4 and max(s.value for s in plls) == 850e6
    reported = samples(
        families["asicdrv_module_hashrate_hashes_per_second"], module="1", source="reported"
    )[0].value
    assert reported > 1e12
    accepted = samples(families["asicdrv_shares"], pool="0", result="accepted")
    assert accepted[0].name == "asicdrv_shares_total" and accepted[0].value >= 5
    assert accepted[0].value <= status["pools"][0]["counts"]["accepted"]
    assert samples(families["asicdrv_pool_up"], pool="0")[0].value == 1
    assert "asicdrv_chip_temperature_celsius" not in families
    assert len(samples(with_chips["asicdrv_chip_temperature_celsius"])) == 2 * 104
    # every series the shipped dashboard and alerts use is one we serve
    served = {s.name for f in with_chips.values() for s in f.samples}
    for name in ("grafana-dashboard.json", "asicdrv-alerts.yml"):
        with open(os.path.join(ROOT, "contrib", name)) as f:
            used = set(re.findall(r"asicdrv_[a-z_]+", f.read())) - {"asicdrv_overview"}
        assert used and used <= served, used - served


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="no promtool (.ci/run installs Debian's prometheus)")
def test_the_alert_rules_pass_promtool_and_their_unit_tests():
    """contrib/asicdrv-alerts.yml is valid for Prometheus, and its unit tests
    (contrib/asicdrv-alerts.test.yml: a controller that stops answering or vanishes, a
    hash-rate drop against its own average, boards left in soft off) pass."""
    contrib = os.path.join(ROOT, "contrib")
    for command, file in (("check", "asicdrv-alerts.yml"), ("test", "asicdrv-alerts.test.yml")):
        result = subprocess.run(
            [PROMTOOL, command, "rules", file],
            cwd=contrib,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
