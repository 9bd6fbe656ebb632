"""What the host knows about each module, built from the replies it polls, and the
snapshots it hands out (:class:`ModuleStatus`, :class:`ChainStatus`)."""

from __future__ import annotations

import time
from collections import Counter, deque

from firmware_protocols import MMPacket, PacketType as T
from firmware_protocols.encodings import (
    pvt_code_to_celsius,
    vin_raw_to_volts,
    vout_raw_to_chip_volts,
)
from firmware_protocols.records import asdict, field, record
from firmware_protocols.tables import a7_pvt_code_to_celsius
from ..models import PVT_BY_ASIC, PVT_BY_MODULE, ModelSpec

STATE_OK, STATE_CUTOFF, STATE_LOST = "ok", "cutoff", "lost"

# ECHU / ECMM error-code bits (Avalon-extras avalon8-core-test.py; spec 5.8.5)
ERROR_BITS = (
    "idle",
    "MM CRC failed",
    "no fan",
    "lock",
    "API FIFO overflow",
    "RB overflow",
    "too hot",
    "hot before",
    "loop failed",
    "core test failed",
    "invalid MCU",
    "power good failed",
    "NTC error",
    "voltage error",
    "core voltage error",
    "PMU CRC failed",
    "invalid PLL value",
    "HU failed",
)
ECMM_API_FIFO_OVERFLOW = 1 << 4


def error_names(code: int) -> list[str]:
    """The named bits of an ECHU/ECMM error code."""
    return [name for bit, name in enumerate(ERROR_BITS) if code >> bit & 1] + (
        [f"bit(s) 0x{code >> len(ERROR_BITS) << len(ERROR_BITS):x}"]
        if code >> len(ERROR_BITS)
        else []
    )


