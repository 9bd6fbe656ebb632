"""The Avalon 7, 8, 9 and LC3 (cgminer ``driver-avalon7.c``, ``driver-avalon8.c``; Canaan
``avalon911`` ``driver-avalon9.c`` and ``avalonlc3`` ``driver-avalonlc3.c``): the Avalon 8
is the base class itself; the others override a few frames."""

from __future__ import annotations

from .base import Generation


class Avalon8(Generation):
    """cgminer ``driver-avalon8.c``: the base frames as they are."""


class Avalon7(Generation):
    """cgminer ``driver-avalon7.c``: six PLLs and their two timeout words; no SET_ASIC_OTP."""

    name = "avalon7"
    sends_asic_otp = False

    def pll_fields(self, spec, miner, plls):
        top = max(plls) or 1
        return {
            "pll_words": [spec.pll_table.word(f) for f in plls],
            "asic_timeout": (0x2000000 // top) * 40 // 4,
            "asic_timeout_98": 0x2000000 // top * 98 // 100,
        }


class Avalon9(Generation):
    """Canaan ``avalon911`` ``driver-avalon9.c``: raw levels for six miners and the
    adjust_volt_freq word; SET_PLL names the miner (and ASIC, 0 = all)."""

    name = "avalon9"
    max_volt_words = 6

    def volt_fields(self, spec, levels):
        return {**super().volt_fields(spec, levels), "adjust_volt_freq": 1}

    def pll_fields(self, spec, miner, plls):
        return {**super().pll_fields(spec, miner, plls), "miner_id": miner, "asic_id": 0}


class AvalonLC3(Generation):
    """Canaan ``avalonlc3`` ``driver-avalonlc3.c``: the A8 frames with raw voltage levels."""

    name = "avalonlc3"
