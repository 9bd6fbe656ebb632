"""Self-contained reports of a self-test or burn-in: one HTML file (inline CSS and SVG, no
network asset, opens from a USB stick) or the same data as JSON for a shop's own tools."""

from __future__ import annotations

import json
import os
import time
from html import escape

from ..errors import LimitError
from ..models import MODELS
from .chipmap import TARGET_C, WARN_C, chip_map_svg

STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1100px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.pass{color:#1f7a35;font-weight:bold}.fail{color:#b3261e;font-weight:bold}
.warn{color:#8a5a00;font-weight:bold}
.maps{display:flex;flex-wrap:wrap;gap:18px}svg.chipmap{background:#fafafa}"""


def check_report_path(path: str) -> str:
    """The report's format from its name (``.html``/``.htm`` or ``.json``), checked with
    its folder before a test starts, so a long burn-in never ends on a bad name."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".html", ".htm", ".json"):
        raise LimitError(f"report {path!r}: name it .html or .json")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise LimitError(f"report {path!r}: the folder {folder} does not exist")
    return ext


def write_report(path: str, report: dict) -> None:
    """``.html`` or ``.json`` by the file's extension."""
    ext = check_report_path(path)
    text = json.dumps(report, indent=1, default=str) if ext == ".json" else render_html(report)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def render_html(report: dict) -> str:
    kind = {"burnin": "burn-in", "selftest": "self-test"}.get(str(report.get("kind")), "report")
    ok = report.get("ok")
    title = f"asicdrv {kind}: {report.get('verdict', '')}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><meta name='viewport' content='width=device-width'>"
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(kind.capitalize())} report: <span class="
        f"'{'pass' if ok else 'warn' if report.get('verdict') == 'INCONCLUSIVE' else 'fail'}'"
        f" id='verdict'>{escape(str(report.get('verdict')))}"
        f"</span></h1>",
        _table(
            [
                ("device", report.get("device")),
                (
                    "started",
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.get("started", 0))),
                ),
                ("duration", f"{report.get('seconds', 0):.0f} s"),
                ("AUC", ", ".join(f"{k} {v}" for k, v in report.get("auc", {}).items()) or "-"),
                ("tool", report.get("tool")),
            ]
        ),
    ]
    reasons = report.get("findings") or []
    parts.append(
        "<h2>Findings</h2>"
        + (
            "<ul>" + "".join(f"<li class='fail'>{escape(r)}</li>" for r in reasons) + "</ul>"
            if reasons
            else "<p class='pass'>none</p>"
        )
    )
    if report.get("inconclusive"):
        parts.append(
            "<h2>Not enough to judge</h2><ul>"
            + "".join(f"<li class='warn'>{escape(r)}</li>" for r in report["inconclusive"])
            + "</ul>"
        )
    if report.get("checks"):
        parts.append(
            "<h2>Checks</h2>"
            + _rows(
                ["result", "check", "module", "detail"],
                [
                    [
                        "PASS" if c["ok"] else "FAIL",
                        c["check"],
                        c.get("module") or "",
                        c.get("detail", ""),
                    ]
                    for c in report["checks"]
                ],
            )
        )
    for m in report.get("modules", []):
        parts.append(
            f"<h2 id='module-{m['id']}'>Module {m['id']}: {escape(str(m['model']))}"
            f" DNA {escape(str(m['dna']))}</h2>"
        )
        parts.append(
            _table(
                [
                    ("firmware", m.get("version")),
                    ("settings", settings_text(report.get("settings", {}).get(str(m["id"])))),
                    (
                        "hottest chip",
                        "-" if m.get("hottest_c") is None else f"{m['hottest_c']:.1f} degC",
                    ),
                    (
                        "fan",
                        f"{_shown(m.get('fan_rpm'))} RPM"
                        + ("" if m.get("fan_percent") is None else f" at {m['fan_percent']} %"),
                    ),
                    ("findings", "; ".join(m.get("findings", [])) or "none"),
                ]
            )
        )
        maps = [
            ("test", m.get("chip_test"), "chip test"),
            ("temperature", m.get("temperatures"), "temperature, degC (last reading)"),
            ("nonces", m.get("nonce_ratio"), "nonces against the miner's median"),
            ("errors", m.get("hw_errors"), "hardware errors"),
        ]
        parts.append(
            "<div class='maps'>"
            + "".join(
                f"<div class='map' data-module='{m['id']}'>"
                f"{chip_map_svg(values, kind, label, *_scale(m.get('model')))}"
                f"</div>"
                for kind, values, label in maps
                if values
            )
            + "</div>"
        )
    if report.get("timeline"):
        parts.append(
            "<h2>Temperatures and fans during the test</h2>" + timeline_svg(report["timeline"])
        )
    parts.append("</body></html>")
    return "".join(parts)