@record(frozen=True)
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
        self.miner_temps: list[float | None] = [None] * m  # A7: hottest per miner
        self.lock_counts = [[0] * spec.pll_count for _ in range(m)]
        self.reported_frequencies: list[list[int] | None] = [None] * m
        self.chip_volts: list[float | None] = [None] * m
        self.vin_volts: list[float | None] = [None] * m
        self.power_good: int | None = None
        self.module_vout_raw: int | None = None  # A9/LC3: one raw STATUS_VOLT reading
        self.power_supply: list[int] | None = None  # A9/LC3 STATUS_POWER
        self.local_works = [0] * m
        self.mm_hw_errors = [0] * m
        self.crc_errors = [0] * m  # CRC errors the MM saw in what we sent
        self.error_codes = [0] * m
        self.module_error_code = 0
        self.test_results: dict[int, int] = {}  # miner -> pass bitmap
        self.test_chip_count = spec.asic_count  # chips a pass bitmap covers
        self.seen: Counter = Counter()  # packet type -> count
        self.fifo_overflows = 0  # STATUS reports of a full nonce FIFO
        self.asic_pll_counts: list[list] = [[None] * a for _ in range(m)]  # STATUS_ASIC, per chip
        self.asic_frequencies: list[list] = [[None] * a for _ in range(m)]
        # ages: when each kind of reading last arrived, and the poll count then (the poll
        # count measures staleness in status rounds, whatever the link's speed)
        now = time.monotonic()
        self.received_at: dict[int, float] = {}  # packet type -> time
        pvt_slots = spec.pvt_frames
        self.pvt_at = [now] * pvt_slots
        self.pvt_poll = [0] * pvt_slots
        self.pvt_received = [False] * pvt_slots
        self._hottest: float | None = None
        self._hottest_stale = True  # recomputed only after a temperature changed
        self.polls = 0
        self.last_reply = self.first_reply = now
        # models without lock counts (Avalon 4): hashes the verified nonces stand for
        self.work: list[deque] = [deque() for _ in range(m)]  # (time, hashes) per miner

    WORK_WINDOW_S = 60.0

    def add_work(self, miner: int, hashes: float) -> None:
        """A nonce that met the device target: about ``hashes`` were done to find it."""
        now = time.monotonic()
        window = self.work[miner]
        window.append((now, hashes))
        while window and now - window[0][0] > self.WORK_WINDOW_S:
            window.popleft()

    def start_test(self) -> None:
        """A chip test was sent: forget the results of any earlier one."""
        self.test_results.clear()

    def seen_status(self) -> bool:
        return self.seen[T.STATUS] > 0

    def running_settings(self) -> tuple[int, int] | None:
        """(MHz, voltage level) a running board reports in its status, where it does."""
        return None

    def findings(self, rt) -> list[str]:
        """What the readings say is wrong beyond the module's own error bits."""
        return []

    def extra(self) -> dict:
        """Readings only this generation reports, for ``ModuleStatus.extra``."""
        return {} if self.power_supply is None else {"power_supply": self.power_supply}

    def power_ok(self) -> bool | None:
        """Power good: a bit per miner (STATUS_PMU), all set (None: not reported)."""
        if self.power_good is None:
            return None
        every = (1 << self.spec.miner_count) - 1
        return self.power_good & every == every

    def round_complete(self, mark: dict) -> bool:
        """Every kind of status has arrived at least once since ``mark`` (a copy of
        :attr:`seen`): a full round, what :meth:`Chain.refresh` waits for."""
        spec, seen = self.spec, self.seen
        return (
            seen[T.STATUS] - mark.get(T.STATUS, 0) >= spec.miner_count
            and seen[T.STATUS_PLL] - mark.get(T.STATUS_PLL, 0) >= spec.miner_count
            and seen[T.STATUS_PVT] - mark.get(T.STATUS_PVT, 0) >= len(self.pvt_at)
            and seen[T.STATUS_PMU] - mark.get(T.STATUS_PMU, 0) >= 1
        )

    def apply(self, pkt: MMPacket) -> None:
        """Fold one status-type packet into the readings (NONCE is handled elsewhere)."""
        spec = self.spec
        self.seen[pkt.type] += 1
        self.last_reply = now = time.monotonic()
        self.received_at[pkt.type] = now
        if pkt.type == T.STATUS:
            f = pkt.fields()
            if f["temperature_mm"] != self.temperature_mm:
                self._hottest_stale = True
            self.temperature_mm = f["temperature_mm"]
            self.fan_rpm = f["fan_rpm"]
            if pkt.idx < spec.miner_count:
                self.local_works[pkt.idx] += f["local_works"]
                self.mm_hw_errors[pkt.idx] += f["hw_errors"]
                self.crc_errors[pkt.idx] += f["crc_errors"]
                self.error_codes[pkt.idx] = f["miner_error_code"]
            self.module_error_code = f["module_error_code"]
            if f["module_error_code"] & ECMM_API_FIFO_OVERFLOW:
                self.fifo_overflows += 1
        elif pkt.type == T.STATUS_ASIC and pkt.idx < spec.total_asics:
            f = pkt.fields()
            miner, chip = divmod(pkt.idx, spec.asic_count)
            self.asic_pll_counts[miner][chip] = f["pll_counts"]
            if spec.asic_frequencies:
                self.asic_frequencies[miner][chip] = f["frequencies_mhz"]
        elif pkt.type == T.STATUS_PLL and pkt.idx < spec.miner_count:
            f = pkt.fields()
            self.lock_counts[pkt.idx] = f["lock_counts"]
            if spec.pll_status_frequencies:
                self.reported_frequencies[pkt.idx] = f["frequencies_mhz"]
        elif pkt.type == T.STATUS_VOLT:
            raws = pkt.fields()["vout_raw"]
            if not spec.vout_adc_ratio:  # one raw reading for the module
                self.module_vout_raw = raws
                return
            self.chip_volts = [
                vout_raw_to_chip_volts(raws[m], spec.vout_adc_ratio, spec.asic_count)
                for m in range(spec.miner_count)
            ]
        elif pkt.type == T.STATUS_PMU:
            f = pkt.fields()
            if not spec.vin_adc_ratio:  # A9/LC3: STATUS_POWER
                if f["valid"]:
                    self.power_supply = f["power_supply"]
                return
            self.power_good = f["power_good"]
            self.vin_volts = [
                vin_raw_to_volts(f["vin_raw"][m], spec.vin_adc_ratio)
                for m in range(spec.miner_count)
            ]
        elif pkt.type == T.STATUS_PVT:
            self._apply_pvt(pkt)
        elif pkt.type == T.TEST_RET and 1 <= pkt.idx <= spec.miner_count:
            f = pkt.fields()
            self.test_results[pkt.idx - 1] = f["pass_bitmap"] | f["pass_bitmap_high"] << 32

    def _apply_pvt(self, pkt: MMPacket) -> None:
        spec = self.spec

        def celsius(code):
            return None if code == 0 else pvt_code_to_celsius(code)  # 0: sensor silent

        if spec.pvt_layout == PVT_BY_MODULE:
            for m, miner in enumerate(pkt.fields()["miners"][: spec.miner_count]):
                code = miner["temp_codes"][1]  # cgminer's temp[3], what drives its fan
                self.miner_temps[m] = None if code == 0 else a7_pvt_code_to_celsius(code)
            self._pvt_seen(0)
        elif spec.pvt_layout == PVT_BY_ASIC:
            if pkt.idx < spec.asic_count:
                for m, sensor in enumerate(pkt.fields()["sensors"][: spec.miner_count]):
                    self.chip_temps[m][pkt.idx] = celsius(sensor["temp_code"])
                self._pvt_seen(pkt.idx)
        elif pkt.idx < spec.total_asics:
            miner, chip = divmod(pkt.idx, spec.asic_count)
            self.chip_temps[miner][chip] = celsius(pkt.fields(per_chip_pvt=True)["temp_code"])
            self._pvt_seen(pkt.idx)

    def forget_pll(self, miner: int) -> None:
        """The host just changed this miner's PLLs: what the module reported before is
        out of date until it reports again."""
        if 0 <= miner < self.spec.miner_count:
            self.reported_frequencies[miner] = None
            self.asic_pll_counts[miner] = [None] * self.spec.asic_count
            self.asic_frequencies[miner] = [None] * self.spec.asic_count

    def _pvt_seen(self, slot: int) -> None:
        self._hottest_stale = True
        self.pvt_at[slot] = time.monotonic()
        self.pvt_poll[slot] = self.polls
        self.pvt_received[slot] = True

    def unread_sensors(self) -> list[list[int]]:
        """[miner, chip] of every chip whose temperature never arrived (a link matter,
        unlike a sensor that reads 0)."""
        spec = self.spec
        if spec.pvt_layout == PVT_BY_MODULE:  # no per-chip sensors to miss
            return []
        if spec.pvt_layout == PVT_BY_ASIC:
            return [
                [m, c]
                for c in range(spec.asic_count)
                if not self.pvt_received[c]
                for m in range(spec.miner_count)
            ]
        return [
            list(divmod(slot, spec.asic_count))
            for slot, seen in enumerate(self.pvt_received)
            if not seen
        ]

    def round_polls(self) -> int:
        """Polls one status round takes when every reply arrives (a nonce may answer every
        other poll, hence the factor 2)."""
        return 2 * (2 * self.spec.miner_count + 2 + len(self.pvt_at) + 13)

    def temperature_staleness(self) -> float:
        """How many status rounds the oldest chip temperature has missed (0 when fresh)."""
        return (self.polls - min(self.pvt_poll)) / self.round_polls()

    def ages(self) -> dict[str, float | None]:
        """Seconds since each kind of reading arrived (None: never)."""
        now = time.monotonic()
        out = {
            name: (
                None if ptype not in self.received_at else round(now - self.received_at[ptype], 3)
            )
            for name, ptype in (
                ("status", T.STATUS),
                ("pll", T.STATUS_PLL),
                ("volt", T.STATUS_VOLT),
                ("pmu", T.STATUS_PMU),
            )
        }
        out["chip_temperatures"] = (
            None if T.STATUS_PVT not in self.received_at else round(now - min(self.pvt_at), 3)
        )
        return out

    def hottest_c(self) -> float | None:
        """cgminer's get_temp_max: the hottest chip, or the MM if that is hotter."""
        if self._hottest_stale:
            values = [t for row in self.chip_temps for t in row if t is not None]
            values += [t for t in self.miner_temps if t is not None]
            if self.temperature_mm is not None:
                values.append(self.temperature_mm)
            self._hottest = max(values) if values else None
            self._hottest_stale = False
        return self._hottest

    def miner_hashrates_ghs(self, frequencies: list[list[int]]) -> list[float]:
        """Per miner, sum(locked cores x MHz) / 1000 (later firmware's MGHS; their sum is
        cgminer's GHSmm): on an 851 from every chip's STATUS_ASIC (its counts and PLL
        frequencies) once all have arrived, otherwise from the miners' STATUS_PLL."""
        spec = self.spec
        if not spec.lock_counts:  # from the verified nonces of the last minute
            now = time.monotonic()
            span = min(self.WORK_WINDOW_S, max(now - self.first_reply, 1.0))
            return [
                sum(h for t, h in window if now - t <= span) / span / 1e9 for window in self.work
            ]
        if spec.asic_frequencies and all(
            c is not None for row in self.asic_pll_counts for c in row
        ):
            return [
                sum(
                    count * freq
                    for c in range(spec.asic_count)
                    for count, freq in zip(self.asic_pll_counts[m][c], self.asic_frequencies[m][c])
                )
                / 1000.0
                for m in range(spec.miner_count)
            ]
        rates = []
        for m in range(spec.miner_count):
            freqs = self.reported_frequencies[m] or frequencies[m]
            rates.append(sum(c * f for c, f in zip(self.lock_counts[m], freqs)) / 1000.0)
        return rates


