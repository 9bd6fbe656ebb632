"""Where a generation's packets differ from the Avalon 8's: per-type payload layouts.

Every MM generation from Avalon 7 on uses the same 40-byte frame and the same type codes
(spec section 5.2); a few payloads differ.  A :class:`Dialect` lists those, and
:func:`firmware_protocols.mm.decode_payload`/``encode_payload`` take one.  The Avalon 8
layouts in :mod:`.payloads` are the base; ``None`` means the A8 layout.

Sources (``../shared/spec/avalon-families.md``): A7 cgminer ``driver-avalon7.c``
(``avalon7_set_freq``, ``decode_pkg``); A9 Canaan ``avalon911`` ``driver-avalon9.c``
(``avalon9_set_voltage_level``, ``avalon9_set_freq``, ``decode_pkg``); LC3 Canaan
``avalonlc3`` ``driver-avalonlc3.c``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from construct import Array, Int8ub, Int16ub, Int32ub, Padding, Struct

from .types import PacketType as T


@dataclass(frozen=True)
class Dialect:
    name: str
    overrides: Mapping[int, Struct] = field(default_factory=dict)
    device_crc_order: str = "big"      # byte order of the CRC in frames from the MM
    compiled: Mapping[int, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        assert all(s.sizeof() == 32 for s in self.overrides.values()), self.name
        object.__setattr__(self, "compiled",
                           {t: s.compile() for t, s in self.overrides.items()})


# A7: six PLLs; two ASIC timeout words ((0x2000000 / fmax) * 40 / 4 and ... * 98 / 100).
_A7_SET_PLL = Struct("pll_words" / Array(6, Int32ub), "asic_timeout" / Int32ub,
                     "asic_timeout_98" / Int32ub)
_A7_STATUS_PLL = Struct("lock_counts" / Array(6, Int32ub), Padding(8))
# A7 STATUS_PVT: one frame for the module; per miner two bytes (cgminer keeps them as
# temp[0], temp[1]; their meaning is not given) and three sensor codes; cgminer drives the
# fan from the second code (its temp[3]), so we read that one as the miner's hottest.
_A7_STATUS_PVT = Struct("miners" / Array(4, Struct("ids" / Array(2, Int8ub),
                                                   "temp_codes" / Array(3, Int16ub))))
_A7_STATUS_ASIC = Struct("spd_pass" / Int32ub, "spd_fail" / Int32ub,
                         "sum_failed" / Int32ub, "sum_num" / Int32ub, "sum_xor" / Int32ub,
                         "pll_counts" / Array(6, Int8ub), Padding(6))

# A9: six miners; SET_VOLT carries raw levels and the adjust_volt_freq flag word.
_A9_SET_VOLT = Struct("voltage_words" / Array(6, Int32ub), "adjust_volt_freq" / Int32ub,
                      Padding(4))
_A9_SET_PLL = Struct("pll_words" / Array(4, Int32ub), "pll_param" / Int32ub,
                     "asic_timeout" / Int32ub, "miner_id" / Int32ub, "asic_id" / Int32ub)
_A9_STATUS_PVT = Struct("sensors" / Array(6, Struct("temp_code" / Int16ub,
                                                    "volt_code" / Int16ub)), Padding(8))
# A9 / LC3: STATUS_VOLT is one BE16 for the module; 0x48 is STATUS_POWER (six power
# supply readings, valid when d[12] is non-zero).
_SINGLE_VOLT = Struct("vout_raw" / Int16ub, Padding(30))
_STATUS_POWER = Struct("power_supply" / Array(6, Int16ub), "valid" / Int8ub, Padding(19))

AVALON7 = Dialect("avalon7", {T.SET_PLL: _A7_SET_PLL, T.STATUS_PLL: _A7_STATUS_PLL,
                              T.STATUS_PVT: _A7_STATUS_PVT, T.STATUS_ASIC: _A7_STATUS_ASIC})
AVALON8 = Dialect("avalon8")
AVALON9 = Dialect("avalon9", {T.SET_VOLT: _A9_SET_VOLT, T.SET_PLL: _A9_SET_PLL,
                              T.STATUS_PVT: _A9_STATUS_PVT, T.STATUS_VOLT: _SINGLE_VOLT,
                              T.STATUS_PMU: _STATUS_POWER})
AVALONLC3 = Dialect("avalonlc3", {T.STATUS_VOLT: _SINGLE_VOLT, T.STATUS_PMU: _STATUS_POWER})

DIALECTS = {d.name: d for d in (AVALON7, AVALON8, AVALON9, AVALONLC3)}
