"""Prometheus metrics for the controller (``asicdrv run --metrics-listen [HOST:]PORT``,
default port 9184), through ``prometheus_client``.

Read at scrape time from ``Controller.status()``: nothing is computed between scrapes.
Labels: ``chain`` (its index), ``module`` (bus id), ``miner``; ``pool`` (its number).  Per-chip
temperatures multiply a farm's series by 104 per module, so they are off unless asked
(``per_chip=True``, ``--metrics-per-chip``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class ControllerCollector:
    def __init__(self, controller, per_chip: bool = False):
        self.controller = controller
        self.per_chip = per_chip

    def describe(self):
        return []  # collected lazily: no scrape at registration

    def collect(self):
        state = self.controller.status()
        yield from self._modules(state)
        yield from self._pools(state)
        uptime = GaugeMetricFamily("asicdrv_uptime_seconds", "Controller uptime")
        uptime.add_metric([], state["uptime_s"])
        yield uptime
        soft = GaugeMetricFamily(
            "asicdrv_soft_off", "1 while the boards are held idle by a soft off"
        )
        soft.add_metric([], float(state["soft_off"]))
        yield soft

    def _modules(self, state):
        m_labels = ["chain", "module"]
        up = GaugeMetricFamily(
            "asicdrv_module_up",
            "1 while the module answers polls",
            labels=m_labels + ["model", "dna"],
        )
        temp = GaugeMetricFamily(
            "asicdrv_module_temperature_celsius", "The MM board sensor", labels=m_labels
        )
        hottest = GaugeMetricFamily(
            "asicdrv_module_hottest_chip_celsius", "Hottest chip of the module", labels=m_labels
        )
        miner_max = GaugeMetricFamily(
            "asicdrv_miner_temperature_max_celsius",
            "Hottest chip per miner",
            labels=m_labels + ["miner"],
        )
        miner_avg = GaugeMetricFamily(
            "asicdrv_miner_temperature_avg_celsius",
            "Mean chip temperature per miner",
            labels=m_labels + ["miner"],
        )
        fan_rpm = GaugeMetricFamily("asicdrv_module_fan_rpm", "Fan speed", labels=m_labels)
        fan_duty = GaugeMetricFamily(
            "asicdrv_module_fan_duty_ratio", "Fan PWM duty (0..1)", labels=m_labels
        )
        freq = GaugeMetricFamily(
            "asicdrv_pll_frequency_hertz",
            "Frequency of each PLL of each miner, as the module reports it (0: off)",
            labels=m_labels + ["miner", "pll"],
        )
        volts = GaugeMetricFamily(
            "asicdrv_miner_voltage_volts", "Measured chip core voltage", labels=m_labels + ["miner"]
        )
        rate = GaugeMetricFamily(
            "asicdrv_module_hashrate_hashes_per_second",
            "Hash rate: 'reported' by the module (PLL locks x MHz), "
            "'shares' from verified shares over 1 min",
            labels=m_labels + ["source"],
        )
        hw = CounterMetricFamily(
            "asicdrv_module_hardware_errors",
            "Hardware errors (MM counted and host-verified failures)",
            labels=m_labels,
        )
        crc = CounterMetricFamily(
            "asicdrv_module_crc_errors", "Frames with a bad CRC", labels=m_labels
        )
        cutoff = GaugeMetricFamily(
            "asicdrv_module_cutoff",
            "1 while overheat or stale-sensor protection holds the PLLs off",
            labels=m_labels,
        )
        chip = GaugeMetricFamily(
            "asicdrv_chip_temperature_celsius",
            "Per chip (opt-in)",
            labels=m_labels + ["miner", "chip"],
        )
        accounts = state["modules"]
        for chain in state["chains"]:
            status = chain["status"]
            if status is None:
                continue
            mining = chain["state"] == "mining"
            for m in status.modules:
                base = [str(chain["index"]), str(m.id)]
                up.add_metric(base + [m.model, m.dna], float(mining and m.state != "lost"))
                if not mining:
                    continue
                if m.temperature_c is not None:
                    temp.add_metric(base, m.temperature_c)
                if m.hottest_chip_c is not None:
                    hottest.add_metric(base, m.hottest_chip_c)
                for n, row in enumerate(m.chip_temperatures_c):
                    values = [t for t in row if t is not None]
                    if values:
                        miner_max.add_metric(base + [str(n)], max(values))
                        miner_avg.add_metric(base + [str(n)], sum(values) / len(values))
                    if self.per_chip:
                        for c, t in enumerate(row):
                            if t is not None:
                                chip.add_metric(base + [str(n), str(c)], t)
                if m.fan_rpm is not None:
                    fan_rpm.add_metric(base, m.fan_rpm)
                fan_duty.add_metric(base, m.fan_percent / 100)
                for n, plls in enumerate(m.frequencies_mhz):
                    for p, mhz in enumerate(plls):
                        freq.add_metric(base + [str(n), str(p)], mhz * 1e6)
                for n, v in enumerate(m.voltages_v or []):
                    if v is not None:
                        volts.add_metric(base + [str(n)], v)
                rate.add_metric(base + ["reported"], m.hashrate_ghs * 1e9)
                account = accounts.get((chain["index"], m.id))
                if account is not None:
                    rate.add_metric(base + ["shares"], account["hashrate_ghs"]["1m"] * 1e9)
                hw.add_metric(base, m.hw_errors)
                crc.add_metric(base, m.crc_errors)
                cutoff.add_metric(base, float(m.state == "cutoff"))
        yield from (
            up,
            temp,
            hottest,
            miner_max,
            miner_avg,
            fan_rpm,
            fan_duty,
            freq,
            volts,
            rate,
            hw,
            crc,
            cutoff,
        )
        if self.per_chip:
            yield chip

    def _pools(self, state):
        up = GaugeMetricFamily(
            "asicdrv_pool_up",
            "1 while the pool is authorized and sending work",
            labels=["pool", "url"],
        )
        active = GaugeMetricFamily(
            "asicdrv_pool_active", "1 for the pool being mined", labels=["pool"]
        )
        difficulty = GaugeMetricFamily(
            "asicdrv_pool_difficulty", "Current share difficulty", labels=["pool"]
        )
        shares = CounterMetricFamily(
            "asicdrv_shares",
            "Shares by pool, result and reason",
            labels=["pool", "result", "reason"],
        )
        work = CounterMetricFamily(
            "asicdrv_accepted_difficulty", "Difficulty-weighted accepted work", labels=["pool"]
        )
        for p in state["pools"]:
            pool = str(p["index"])
            c = p["counts"]
            up.add_metric([pool, p["url"]], float(p["ready"]))
            active.add_metric([pool], float(p["active"]))
            difficulty.add_metric([pool], p["difficulty"])
            shares.add_metric([pool, "accepted", ""], c["accepted"])
            for reason, n in c["rejected"].items():
                shares.add_metric([pool, "rejected", reason], n)
            for reason, n in c["unknown"].items():
                shares.add_metric([pool, "unknown", reason], n)
            for reason, n in c["stale"].items():
                shares.add_metric([pool, "stale", reason], n)
            work.add_metric([pool], c["accepted_difficulty"])
        yield from (up, active, difficulty, shares, work)


def serve_metrics(controller, host: str, port: int, per_chip: bool = False):
    """Start the HTTP endpoint (``/metrics``); returns (server, thread)."""
    registry = CollectorRegistry()
    registry.register(ControllerCollector(controller, per_chip))
    return start_http_server(port, addr=host, registry=registry)
