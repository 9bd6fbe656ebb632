"""The status snapshot of a module, built from what the host keeps for it."""

from __future__ import annotations

import time

from ..models import PVT_BY_MODULE
from .runtime import ModuleRuntime
from .status import STATE_LOST, ModuleStatus, error_names


def module_status(rt: ModuleRuntime) -> ModuleStatus:
    """A snapshot of one module for callers: readings, settings, counters, findings."""
    r = rt.readings
    hw = sum(r.mm_hw_errors) + sum(rt.host_hw_errors.values())
    miner_rates = (
        [0.0] * rt.spec.miner_count
        if rt.state == STATE_LOST
        else r.miner_hashrates_ghs(rt.frequencies)
    )
    pg = r.power_ok()
    freqs = [
        list(f) if f is not None else list(rt.frequencies[m])
        for m, f in enumerate(r.reported_frequencies)
    ]
    codes = r.module_error_code
    for code in r.error_codes:
        codes |= code
    return ModuleStatus(
        id=rt.id,
        dna=rt.info.dna,
        model=rt.spec.name,
        version=rt.info.version,
        state=rt.state,
        temperature_c=r.temperature_mm,
        hottest_chip_c=r.hottest_c(),
        chip_temperatures_c=[list(row) for row in r.chip_temps],
        fan_rpm=r.fan_rpm,
        fan_percent=rt.fan_percent,
        fan_sent=rt.fan_sent,
        auto_fan=rt.auto_fan,
        fan_failed=rt.fan_failed,
        frequencies_mhz=freqs,
        voltage_levels=list(rt.voltage_levels),
        voltages_v=list(r.chip_volts),
        vin_v=list(r.vin_volts),
        power_good=pg,
        hashrate_ghs=sum(miner_rates),
        miner_hashrates_ghs=miner_rates,
        hw_errors=hw,
        crc_errors=sum(r.crc_errors) + rt.bad_replies,
        shares=rt.shares,
        rejected=dict(rt.rejected),
        failed_polls=rt.failed_polls,
        cutoffs=rt.cutoffs,
        idle=rt.idle,
        led=rt.led,
        elapsed_s=time.monotonic() - rt.detected_at,
        chip_hw_errors=[
            [rt.host_hw_errors.get((m, c), 0) for c in range(rt.spec.asic_count)]
            for m in range(rt.spec.miner_count)
        ],
        local_works=list(r.local_works),
        miner_hw_errors=list(r.mm_hw_errors),
        miner_crc_errors=list(r.crc_errors),
        miner_error_codes=list(r.error_codes),
        module_error_code=r.module_error_code,
        chip_test=failing_chips(rt),
        reading_ages_s=r.ages(),
        stale_temperatures=rt.stale,
        fifo_overflows=r.fifo_overflows,
        errors=error_names(codes) + r.findings(rt),
        settings_source=rt.settings_source,
        cutoff_reason=rt.cutoff_reason,
        chip_sensors_unread=r.unread_sensors(),
        generation=rt.spec.generation,
        miner_temperatures_c=list(r.miner_temps),
        voltage_unit=rt.spec.voltage_codec.unit,
        per_chip_sensors=rt.spec.pvt_layout != PVT_BY_MODULE,
        vout_raw=r.module_vout_raw,
        extra=r.extra(),
        chip_test_chips=r.test_chip_count,
    )


def failing_chips(rt: ModuleRuntime) -> dict:
    """{miner: [chips that failed]} from the last chip test."""
    return {
        m: [c for c in range(rt.readings.test_chip_count) if not bitmap >> c & 1]
        for m, bitmap in sorted(rt.readings.test_results.items())
    }
