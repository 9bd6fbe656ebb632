"""The checks every value a caller gives the device layer passes before a frame is built:
numbers in range, frequencies the model's PLL table holds, models that take settings."""

from __future__ import annotations

import math

from ..errors import LimitError
from ..models import MODELS, ModelSpec

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import overload

if TYPE_CHECKING:  # pll_frequencies(mhz, spec) is a list of MHz per PLL

    @overload
    def pll_frequencies(mhz, spec: ModelSpec) -> list[int]: ...

    @overload
    def pll_frequencies(mhz, spec: None = None) -> int | list[int]: ...


def pll_frequencies(mhz, spec: ModelSpec | None = None) -> int | list[int]:
    """A frequency option: one whole MHz for every PLL, or one per PLL.  With ``spec`` it
    is checked against that model (its PLL count and table) and expanded to a list per
    PLL; without, it must suit at least one known model (a LimitError naming the
    models' tables otherwise) and comes back as given."""
    if not (isinstance(mhz, (int, float, str, bytes)) or mhz is None):
        try:
            mhz = list(mhz)
        except TypeError:
            raise LimitError(f"frequency {mhz!r} is not a number of MHz") from None
    if spec is not None:
        return spec.check_frequencies(mhz)
    for f in mhz if isinstance(mhz, list) else [mhz]:
        if isinstance(f, bool) or not isinstance(f, int):
            raise LimitError(f"frequency {f!r} is not a whole number of MHz")
    reasons: dict[str, None] = {}  # distinct reasons, in model-table order
    for model in MODELS.values():
        try:
            model.check_frequencies(mhz)
            return mhz
        except LimitError as exc:
            reasons[str(exc).split(": ", 1)[-1]] = None
    raise LimitError(f"frequency {mhz!r} suits no supported model: " + "; ".join(reasons))


def settable(spec: ModelSpec) -> ModelSpec:
    """The model, if the host can set its frequency and voltage (LimitError if not)."""
    if not spec.takes_settings:
        raise LimitError(
            f"the {spec.name} takes no frequency or voltage: its firmware runs "
            f"a fixed core voltage and sets its own clock (it reports the "
            f"clock it runs, see status)"
        )
    return spec


def number(name: str, value, low: float, high: float) -> float:
    """A finite number in [low, high], or a LimitError naming the option and the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LimitError(f"{name} {value!r} is not a number (range {low:g}..{high:g})")
    if not low <= value <= high:
        raise LimitError(f"{name} {value!r} out of range {low:g}..{high:g}")
    return float(value)


def whole(name: str, value, low: int, high: int) -> int:
    """A whole number in [low, high], or a LimitError naming the option and the range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LimitError(f"{name} {value!r} is not a whole number (range {low}..{high})")
    if not low <= value <= high:
        raise LimitError(f"{name} {value} out of range {low}..{high}")
    return value


def miners_for(spec: ModelSpec, module: int, miner: int | None) -> range | list[int]:
    """The miners a setting addresses: every one (None), or one where the model takes
    per-miner settings (a LimitError naming the module otherwise)."""
    if miner is None:
        return range(spec.miner_count)
    whole("miner", miner, 0, spec.miner_count - 1)
    if not spec.per_miner_settings:
        raise LimitError(
            f"the {spec.name} (module {module}) sets frequency and "
            f"voltage for the whole module: leave out the miner"
        )
    return [miner]
