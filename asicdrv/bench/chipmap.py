"""Chip maps as SVG: one module's miners (rows) by chips (columns), each chip coloured by a
quantity, with its value on hover (``<title>``) and a legend.  One renderer for the report
files and the live page.

Chips are drawn in index order along each miner's string (chip 0 on the left), which is the
order the MM reports them in; the Avalon 8 board's physical placement is not public, so index
order is the physical order we can vouch for.

Every chip's ``<rect>`` carries ``data-miner``, ``data-chip`` and ``data-state`` (``ok``,
``failed``, ``weak``, ``hot``, ``unknown``) so that tools (and our tests) can read a map back.
"""

from __future__ import annotations

from html import escape

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Sequence

CELL = 16
GAP = 2
LEFT = 64
TOP = 28

KINDS = {
    "test": "chip test",
    "temperature": "temperature, degC",
    "nonces": "nonces against the miner's median",
    "errors": "hardware errors",
    "health": "chip health",
}
HEALTH_FILL = {
    "ok": "#2ea043",
    "weak": "#e6be28",
    "failed": "#d23228",
    "hot": "#e67e22",
    "unknown": "#bbbbbb",
}


def _mix(a: tuple, b: tuple, t: float) -> str:
    t = min(1.0, max(0.0, t))
    return "#%02x%02x%02x" % tuple(int(x + (y - x) * t) for x, y in zip(a, b))


GREEN, YELLOW, RED, BLUE, ORANGE, GREY = (
    (46, 160, 67),
    (230, 190, 40),
    (210, 50, 40),
    (60, 110, 200),
    (230, 126, 34),
    "#bbbbbb",
)


# an Avalon 8's fan target and warning temperature (models.ModelSpec.warn_c): the scale of a
# temperature map unless its model's are given
TARGET_C, WARN_C = 90.0, 97.5


def cell_style(
    kind: str, value, target_c: float = TARGET_C, warn_c: float = WARN_C
) -> tuple[str, str, str]:
    """(fill colour, state, hover text) for one chip; a temperature is judged against the
    model's fan target (cool to normal: blue to green) and warning (amber, then red)."""
    if value is None:
        return GREY, "unknown", "no reading"
    if kind == "test":
        return ("#2ea043", "ok", "pass") if value else ("#d23228", "failed", "FAIL")
    if kind == "temperature":
        if value <= 1.0:
            return "#d23228", "failed", f"{value:.1f} degC (sensor reads 0)"
        if value < target_c:  # what the fan aims at: normal
            fill = _mix(BLUE, GREEN, (value - 25) / max(1.0, target_c - 25))
        elif value < warn_c:  # over the target: the fan is working hard
            fill = _mix(YELLOW, ORANGE, (value - target_c) / max(1.0, warn_c - target_c))
        else:
            fill = _mix(ORANGE, RED, (value - warn_c) / 8)
        return fill, "hot" if value >= warn_c else "ok", f"{value:.1f} degC"
    if kind == "nonces":
        if value <= 0:
            return "#d23228", "failed", "no nonces"
        fill = (
            _mix(RED, YELLOW, value * 2) if value < 0.5 else _mix(YELLOW, GREEN, (value - 0.5) * 2)
        )
        return fill, "weak" if value < 0.5 else "ok", f"{value:.0%} of the miner's median"
    if kind == "health":  # value: (state, text), judged by the caller
        state, text = value
        return HEALTH_FILL[state], state, text
    if kind == "errors":
        if value == 0:
            return "#2ea043", "ok", "0 errors"
        return (
            _mix(YELLOW, RED, min(1.0, value / 20)),
            "failed" if value >= 3 else "ok",
            f"{value} errors",
        )
    raise ValueError(f"unknown chip map kind {kind!r}; known: {', '.join(KINDS)}")


LEGENDS = {
    "test": [("#2ea043", "pass"), ("#d23228", "fail"), (GREY, "not tested")],
    "temperature": [
        (_mix(BLUE, GREEN, 0), "cool"),
        (_mix(BLUE, GREEN, 1), "normal"),
        (_mix(YELLOW, ORANGE, 0.5), "over fan target"),
        (_mix(ORANGE, RED, 1), "over warning"),
        ("#d23228", "reads 0"),
        (GREY, "no reading"),
    ],
    "nonces": [
        ("#d23228", "none"),
        (_mix(RED, YELLOW, 1), "50 %"),
        (_mix(YELLOW, GREEN, 1), "100 % of median"),
    ],
    "errors": [("#2ea043", "0"), (_mix(YELLOW, RED, 0.25), "5"), (_mix(YELLOW, RED, 1), "20+")],
    "health": [(HEALTH_FILL[s], s) for s in ("ok", "weak", "hot", "failed", "unknown")],
}


def chip_map_svg(
    values: Sequence[Sequence],
    kind: str,
    title: str = "",
    target_c: float = TARGET_C,
    warn_c: float = WARN_C,
) -> str:
    """``values[miner][chip]`` (None where unknown) as an SVG chip map of ``kind``; a
    temperature map on the scale of its model's fan target and warning."""
    miners = len(values)
    chips = max((len(row) for row in values), default=0)
    width = LEFT + chips * (CELL + GAP) + 8
    legend, rows = _legend(LEGENDS[kind], TOP + miners * (CELL + GAP) + 14, width)
    height = TOP + miners * (CELL + GAP) + 22 + 14 * rows
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chipmap" data-kind="{kind}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<text x="0" y="14" font-weight="bold">{escape(title or KINDS[kind])}</text>',
    ]
    for c in range(0, chips, 5):
        out.append(f'<text x="{LEFT + c * (CELL + GAP)}" y="{TOP - 3}" fill="#666">{c}</text>')
    for m, row in enumerate(values):
        y = TOP + m * (CELL + GAP)
        out.append(f'<text x="0" y="{y + CELL - 4}">miner {m}</text>')
        for c, value in enumerate(row):
            fill, state, text = cell_style(kind, value, target_c, warn_c)
            x = LEFT + c * (CELL + GAP)
            out.append(
                f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" rx="2" '
                f'fill="{fill}" data-miner="{m}" data-chip="{c}" data-state="{state}">'
                f"<title>miner {m} chip {c}: {escape(text)}</title></rect>"
            )
    out += legend
    out.append("</svg>")
    return "".join(out)


def _legend(items, y: int, width: int) -> tuple[list[str], int]:
    """The legend's swatches and labels, wrapped onto as many rows as the map's width
    needs (a label is about 7 px a character at 11 px); the number of rows."""
    out, x, rows = [], 0, 1
    for fill, label in items:
        step = 24 + 7 * len(label)
        if x and x + step - 10 > width:
            x, y, rows = 0, y + 14, rows + 1
        out.append(
            f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{fill}"/>'
            f'<text x="{x + 14}" y="{y}">{escape(label)}</text>'
        )
        x += step
    return out, rows
