"""One module as cgminer's ``estats``/``stats`` ``MM ID`` string (what pyasic parses)."""

from __future__ import annotations

from ...models import CORES_PER_ASIC, MODELS


def mm_string(m, with_board_hashrate: bool) -> str:
    """One module as cgminer's ``MM ID`` value: the Avalon 8 tokens, then the keys later
    firmware and pyasic read (``Fan1``, ``TAvg``, ``MGHS``, ``MTmax``, ``MTavg``,
    ``PVT_T0..``)."""

    def ints(values):
        return " ".join(str(int(round(v))) if v is not None else "0" for v in values)

    def scaled(values, factor):
        return ints(None if v is None else v * factor for v in values or [])

    chips = m.chip_temperatures_c or []
    flat = [t for row in chips for t in row if t is not None]
    miner_max = [max([t for t in row if t is not None] or [0]) for row in chips]
    if not m.per_chip_sensors:  # A7: the module's per-miner readings
        miner_max = [t or 0 for t in m.miner_temperatures_c]
    miner_avg = [
        sum(v) / len(v) if (v := [t for t in row if t is not None]) else 0 for row in chips
    ]
    temp = m.temperature_c or 0
    ghs = m.hashrate_ghs
    asics = sum(len(row) for row in chips) or 1
    cores = MODELS[m.model].cores_per_asic if m.model in MODELS else CORES_PER_ASIC
    freq = ghs * 1000 / (asics * cores) if ghs else 0.0
    tokens = [
        f"Ver[{m.version}]",
        f"DNA[{m.dna}]",
        f"Elapsed[{int(m.elapsed_s)}]",
        f"MW[{ints(m.local_works)}]",
        f"LW[{sum(m.local_works)}]",
        f"MH[{ints(m.miner_hw_errors)}]",
        f"HW[{m.hw_errors}]",
        f"Temp[{int(temp)}]",
        f"TMax[{int(max(flat + [temp]))}]",
        f"Fan[{m.fan_rpm or 0}]",
        f"FanR[{m.fan_percent}%]",
        f"Vi[{scaled(m.vin_v, 100)}]",
        f"Vo[{scaled(m.voltages_v, 10000)}]",
        f"GHSmm[{ghs:.2f}]",
        f"Freq[{freq:.2f}]",
        f"PG[{0 if m.power_good is None else 15 if m.power_good else 0}]",
        f"Led[{int(m.led)}]",
        f"TA[{asics}]",
        f"ECHU[{ints(m.miner_error_codes)}]",
        f"ECMM[{m.module_error_code}]",
        "FM[1]",
        f"CRC[{ints(m.miner_crc_errors)}]",
        f"Fan1[{m.fan_rpm or 0}]",
        f"TAvg[{int(sum(flat) / len(flat)) if flat else 0}]",
    ]
    if with_board_hashrate:
        tokens.append("MGHS[" + " ".join(f"{g:.2f}" for g in m.miner_hashrates_ghs) + "]")
    tokens += [f"MTmax[{ints(miner_max)}]", f"MTavg[{ints(miner_avg)}]"]
    tokens += [
        f"PVT_T{n}[{ints(t if t is not None else 0 for t in row)}]" for n, row in enumerate(chips)
    ]
    return " ".join(tokens)
