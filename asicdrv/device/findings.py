"""What a technician or a farm operator must look at on a module: one list, used wherever
a module is shown (``status``, ``monitor``, ``selftest``, the live page)."""

from __future__ import annotations

from ..models import MODELS
from .status import STATE_OK, ModuleStatus


def module_findings(m: ModuleStatus) -> list[str]:
    """What a technician must look at on this module (empty = healthy)."""
    out = []
    if m.state == "cutoff" and m.cutoff_reason:
        out.append(f"cutoff (PLLs off): {m.cutoff_reason}")
    elif m.state != STATE_OK:
        out.append({"cutoff": "cutoff (PLLs off)", "lost": "module lost"}.get(m.state, m.state))
    if m.stale_temperatures:
        out.append("chip temperatures not read recently (link?): fan forced to 100%")
    if m.fifo_overflows:
        out.append(
            f"nonce FIFO overflowed {m.fifo_overflows} time(s): shares lost on "
            f"the board (poll faster or raise the difficulty)"
        )
    out += [f"MM reports: {name}" for name in m.errors if name != "API FIFO overflow"]
    if m.fan_failed:
        out.append("fan stalled (0 RPM)")
    spec = MODELS.get(m.model)
    if spec is not None and m.hottest_chip_c is not None and m.hottest_chip_c >= spec.warn_c:
        out.append(
            f"hottest chip {m.hottest_chip_c:.1f} degC, over the {m.model}'s warning "
            f"{spec.warn_c:g} degC (cutoff at {spec.overheat_c:g})"
        )
    if m.power_good is False:
        out.append("power not good")
    unread = {tuple(x) for x in m.chip_sensors_unread}
    silent = sum(
        t is None and (miner, chip) not in unread
        for miner, row in enumerate(m.chip_temperatures_c)
        for chip, t in enumerate(row)
    )
    if m.state == STATE_OK and silent and m.hottest_chip_c is not None and m.per_chip_sensors:
        out.append(f"{silent} chip sensor(s) silent")
    for miner, chips in m.chip_test.items():
        if chips:
            out.append(f"miner {miner}: chip(s) {', '.join(map(str, chips))} failed the test")
    return out
