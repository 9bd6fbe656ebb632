"""The status frames an MM builds from its board model (STATUS, STATUS_PLL, STATUS_ASIC,
STATUS_VOLT, STATUS_PMU, STATUS_PVT in each generation's layout): a mixin of
:class:`.firmware.MMFirmware`, which holds the board model and the rotation."""

from __future__ import annotations


from firmware_protocols import PacketType as T
from firmware_protocols.encodings import (
    celsius_to_pvt_code,
    chip_volts_to_vout_raw,
    millivolts_to_pvt_code,
)
from firmware_protocols.payloads import STATUS_PVT_PER_CHIP
from firmware_protocols.tables import celsius_to_a7_pvt_code
from ..models import PVT_BY_ASIC, PVT_BY_MODULE, ModelSpec
from .physics import VIN_VOLTS, ModulePhysics, chip_volts

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

PMU_VERSIONS = ["PM01", "PM01"]


class StatusFrames:
    # what the firmware class that mixes this in holds
    spec: ModelSpec
    physics: ModulePhysics
    rx_crc_errors: int
    _crc_reported: int
    _error_bits: int
    _miner_works: list[int]
    _chip_works: list[list[int]]
    _encode: Callable[..., bytes]

    def _status_pll(self, miner: int) -> bytes:
        fields = {"lock_counts": self.physics.lock_counts(miner)}
        if self.spec.pll_status_frequencies:
            fields["frequencies_mhz"] = self.physics.frequencies[miner]
        return self._encode(T.STATUS_PLL, fields, idx=miner, cnt=self.spec.miner_count)

    def _status(self, miner: int) -> bytes:
        crc_now = self.rx_crc_errors
        crc_add, self._crc_reported = crc_now - self._crc_reported, crc_now
        works, self._miner_works[miner] = self._miner_works[miner], 0
        errors, self._error_bits = self._error_bits, 0
        data = {
            "temperature_mm": round(self.physics.mm_temp_c()),
            "fan_rpm": self.physics.fan_rpm(),
            "local_works": works,
            "hw_errors": 0,
            "miner_error_code": 0,
            "module_error_code": errors,
            "crc_errors": crc_add,
        }
        return self._encode(T.STATUS, data, idx=miner, cnt=self.spec.miner_count)

    def _status_asic(self, index: int) -> bytes:
        """idx = miner * asic_count + chip: the chip's work count, cores per PLL and (851)
        the frequency each PLL runs."""
        miner, chip = divmod(index, self.spec.asic_count)
        alive = self.physics.chip_alive(miner, chip)
        freqs = self.physics.frequencies[miner]
        counts = self.physics.chip_lock_counts(miner) if alive else [0] * self.spec.pll_count
        if self.spec.generation == "avalon7":  # A7 layout: speed counters, 6 PLLs
            fields = {"spd_pass": self._chip_works[miner][chip], "pll_counts": counts}
        else:
            fields = {
                "works": self._chip_works[miner][chip],
                "errors": 0,
                "pll_counts": counts,
                "frequencies_mhz": freqs if self.spec.asic_frequencies else [0] * 4,
            }
        return self._encode(T.STATUS_ASIC, fields, idx=index, cnt=self.spec.total_asics)

    def _status_volt(self) -> bytes:
        volts = [chip_volts(level, self.spec) for level in self.physics.voltage_levels]
        if not self.spec.vout_adc_ratio:  # A9/LC3: one reading (choice: mV per chip)
            return self._encode(T.STATUS_VOLT, {"vout_raw": round(max(volts) * 1000)})
        raws = [
            chip_volts_to_vout_raw(v, self.spec.vout_adc_ratio, self.spec.asic_count) for v in volts
        ]
        return self._encode(T.STATUS_VOLT, {"vout_raw": raws + [0] * (8 - len(raws))})

    def _status_pmu(self) -> bytes:
        if not self.spec.vin_adc_ratio:  # A9/LC3: STATUS_POWER (choice: 12 V in mV)
            return self._encode(
                T.STATUS_PMU, {"power_supply": [round(VIN_VOLTS * 1000)] * 6, "valid": 1}
            )
        vin = round(VIN_VOLTS * 100 * 1000 / self.spec.vin_adc_ratio)
        return self._encode(
            T.STATUS_PMU,
            {
                "vin_raw": [vin] * 4,
                "power_good": (1 << self.spec.miner_count) - 1,
                "pmu_versions": PMU_VERSIONS,
            },
        )

    def _status_pvt(self, index: int) -> bytes:
        """851: idx = chip, a (temperature, voltage) code pair per miner.  Older models:
        idx = miner * asic_count + chip, one temperature and eight voltage codes.
        A dead chip's sensor reads 0."""
        spec, phys = self.spec, self.physics

        def codes(m, c):
            if not phys.chip_alive(m, c):
                return 0, 0
            mv = chip_volts(phys.voltage_levels[m], spec) * 1000
            temp = celsius_to_pvt_code(phys.temps[m][c])
            if (m, c) in self.zero_sensors:
                temp = celsius_to_pvt_code(0.0)
            elif (m, c) in self.stuck_sensors:  # frozen at its first reading
                if self.stuck_sensors[(m, c)] is None:
                    self.stuck_sensors[(m, c)] = temp
                temp = self.stuck_sensors[(m, c)]
            return temp, millivolts_to_pvt_code(mv)

        if spec.pvt_layout == PVT_BY_MODULE:
            return self._encode(
                T.STATUS_PVT, {"miners": [self._a7_miner_pvt(m) for m in range(spec.miner_count)]}
            )
        if spec.pvt_layout == PVT_BY_ASIC:
            pairs = [codes(m, index) for m in range(spec.miner_count)]
            return self._encode(
                T.STATUS_PVT,
                {"sensors": [{"temp_code": t, "volt_code": v} for t, v in pairs]},
                idx=index,
                cnt=spec.asic_count,
            )
        temp, volt = codes(*divmod(index, spec.asic_count))
        return self._encode(
            T.STATUS_PVT,
            data=STATUS_PVT_PER_CHIP.build({"temp_code": temp, "volt_codes": [volt] * 8}),
            idx=index,
            cnt=spec.total_asics,
        )

    def _a7_miner_pvt(self, miner: int) -> dict:
        """A7: the coolest and hottest chip of a miner (their indices and codes) and the
        mean, in the order cgminer reads them (the second code drives its fan).  Which
        readings the A7 MM puts there is not public; this is our choice."""
        alive = [
            (t, c)
            for c, t in enumerate(self.physics.temps[miner])
            if self.physics.chip_alive(miner, c)
        ]
        if not alive:
            return {"ids": [0, 0], "temp_codes": [0, 0, 0]}
        (low, low_chip), (high, high_chip) = min(alive), max(alive)
        mean = sum(t for t, _ in alive) / len(alive)
        return {
            "ids": [low_chip, high_chip],
            "temp_codes": [
                celsius_to_a7_pvt_code(low),
                celsius_to_a7_pvt_code(high),
                celsius_to_a7_pvt_code(mean),
            ],
        }