def _shown(value) -> str:
    """A value as a person reads it: '-' for nothing, yes/no for a flag."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))


def _table(rows) -> str:
    return (
        "<table>"
        + "".join(f"<tr><th>{escape(str(k))}</th><td>{_shown(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )


def _rows(head, rows) -> str:
    return (
        "<table><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + "</tr>"
        + "".join("<tr>" + "".join(f"<td>{_shown(v)}</td>" for v in row) + "</tr>" for row in rows)
        + "</table>"
    )


def settings_text(settings: dict | None) -> str:
    """A module's settings as a technician reads them: the PLLs (one line when every miner
    runs the same), the voltage levels, and who set them."""
    if not settings:
        return "-"
    plls = ["/".join(map(str, f)) for f in settings.get("frequencies_mhz", [])]
    levels = ["-" if v is None else str(v) for v in settings.get("voltage_levels", [])]
    clock = (
        f"{plls[0]} MHz, every miner"
        if len(set(plls)) == 1
        else "; ".join(f"miner {i}: {p} MHz" for i, p in enumerate(plls))
    )
    volt = levels[0] if len(set(levels)) == 1 else "/".join(levels)
    sources = {"host": "set by this host", "board": "as the board ran", "unset": "left unset"}
    source = str(settings.get("source") or "-")
    return f"PLLs {clock}; voltage level {volt if levels else '-'}; {sources.get(source, source)}"


def _scale(model) -> tuple[float, float]:
    """The fan target and the warning temperature of a model (an Avalon 8's if unknown)."""
    spec = MODELS.get(model)
    return (spec.temp_target_c, spec.warn_c) if spec else (TARGET_C, WARN_C)


def timeline_svg(timeline: list, width: int = 720, height: int = 200) -> str:
    """Hottest chip per module (solid) and fan duty (dashed, right axis) over time."""
    span = max((s["t"] for s in timeline), default=1) or 1
    colours = ["#c0392b", "#2471a3", "#239b56", "#b7950b", "#7d3c98", "#ca6f1e"]
    modules = sorted({k for s in timeline for k in s["modules"]}, key=int)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 50}" '
        f'font-family="sans-serif" font-size="11" class="timeline">',
        f'<rect x="40" y="0" width="{width - 80}" height="{height}" fill="none" '
        f'stroke="#ccc"/><text x="0" y="10">120 C</text>'
        f'<text x="0" y="{height}">0 C</text>'
        f'<text x="{width - 36}" y="10">100 %</text>'
        f'<text x="40" y="{height + 14}">0 s</text>'
        f'<text x="{width - 80}" y="{height + 14}">{span:.0f} s</text>',
    ]

    def point(t, value, top):
        return f"{40 + (width - 80) * t / span:.1f},{height - height * value / top:.1f}"

    for n, module in enumerate(modules):
        colour = colours[n % len(colours)]
        temps = [
            point(s["t"], s["modules"][module]["hottest_c"], 120)
            for s in timeline
            if s["modules"].get(module, {}).get("hottest_c") is not None
        ]
        fans = [
            point(s["t"], s["modules"][module]["fan_percent"], 100)
            for s in timeline
            if s["modules"].get(module, {}).get("fan_percent") is not None
        ]
        if temps:
            out.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{" ".join(temps)}"/>'
            )
        if fans:
            out.append(
                f'<polyline fill="none" stroke="{colour}" stroke-dasharray="4 3" '
                f'points="{" ".join(fans)}"/>'
            )
        # one short label a module, spaced for "module 6", every module on the line
        out.append(
            f'<text x="{40 + 80 * n}" y="{height + 30}" fill="{colour}">module {module}</text>'
        )
    out.append(
        f'<text x="40" y="{height + 46}" fill="#555">'
        f"solid: hottest chip (left axis); dashed: fan % (right axis)</text>"
    )
    out.append("</svg>")
    return "".join(out)