@record(frozen=True)
class ModuleStatus:
    id: int
    dna: str
    model: str
    version: str
    state: str  # ok / cutoff / lost
    temperature_c: float | None  # the MM's own sensor
    hottest_chip_c: float | None
    chip_temperatures_c: list  # [miner][chip], None where silent
    fan_rpm: int | None
    fan_percent: int  # the duty the host aims at (sent only when fan_sent says so)
    auto_fan: bool
    fan_failed: bool
    frequencies_mhz: list  # [miner][pll] as the module reports them
    voltage_levels: list  # [miner] as set
    voltages_v: list  # [miner] measured per-chip core volts
    vin_v: list
    power_good: bool | None
    hashrate_ghs: float
    hw_errors: int  # MM-reported plus host-verified failures
    crc_errors: int  # MM saw bad frames + we saw bad replies
    shares: int
    rejected: dict
    failed_polls: int
    cutoffs: int  # overheat cutoffs since detection
    chip_test: dict  # miner -> list of failing chips (after a test)
    reading_ages_s: dict = field(default_factory=dict)  # kind -> seconds since it came
    stale_temperatures: bool = False  # chip temperatures too old to trust
    fifo_overflows: int = 0  # times the MM reported a full nonce FIFO
    errors: list = field(default_factory=list)  # named ECMM / ECHU bits now set
    settings_source: str = "host"  # host: set by us; board: adopted as it ran; unset: left
    # as found with nothing we know of running;
    # firmware: the device sets its own (nano)
    chip_sensors_unread: list = field(default_factory=list)  # [miner, chip] never read
    idle: bool = False  # PLLs off on purpose (Chain.idle())
    cutoff_reason: str = ""  # why protection cut it off, and when it will resume
    led: bool = False  # identify LED as the host sets it
    miner_hashrates_ghs: list = field(default_factory=list)  # [miner] from PLL locks
    local_works: list = field(default_factory=list)  # [miner] MM-counted works
    miner_hw_errors: list = field(default_factory=list)  # [miner] MM-counted
    miner_crc_errors: list = field(default_factory=list)  # [miner] MM saw bad frames
    miner_error_codes: list = field(default_factory=list)  # [miner] ECHU words
    module_error_code: int = 0  # ECMM word
    elapsed_s: float = 0.0  # since first detected
    chip_hw_errors: list = field(default_factory=list)  # [miner][chip] host-verified
    fan_sent: int | None = None  # the duty this process last sent (None: it never set one)
    generation: str = "avalon8"
    miner_temperatures_c: list = field(default_factory=list)  # A7: a hottest per miner
    per_chip_sensors: bool = True  # False: the model reports per miner (A7)
    vout_raw: int | None = None  # A9/LC3: one raw core-voltage reading
    voltage_unit: str = ""  # what a voltage level is
    extra: dict = field(default_factory=dict)  # readings only its generation reports
    chip_test_chips: int = 0  # chips per miner the last chip test covered

    def to_dict(self) -> dict:
        return asdict(self)


@record(frozen=True)
class ChainStatus:
    link: str
    connected: bool
    modules: list = field(default_factory=list)
    auc: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)  # address -> why no module is known there

    @property
    def hashrate_ghs(self) -> float:
        return sum(m.hashrate_ghs for m in self.modules)

    def to_dict(self) -> dict:
        return {
            "link": self.link,
            "connected": self.connected,
            "auc": self.auc,
            "hashrate_ghs": self.hashrate_ghs,
            "missing": dict(self.missing),
            "modules": [m.to_dict() for m in self.modules],
        }
