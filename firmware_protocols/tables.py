"""Per-generation value tables: frequency <-> PLL word and voltage level <-> SET_VOLT word.

Each ASIC generation has its own PLL ("cpm") table and its own voltage word; the model
table (:mod:`asicdrv.models`) names which one a model uses.  Facts from
``docs/families.md`` (cgminer ``driver-avalon7.c``
``cpm_table``/``encode_voltage``, ``driver-avalon8.c``, Canaan's ``avalon911``
``driver-avalon9.c`` ``cpm_table_point`` and ``avalonlc3``).  Every encoder raises
:class:`LimitError` for a value the table cannot carry: cgminer rounds by integer
division (A8: 860 -> 850 MHz); we refuse, so what the board runs is what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping

from .encodings import CPM_TABLE, PLL_STEP_MHZ, voltage_level_to_word, word_to_voltage_level
from .errors import LimitError, PayloadError
from .records import record

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable, Iterator

# A7 (A3212): cpm_table[mhz // 12 - 2], 24..1404 MHz in 12 MHz steps (116 words).
A7_CPM_TABLE = (
    0x0173F813,
    0x0175F813,
    0x0163F813,
    0x0164F813,
    0x0165F813,
    0x0166F813,
    0x0153F813,
    0x01547813,
    0x0154F813,
    0x01557813,
    0x0155F813,
    0x01567813,
    0x0156F813,
    0x01577813,
    0x0143F813,
    0x01443813,
    0x01447813,
    0x0144B813,
    0x0144F813,
    0x01453813,
    0x01457813,
    0x0145B813,
    0x0145F813,
    0x01463813,
    0x01467813,
    0x0146B813,
    0x0146F813,
    0x01473813,
    0x01477813,
    0x0147B813,
    0x0133F813,
    0x01341813,
    0x01343813,
    0x01345813,
    0x01347813,
    0x01349813,
    0x0134B813,
    0x0134D813,
    0x0134F813,
    0x01351813,
    0x01353813,
    0x01355813,
    0x01357813,
    0x01359813,
    0x0135B813,
    0x0135D813,
    0x0135F813,
    0x01361813,
    0x01363813,
    0x01365813,
    0x01367813,
    0x01369813,
    0x0136B813,
    0x0136D813,
    0x0136F813,
    0x01371813,
    0x01373813,
    0x01375813,
    0x01377813,
    0x01379813,
    0x0137B813,
    0x0123E813,
    0x0123F813,
    0x01240813,
    0x01241813,
    0x01242813,
    0x01243813,
    0x01244813,
    0x01245813,
    0x01246813,
    0x01247813,
    0x01248813,
    0x01249813,
    0x0124A813,
    0x0124B813,
    0x0124C813,
    0x0124D813,
    0x0124E813,
    0x0124F813,
    0x01250813,
    0x01251813,
    0x01252813,
    0x01253813,
    0x01254813,
    0x01255813,
    0x01256813,
    0x01257813,
    0x01258813,
    0x01259813,
    0x0125A813,
    0x0125B813,
    0x0125C813,
    0x0125D813,
    0x0125E813,
    0x0125F813,
    0x01260813,
    0x01261813,
    0x01262813,
    0x01263813,
    0x01264813,
    0x01265813,
    0x01266813,
    0x01267813,
    0x01268813,
    0x01269813,
    0x0126A813,
    0x0126B813,
    0x0126C813,
    0x0126D813,
    0x0126E813,
    0x0126F813,
    0x01270813,
    0x01271813,
    0x01272813,
    0x01273813,
    0x01274813,
)
A7_PLL_STEP_MHZ = 12
A7_PLL_MIN_MHZ = 24

# A9 cpm_table_point[(mhz - 12) // 25]: the "x.5 MHz" words.  Indices 16..31 are distinct
# (412.5 .. 787.5 MHz); we accept them as the whole number cgminer is given (412 means
# 412.5 MHz, 462 means 462.5, ...), which is how the A9 defaults 462/512/562 are written.
A9_POINT_WORDS = (
    0x00900C01,
    0x00910C41,
    0x00920C81,
    0x00930CC1,
    0x00940D01,
    0x00950D41,
    0x00960D81,
    0x00970DC1,
    0x00980E01,
    0x00990E41,
    0x009A0E81,
    0x009B0EC1,
    0x009C0F01,
    0x009D0F41,
    0x009E0F81,
    0x009F0FC1,
)
A9_POINT_FIRST_MHZ = 412


class WholeMhz(Mapping):
    """The PLL table of an MM that takes the MHz itself as the word: every whole MHz in
    ``lowest..highest`` maps to itself (a dict of those is 0.1 MiB a table)."""

    def __init__(self, lowest: int, highest: int):
        self._range = range(lowest, highest + 1)

    def __getitem__(self, mhz: object) -> int:
        if isinstance(mhz, (int, float)) and mhz in self._range:
            return int(mhz)
        raise KeyError(mhz)

    def __iter__(self) -> Iterator[int]:
        return iter(self._range)

    def __len__(self) -> int:
        return len(self._range)


@record(frozen=True)
class PllTable:
    """Frequencies (MHz) a PLL can be set to and the word that sets each; ``off_mhz`` is
    the frequency that stops the PLL (None: the generation has no off word, so the
    lowest frequency is the idle setting)."""

    name: str
    words: Mapping[int, int]
    off_mhz: int | None
    describe: str

    def word(self, mhz: int) -> int:
        try:
            return self.words[mhz]
        except (KeyError, TypeError):
            raise LimitError(
                f"frequency {mhz} MHz is not one the {self.name} PLL takes ({self.describe})"
            ) from None

    def mhz(self, word: int) -> int:
        try:
            return self._by_word[word]
        except KeyError:
            raise PayloadError(f"0x{word:08x} is not in the {self.name} PLL table") from None

    @property
    def _by_word(self) -> dict[int, int]:
        cached = self.__dict__.get("_reverse")
        if cached is None:
            cached = {}
            for mhz, word in sorted(self.words.items(), reverse=True):
                cached[word] = mhz  # a word listed twice decodes to the lower MHz
            object.__setattr__(self, "_reverse", cached)
        return cached

    @property
    def lowest_mhz(self) -> int:
        return min(f for f in self.words if f != self.off_mhz)

    @property
    def highest_mhz(self) -> int:
        return max(self.words)

    @property
    def idle_mhz(self) -> int:
        return self.off_mhz if self.off_mhz is not None else self.lowest_mhz


A3210_PLL = PllTable(
    "A3210",
    {i * PLL_STEP_MHZ: w for i, w in enumerate(CPM_TABLE)},
    0,
    f"a multiple of {PLL_STEP_MHZ} in 0..{(len(CPM_TABLE) - 1) * PLL_STEP_MHZ}, 0 = off",
)
A3212_PLL = PllTable(
    "A3212",
    {A7_PLL_MIN_MHZ + i * A7_PLL_STEP_MHZ: w for i, w in enumerate(A7_CPM_TABLE)},
    None,
    f"a multiple of {A7_PLL_STEP_MHZ} in {A7_PLL_MIN_MHZ}.."
    f"{A7_PLL_MIN_MHZ + (len(A7_CPM_TABLE) - 1) * A7_PLL_STEP_MHZ}",
)
A9_PLL = PllTable(
    "A9",
    {
        **A3210_PLL.words,
        **{A9_POINT_FIRST_MHZ + i * PLL_STEP_MHZ: w for i, w in enumerate(A9_POINT_WORDS)},
    },
    0,
    f"a multiple of {PLL_STEP_MHZ} in 0..1200, 0 = off, or an x.5 MHz point: 412, 437, "
    f".. 787 for 412.5 .. 787.5",
)
# Avalon 4 / 4.1 / 5: SET carries each PLL's MHz as a 10-bit number and the MM picks the
# PLL setting itself; cgminer's option range is 100..1000 (MM60: at most 500).  No off
# word: a cutoff is 100 MHz at voltage 0 (driver-avalon4.c).
A4_PLL = PllTable("MM4", WholeMhz(100, 1000), None, "whole MHz in 100..1000")
MM60_PLL = PllTable("MM60", WholeMhz(100, 500), None, "whole MHz in 100..500")
# Avalon 2 / 3: one clock for the module, in MHz, in SET (driver-avalon2.h: 300..2000)
A2_PLL = PllTable("MM2", WholeMhz(300, 2000), None, "whole MHz in 300..2000")
# Avalon nano / Avalon4 mini: cgminer driver-avalon-miner.c g_freq_array, 100..400 MHz in
# 12.5 MHz steps (cgminer looks the MHz up in the table; we take exactly its values)
NANO_FREQ_WORDS = (
    (100, 0x1E678447),
    (113, 0x22688447),
    (125, 0x1C470447),
    (138, 0x2A6A8447),
    (150, 0x22488447),
    (163, 0x326C8447),
    (175, 0x1A268447),
    (188, 0x1C270447),
    (200, 0x1E278447),
    (213, 0x20280447),
    (225, 0x22288447),
    (238, 0x24290447),
    (250, 0x26298447),
    (263, 0x282A0447),
    (275, 0x2A2A8447),
    (288, 0x2C2B0447),
    (300, 0x2E2B8447),
    (313, 0x302C0447),
    (325, 0x322C8447),
    (338, 0x342D0447),
    (350, 0x1A068447),
    (363, 0x382E0447),
    (375, 0x1C070447),
    (388, 0x3C2F0447),
    (400, 0x1E078447),
)
NANO_PLL = PllTable(
    "A3233/A3222",
    dict(NANO_FREQ_WORDS),
    None,
    "one of 100, 113, 125, 138, .. 388, 400 (12.5 MHz steps, rounded)",
)
PLL_TABLES = {t.name: t for t in (A3210_PLL, A3212_PLL, A9_PLL, A4_PLL, MM60_PLL, A2_PLL, NANO_PLL)}


@record(frozen=True)
class VoltageCodec:
    """Voltage level <-> SET_VOLT word for one generation; ``unit`` says what a level is."""

    name: str
    encode: Callable[[int], int]
    decode: Callable[[int], int]
    unit: str
    millivolts: Callable[[int], float] | None = None  # the regulator setpoint, when known


def _raw_word(level: int) -> int:
    if not 0 <= level <= 0xFFFF:
        raise LimitError(f"voltage level {level} does not fit a SET_VOLT word")
    return level


def _raw_level(word: int) -> int:
    if word > 0xFFFF:
        raise PayloadError(f"0x{word:08x} is not a raw voltage level")
    return word


A7_MV_BASE, A7_MV_STEP, A7_LEVEL_MAX = 3889, 78, 15


def a7_level_to_word(level: int) -> int:
    """A7: ``0x8000 | (mV - 3889) / 78``; level = (mV - 3889) / 78, 0..15."""
    if not 0 <= level <= A7_LEVEL_MAX:
        raise LimitError(f"voltage level {level} out of range 0..{A7_LEVEL_MAX}")
    return 0x8000 | level


def a7_word_to_level(word: int) -> int:
    if word & ~0x800F or not word & 0x8000:
        raise PayloadError(f"0x{word:08x} is not an A7 voltage word")
    return word & 0xF


def rev8(byte: int) -> int:
    """The 8 bits of ``byte`` in reverse order (the VID lines are wired LSB first)."""
    return int(f"{byte & 0xFF:08b}"[::-1], 2)


A4_VOLT_STEP = 125  # 0.1 mV units: 125 = 12.5 mV, one VID step


def _vid_units(v: int) -> int:
    if v % A4_VOLT_STEP:
        raise LimitError(f"voltage {v} (0.1 mV units) is not a multiple of {A4_VOLT_STEP}")
    return v // A4_VOLT_STEP


def adp3208d_word(v: int) -> int:
    """MM40 (and Avalon 2/3) VID: ``rev8(((0x78 - v/125) << 1) | 1) << 8``, v in 0.1 mV."""
    code = 0x78 - _vid_units(v)
    if not 0 <= code <= 0x7F:
        raise LimitError(f"voltage {v} (0.1 mV units) is outside the ADP3208D range 0..15000")
    return rev8(code << 1 | 1) << 8


def adp3208d_volts(word: int) -> int:
    if word & ~0xFF00:
        raise PayloadError(f"0x{word:08x} is not an ADP3208D voltage word")
    return (0x78 - (rev8(word >> 8) >> 1)) * A4_VOLT_STEP


def ncp5392p_word(v: int) -> int:
    """MM41/50/60: 0 -> 0xff00 (off); else ``rev8(((0x59 - (v - 5000)/125) << 1) | 1) << 8``."""
    if v == 0:
        return 0xFF00
    code = 0x59 - (_vid_units(v) - 5000 // A4_VOLT_STEP)
    if not 0 <= code <= 0x7F:
        raise LimitError(f"voltage {v} (0.1 mV units) is outside the NCP5392P range")
    return rev8(code << 1 | 1) << 8


def ncp5392p_volts(word: int) -> int:
    if word == 0xFF00:
        return 0
    if word & ~0xFF00:
        raise PayloadError(f"0x{word:08x} is not an NCP5392P voltage word")
    return 5000 + (0x59 - (rev8(word >> 8) >> 1)) * A4_VOLT_STEP


def nano_voltage_code(v: int) -> int:
    """driver-avalon-miner.c: ``((0x59 - (v - 5000)/125) & 0xff) << 1 | 1``, 0 -> 0xff."""
    if v == 0:
        return 0xFF
    code = 0x59 - (_vid_units(v) - 5000 // A4_VOLT_STEP)
    if not 0 <= code <= 0x7F:
        raise LimitError(f"voltage {v} (0.1 mV units) is outside the nano's range")
    return code << 1 | 1


def nano_voltage(code: int) -> int:
    if code == 0xFF:
        return 0
    if code > 0xFF or not code & 1:
        raise PayloadError(f"0x{code:x} is not a nano voltage code")
    return (0x59 - (code >> 1)) * A4_VOLT_STEP + 5000


VOLTAGE_CODECS = {
    "signed": VoltageCodec(
        "signed",
        voltage_level_to_word,
        word_to_voltage_level,
        "level (0x8000 | level, 0x8080 | -level below 0)",
    ),
    "raw": VoltageCodec("raw", _raw_word, _raw_level, "raw level"),
    "a7": VoltageCodec(
        "a7",
        a7_level_to_word,
        a7_word_to_level,
        "step of 78 mV above 3889 mV",
        lambda level: A7_MV_BASE + A7_MV_STEP * level,
    ),
    "adp3208d": VoltageCodec(
        "adp3208d",
        adp3208d_word,
        adp3208d_volts,
        "0.1 mV (6875 = 0.6875 V), steps of 125",
        lambda v: v / 10,
    ),
    "ncp5392p": VoltageCodec(
        "ncp5392p",
        ncp5392p_word,
        ncp5392p_volts,
        "0.1 mV (6875 = 0.6875 V), steps of 125",
        lambda v: v / 10,
    ),
    "nano": VoltageCodec(
        "nano",
        nano_voltage_code,
        nano_voltage,
        "0.1 mV (6500 = 0.65 V), steps of 125",
        lambda v: v / 10,
    ),
}


# --- A7 PVT sensor codes (driver-avalon7.c decode_pvt_temp: a quartic in the code) ------
_A7_PVT = (-1.1876e-11, 6.6675e-8, -1.7724e-4, 0.33691, -60.605)
A7_PVT_CODE_MAX = 1023  # the quartic rises monotonically over 0..1023 (-60.6..157 degC)


def a7_pvt_code_to_celsius(code: int) -> float:
    a, b, c, d, e = _A7_PVT
    return (((a * code + b) * code + c) * code + d) * code + e


def celsius_to_a7_pvt_code(celsius: float) -> int:
    """The code whose temperature is nearest ``celsius`` (what an A7 sensor reports)."""
    low, high = 0, A7_PVT_CODE_MAX
    while low < high:  # the first code at or above celsius
        mid = (low + high) // 2
        if a7_pvt_code_to_celsius(mid) < celsius:
            low = mid + 1
        else:
            high = mid
    if low and abs(a7_pvt_code_to_celsius(low - 1) - celsius) <= abs(
        a7_pvt_code_to_celsius(low) - celsius
    ):
        return low - 1
    return low
