"""Terminal views through ``rich`` (only when stdout is a terminal; pipes and logs get the
plain tables of :mod:`.common`, as before): coloured tables, findings in red, and a live
table for ``monitor``."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .common import fan_text, _cell


def rich_table(headers, rows, bad_rows=frozenset(), title: str | None = None) -> Table:
    """``bad_rows``: indexes of rows to show in red (a module with a finding)."""
    table = Table(*headers, title=title, header_style="bold cyan", title_justify="left")
    for n, row in enumerate(rows):
        table.add_row(*[_cell(v) for v in row], style="red" if n in bad_rows else None)
    return table


def status_view(status, problems: dict, missing=()) -> Group:
    """What ``asicdrv status`` prints: identity, module state, miners, findings."""
    modules = status.modules
    bad = {n for n, m in enumerate(modules) if problems.get(m.id)}
    head = Text(f"device {status.link}  ", style="bold")
    head.append(
        "connected" if status.connected else "DISCONNECTED",
        style="green" if status.connected else "bold red",
    )
    parts = [
        head,
        rich_table(
            ["module", "model", "dna", "firmware", "settings"],
            [[m.id, m.model, m.dna, m.version, m.settings_source] for m in modules],
        ),
        rich_table(
            [
                "module",
                "state",
                "MM C",
                "chip C",
                "fan",
                "RPM",
                "TH/s",
                "HW err",
                "CRC err",
                "shares",
            ],
            [
                [
                    m.id,
                    m.state,
                    m.temperature_c,
                    m.hottest_chip_c,
                    fan_text(m),
                    m.fan_rpm,
                    f"{m.hashrate_ghs / 1000:.2f}",
                    m.hw_errors,
                    m.crc_errors,
                    m.shares,
                ]
                for m in modules
            ],
            bad,
        ),
    ]
    for module_id, items in problems.items():
        parts += [Text(f"FINDING module {module_id}: {item}", style="bold red") for item in items]
    parts += [Text(f"FINDING {item}", style="bold red") for item in missing]
    return Group(*parts)  # type: ignore[arg-type]  # Text and Table are renderables


def console() -> Console:
    return Console(highlight=False)
