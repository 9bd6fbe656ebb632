"""Each MM generation's configuration frames, as a plug-in the device layer calls.

:class:`Chain` asks a module's generation for its settings burst, its SET_PLL and SET_VOLT
frames and its status layouts; it never branches on a model.  The emulator uses the same
objects the other way round (frame -> values).  Sources: ``../shared/spec/avalon-families.md``
5.4 (configuration burst), 5.7.1-5.7.3 (SET, SET_VOLT, SET_PLL).
"""
from __future__ import annotations

from firmware_protocols import PacketType as T, encode_packet
from firmware_protocols.dialects import DIALECTS, Dialect
from firmware_protocols.encodings import asic_timeout

from .models import ModelSpec


class Generation:
    """The Avalon 8 (cgminer ``driver-avalon8.c``); other generations override."""
    name = "avalon8"
    sends_asic_otp = True           # SET_ASIC_OTP in the configuration burst
    max_volt_words = 8

    @property
    def dialect(self) -> Dialect:
        return DIALECTS[self.name]

    def encode(self, ptype: int, fields=None, **kw) -> bytes:
        return encode_packet(ptype, fields, dialect=self.dialect, **kw)

    # --- host -> MM ----------------------------------------------------------------------
    def set_frame(self, spec: ModelSpec, *, nonce_mask: int | None, smart_speed: bool,
                  roll_enable: bool) -> bytes:
        return self.encode(T.SET, {
            "freq_sel": spec.freq_sel, "nonce_mask": nonce_mask or spec.nonce_mask,
            "flags": {"smart_speed": smart_speed, "nonce_check": True,
                      "roll_enable": roll_enable},
            "mux_l2h": spec.mux_l2h, "mux_h2l": spec.mux_h2l,
            "h2ltime0_spd": spec.h2ltime0_spd, "spdlow": spec.spdlow, "spdhigh": spec.spdhigh})

    def volt_fields(self, spec: ModelSpec, levels: list[int]) -> dict:
        words = [spec.voltage_codec.encode(level) for level in levels]
        return {"voltage_words": words + [0] * (self.max_volt_words - len(words))}

    def volt_frame(self, spec: ModelSpec, levels: list[int]) -> bytes:
        return self.encode(T.SET_VOLT, self.volt_fields(spec, levels))

    def pll_fields(self, spec: ModelSpec, miner: int, plls: list[int]) -> dict:
        return {"pll_words": [spec.pll_table.word(f) for f in plls], "pll_param": 100,
                "asic_timeout": asic_timeout(plls)}

    def pll_frame(self, spec: ModelSpec, miner: int, plls: list[int]) -> bytes:
        return self.encode(T.SET_PLL, self.pll_fields(spec, miner, plls), idx=miner + 1,
                           cnt=spec.miner_count)

    def ss_frame(self, spec: ModelSpec) -> bytes:
        return self.encode(T.SET_SS, {
            "th_pass": spec.th_pass, "th_fail": spec.th_fail, "th_init": spec.th_init,
            "th_ms": spec.th_ms, "th_timeout": spec.th_timeout, "th_add": spec.th_add})

    def settings_burst(self, spec: ModelSpec, *, levels: list[int] | None,
                       frequencies: list[list[int]], nonce_mask: int | None,
                       smart_speed: bool, roll_enable: bool) -> list[bytes]:
        """cgminer's order: SET, SET_VOLT, SET_ASIC_OTP (A8 and later), SET_PLL per miner,
        SET_SS (smart speed on), SET_FIN.  ``levels`` None: voltage left as it is."""
        frames = [self.set_frame(spec, nonce_mask=nonce_mask, smart_speed=smart_speed,
                                 roll_enable=roll_enable)]
        if levels is not None:
            frames.append(self.volt_frame(spec, levels))
        if self.sends_asic_otp:
            frames.append(self.encode(T.SET_ASIC_OTP, {}))
        frames += [self.pll_frame(spec, m, plls) for m, plls in enumerate(frequencies)]
        if smart_speed:
            frames.append(self.ss_frame(spec))
        frames.append(self.encode(T.SET_FIN, {}))
        return frames

    # --- MM side: what the frames say ------------------------------------------------------
    def levels_from(self, spec: ModelSpec, fields: dict) -> list[int]:
        return [spec.voltage_codec.decode(w) for w in fields["voltage_words"][:spec.miner_count]]

    def frequencies_from(self, spec: ModelSpec, fields: dict) -> list[int]:
        return [spec.pll_table.mhz(w) for w in fields["pll_words"][:spec.pll_count]]


class Avalon7(Generation):
    """cgminer ``driver-avalon7.c``: six PLLs and their two timeout words; no SET_ASIC_OTP."""
    name = "avalon7"
    sends_asic_otp = False

    def pll_fields(self, spec, miner, plls):
        top = max(plls) or 1
        return {"pll_words": [spec.pll_table.word(f) for f in plls],
                "asic_timeout": (0x2000000 // top) * 40 // 4,
                "asic_timeout_98": 0x2000000 // top * 98 // 100}


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


GENERATIONS: dict[str, Generation] = {g.name: g for g in (Avalon7(), Generation(), Avalon9(),
                                                          AvalonLC3())}


def generation_of(spec: ModelSpec) -> Generation:
    return GENERATIONS[spec.generation]
