"""The controller's status as one dict: chains, modules, pools and totals (what status
lines, the API and the metrics read)."""

from __future__ import annotations

import time

from ..errors import AsicError


def controller_status(controller) -> dict:
    """A snapshot for status lines, the API and metrics.  ``totals`` sums the pools'
    share counts; :func:`mining_modules` lists the modules of the chains mining."""
    chains = []
    for slot in controller.slots:
        chain = slot.chain
        try:
            chain_status = chain.status() if chain is not None else slot.final_status
        except AsicError:
            chain_status = None
        chains.append(
            {
                "index": slot.index,
                "url": slot.url,
                "state": slot.state,
                "error": slot.last_error,
                "opens": slot.opens,
                "status": chain_status,
            }
        )
    with controller._lock:
        modules = {
            key: {
                "counts": acct.counts.to_dict(),
                "hashrate_ghs": acct.meter.rates_ghs(),
                "chip_shares": dict(acct.chip_shares),
            }
            for key, acct in sorted(controller.module_accounts.items())
        }
        pools = [
            {
                "index": p.index,
                "url": p.url,
                "user": p.config.user,
                "priority": controller.priority.index(p),
                "state": p.state,
                "ready": p.ready,
                "active": p is controller.active,
                "enabled": p.enabled,
                "difficulty": p.difficulty,
                "error": p.last_error,
                "connects": p.connects,
                "failures": p.failures,
                "last_job_time": p.last_job_wall,
                "jobs": p.account.jobs,
                "clean_jobs": p.account.clean_jobs,
                "switches_to": p.account.switches_to,
                "counts": p.account.counts.to_dict(),
            }
            for p in controller.pools
        ]
    total = {
        name: sum(m["hashrate_ghs"][name] for m in modules.values())
        for name in ("5s", "1m", "5m", "15m", "av")
    }
    counts = [p["counts"] for p in pools]
    totals = {
        "found": sum(c["found"] for c in counts),
        "accepted": sum(c["accepted"] for c in counts),
        "rejected": sum(sum(c["rejected"].values()) for c in counts),
        "unknown": sum(sum(c["unknown"].values()) for c in counts),
        "stale": sum(sum(c["stale"].values()) for c in counts),
    }
    return {
        "uptime_s": time.monotonic() - controller.started,
        "pools": pools,
        "soft_off": controller.soft_off,
        "totals": totals,
        "chains": chains,
        "modules": modules,
        "hashrate_ghs": total,
        "active_pool": controller.active.index if controller.active else None,
    }
