"""Protection, judged after every poll: overheat and stale-reading cutoff with resume below
the limit, fan to full while a fan stalls or the temperatures are too old to trust."""

from __future__ import annotations

import time

from ..models import (
    FAN_MAX_PERCENT,
    OVERHEAT_HYSTERESIS_C,
    RESUME_MARGIN_C,
    STALE_ROUNDS_CUTOFF,
    STALE_ROUNDS_FAN,
)
from .runtime import ModuleRuntime
from .status import STATE_CUTOFF, STATE_OK


def fan_target(rt: ModuleRuntime, step_pid: bool) -> int:
    """The fan duty the module should get now: full while cut off, stalled or blind; the
    manual value; else the PID on the hottest reading (a step every fan interval)."""
    if rt.cutoff or rt.fan_failed or rt.stale:
        return FAN_MAX_PERCENT
    if not rt.auto_fan:
        return rt.manual_fan
    hottest = rt.readings.hottest_c()
    if step_pid and hottest is not None:
        return rt.pid.update(hottest)
    return int(rt.pid.u + 0.5) if rt.pid.started else rt.fan_percent


def protect(rt: ModuleRuntime, chain_overheat_c: float, min_cutoff_s: float) -> bool:
    """Overheat and stale-reading cutoff / resume and fan-stall handling, after every
    poll.  Temperatures too old to trust count as hot: fan first, then cutoff.  True when
    the module must be sent its PLL frames again (it was cut off or may resume).

    A cut-off module resumes only once it has cooled below its fan target with a margin
    (and the cutoff's hysteresis), and no sooner than ``min_cutoff_s`` after the cutoff,
    the fan at full meanwhile: under sustained heat it stays off rather than cycling
    through overshoots.  The reason it was cut off says when it will resume."""
    hottest = rt.readings.hottest_c()
    staleness = rt.readings.temperature_staleness()
    stale = staleness >= STALE_ROUNDS_FAN
    if stale != rt.stale:
        rt.stale, rt.fan_pending = stale, True
    reason, resend = "", False
    overheat_c = min(chain_overheat_c, rt.spec.overheat_c)
    if hottest is not None and hottest >= overheat_c:
        reason = f"overheat ({hottest:.0f} degC)"
    elif staleness >= STALE_ROUNDS_CUTOFF:
        reason = "chip temperatures not read for too long"
    resume_c = min(overheat_c - OVERHEAT_HYSTERESIS_C, rt.pid.target_c - RESUME_MARGIN_C)
    now = time.monotonic()
    if not rt.cutoff and reason:
        reason += f"; resumes below {resume_c:.0f} degC, not before {min_cutoff_s:g} s"
        rt.cutoff, rt.cutoff_reason, rt.state, rt.fan_pending = True, reason, STATE_CUTOFF, True
        rt.cutoffs += 1
        rt.cutoff_at = now
        resend = True
    elif (
        rt.cutoff
        and not stale
        and hottest is not None
        and hottest <= resume_c
        and now - rt.cutoff_at >= min_cutoff_s
    ):
        rt.cutoff, rt.cutoff_reason, rt.state, rt.fan_pending = False, "", STATE_OK, True
        resend = True
    rpm = rt.readings.fan_rpm
    stalled = rpm == 0 and rt.fan_percent > 0
    if rpm is not None and stalled != rt.fan_failed:
        rt.fan_failed, rt.fan_pending = stalled, True
    return resend
