"""What the host knows about each module, built from the replies it polls, and the
snapshots it hands out (:class:`ModuleStatus`, :class:`ChainStatus`)."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from firmware_protocols import MMPacket, PacketType as T
from firmware_protocols.encodings import (pvt_code_to_celsius, vin_raw_to_volts,
                                          vout_raw_to_chip_volts)
from .models import ModelSpec

STATE_OK, STATE_CUTOFF, STATE_LOST = "ok", "cutoff", "lost"


@dataclass(frozen=True)
class Module:
    """A detected module, as ``chain.modules`` lists it."""
    id: int
    dna: str
    version: str
    model: str
    miner_count: int
    asic_count: int


class ModuleReadings:
    """Live state of one module, updated from every reply packet."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        m, a = spec.miner_count, spec.asic_count
        self.temperature_mm: float | None = None
        self.fan_rpm: int | None = None
        self.chip_temps: list[list[float | None]] = [[None] * a for _ in range(m)]
        self.lock_counts = [[0] * 4 for _ in range(m)]
        self.reported_frequencies: list[list[int] | None] = [None] * m
        self.chip_volts: list[float | None] = [None] * m
        self.vin_volts: list[float | None] = [None] * m
        self.power_good: int | None = None
        self.local_works = [0] * m
        self.mm_hw_errors = [0] * m
        self.crc_errors = [0] * m          # CRC errors the MM saw in what we sent
        self.error_codes = [0] * m
        self.module_error_code = 0
        self.test_results: dict[int, int] = {}    # miner -> pass bitmap
        self.seen: Counter = Counter()            # packet type -> count
        self.last_reply = time.monotonic()

    def apply(self, pkt: MMPacket) -> None:
        """Fold one status-type packet into the readings (NONCE is handled elsewhere)."""
        spec = self.spec
        self.seen[pkt.type] += 1
        self.last_reply = time.monotonic()
        if pkt.type == T.STATUS:
            f = pkt.fields()
            self.temperature_mm = f["temperature_mm"]
            self.fan_rpm = f["fan_rpm"]
            if pkt.idx < spec.miner_count:
                self.local_works[pkt.idx] += f["local_works"]
                self.mm_hw_errors[pkt.idx] += f["hw_errors"]
                self.crc_errors[pkt.idx] += f["crc_errors"]
                self.error_codes[pkt.idx] = f["miner_error_code"]
            self.module_error_code = f["module_error_code"]
        elif pkt.type == T.STATUS_PLL and pkt.idx < spec.miner_count:
            f = pkt.fields()
            self.lock_counts[pkt.idx] = f["lock_counts"]
            self.reported_frequencies[pkt.idx] = f["frequencies_mhz"]
        elif pkt.type == T.STATUS_VOLT:
            raws = pkt.fields()["vout_raw"]
            self.chip_volts = [vout_raw_to_chip_volts(raws[m], spec.vout_adc_ratio,
                                                      spec.asic_count)
                               for m in range(spec.miner_count)]
        elif pkt.type == T.STATUS_PMU:
            f = pkt.fields()
            self.power_good = f["power_good"]
            self.vin_volts = [vin_raw_to_volts(f["vin_raw"][m], spec.vin_adc_ratio)
                              for m in range(spec.miner_count)]
        elif pkt.type == T.STATUS_PVT:
            self._apply_pvt(pkt)
        elif pkt.type == T.TEST_RET and 1 <= pkt.idx <= spec.miner_count:
            self.test_results[pkt.idx - 1] = pkt.fields()["pass_bitmap"]

    def _apply_pvt(self, pkt: MMPacket) -> None:
        spec = self.spec

        def celsius(code):
            return None if code == 0 else pvt_code_to_celsius(code)   # 0: sensor silent

        if spec.name == "851":
            if pkt.idx < spec.asic_count:
                for m, sensor in enumerate(pkt.fields()["sensors"][:spec.miner_count]):
                    self.chip_temps[m][pkt.idx] = celsius(sensor["temp_code"])
        elif pkt.idx < spec.total_asics:
            miner, chip = divmod(pkt.idx, spec.asic_count)
            self.chip_temps[miner][chip] = celsius(pkt.fields(per_chip_pvt=True)["temp_code"])

    def hottest_c(self) -> float | None:
        """cgminer's get_temp_max: the hottest chip, or the MM if that is hotter."""
        values = [t for row in self.chip_temps for t in row if t is not None]
        if self.temperature_mm is not None:
            values.append(self.temperature_mm)
        return max(values) if values else None

    def hashrate_ghs(self, frequencies: list[list[int]]) -> float:
        """sum(locked cores x MHz) / 1000, as cgminer's GHSmm."""
        total = 0
        for m in range(self.spec.miner_count):
            freqs = self.reported_frequencies[m] or frequencies[m]
            total += sum(c * f for c, f in zip(self.lock_counts[m], freqs))
        return total / 1000.0


@dataclass(frozen=True)
class ModuleStatus:
    id: int
    dna: str
    model: str
    version: str
    state: str                              # ok / cutoff / lost
    temperature_c: float | None             # the MM's own sensor
    hottest_chip_c: float | None
    chip_temperatures_c: list               # [miner][chip], None where silent
    fan_rpm: int | None
    fan_percent: int
    auto_fan: bool
    fan_failed: bool
    frequencies_mhz: list                   # [miner][pll] as the module reports them
    voltage_levels: list                    # [miner] as set
    voltages_v: list                        # [miner] measured per-chip core volts
    vin_v: list
    power_good: bool | None
    hashrate_ghs: float
    hw_errors: int                          # MM-reported plus host-verified failures
    crc_errors: int                         # MM saw bad frames + we saw bad replies
    shares: int
    rejected: dict
    failed_polls: int
    cutoffs: int                            # overheat cutoffs since detection
    chip_test: dict                         # miner -> list of failing chips (after a test)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChainStatus:
    link: str
    connected: bool
    modules: list = field(default_factory=list)
    auc: dict = field(default_factory=dict)

    @property
    def hashrate_ghs(self) -> float:
        return sum(m.hashrate_ghs for m in self.modules)

    def to_dict(self) -> dict:
        return {"link": self.link, "connected": self.connected, "auc": self.auc,
                "hashrate_ghs": self.hashrate_ghs,
                "modules": [m.to_dict() for m in self.modules]}
