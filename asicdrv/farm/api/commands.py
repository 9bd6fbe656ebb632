"""cgminer's API commands, answered from the controller.

The whole controller is one ASC device (``ASC 0``, driver ``avalon8``) whose modules, over
every chain, are ``MM ID0..n-1`` in ``estats``/``stats``; ``ascset`` addresses them as 1..n
(address k is ``MM ID{k-1}``, as pyasic's fault light assumes; 0 means all).  ``devs`` and
``summary`` total every module.  pyasic reads only ``MM ID0`` and, when ``MGHS`` is there,
takes the sum of its boards as the miner's hash rate; so ``MGHS`` is sent only when the
controller has a single module, and with several pyasic's total comes from ``devs`` ``MHS 1m``:
the controller's total (see docs/farm.md).

Every reply is a dict; :mod:`.server` frames it.  Values come from the device layer's status
and the controller's accounting; what cannot be measured (wall power, power limit) is left
out rather than invented.
"""

from __future__ import annotations

import re
import time

from ..._version import VERSION
from ...mining.controller import mining_modules
from ...errors import AsicError
from .control import ControlCommands
from .mm_string import mm_string
from .reply import Reply, error, ok

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

API_VERSION = "3.7"
DESCRIPTION = f"asicdrv {VERSION}"
JOINABLE = {
    "version",
    "config",
    "devs",
    "edevs",
    "pools",
    "summary",
    "devdetails",
    "stats",
    "estats",
    "coin",
    "check",
    "notify",
    "asccount",
    "lcd",
}
PRIVILEGED = {
    "ascset",
    "switchpool",
    "enablepool",
    "disablepool",
    "addpool",
    "removepool",
    "restart",
    "quit",
}
READ_ONLY = JOINABLE | {"privileged", "asc"}
COMMANDS = READ_ONLY | PRIVILEGED
SNAPSHOT_MAX_AGE_S = 0.5


def host_mac() -> str:
    """This host's MAC as VERSION shows it (uuid is imported here, on the first VERSION:
    a controller without the API does not carry it)."""
    import uuid

    return f"{uuid.getnode():012x}"


# pyasic (0.79) picks its class from VERSION PROD and has none for these; each is named
# after the model whose estats it reads the same way (same generation, same MM ID tokens)
PYASIC_NEAREST = {"711": "721", "831": "841", "910": "921", "911": "921", "910S": "921"}


class ApiCommands(ControlCommands):
    """Answers API commands for one controller; ``on_quit`` is called after a ``quit``.
    ``pyasic_nearest``: VERSION PROD names the nearest model pyasic has a class for."""

    def __init__(
        self, controller, on_quit: Callable[[], None] | None = None, pyasic_nearest: bool = False
    ):
        self.controller = controller
        self.on_quit = on_quit
        self.pyasic_nearest = pyasic_nearest
        self._refresh = False  # after a change, the next report reads afresh

    # --- the controller's state, cached so a burst of requests costs one snapshot ---------
    def state(self) -> dict:
        max_age, self._refresh = (0.0 if self._refresh else SNAPSHOT_MAX_AGE_S), False
        return self.controller.snapshot(max_age)

    @staticmethod
    def modules(state: dict) -> list:
        """(chain, ModuleStatus) over every chain, in MM ID order."""
        return mining_modules(state)

    def run(self, command: str, parameter: str | None, level: str) -> Reply:
        if command not in COMMANDS:
            return Reply("E", 14, "Invalid command")
        if level != "W" and (command in PRIVILEGED or command == "privileged"):
            return error(45, f"Access denied to '{command}' command")
        handler = getattr(self, "cmd_" + command)
        try:
            if command == "check":  # its Access answer depends on who asks
                return self.cmd_check(parameter, level)
            return handler(parameter)
        except AsicError as exc:  # a device or limit error: a status, never a crash
            return error(120 if command == "ascset" else 23, str(exc))
        finally:
            if command in PRIVILEGED:
                self._refresh = True  # the next report shows the change

    # --- read-only -------------------------------------------------------------------------
    def cmd_version(self, _param) -> Reply:
        state = self.state()
        modules = self.modules(state)
        first = modules[0][1] if modules else None
        model = first.model if first else "851"
        auc: dict = next(
            (
                c["status"].auc
                for c in state["chains"]
                if c["status"] is not None and c["status"].auc
            ),
            {},
        )
        return ok(
            22,
            "CGMiner versions",
            VERSION=[
                {
                    "CGMiner": VERSION,
                    "API": API_VERSION,
                    "PROD": f"AvalonMiner {self.product_model(model)}",
                    "MODEL": model,
                    "HWTYPE": str(auc.get("version", "AUC"))[:16] or "AUC",
                    "SWTYPE": f"MM{model}",
                    "VERSION": first.version if first else "",
                    "DNA": first.dna if first else "",
                    "MAC": host_mac(),
                    "UPAPI": "2",
                    "asicdrv": VERSION,
                }
            ],
        )

    def product_model(self, model: str) -> str:
        if self.pyasic_nearest:
            return PYASIC_NEAREST.get(model, model)
        return model

    def cmd_config(self, _param) -> Reply:
        state = self.state()
        return ok(
            33,
            "CGMiner config",
            CONFIG=[
                {
                    "ASC Count": 1,
                    "PGA Count": 0,
                    "Pool Count": len(state["pools"]),
                    "Strategy": "Failover",
                    "Log Interval": 5,
                    "Device Code": "AV8 ",
                    "OS": "Linux",
                    "Hotplug": "None",
                }
            ],
        )

    def _device(self, state: dict) -> dict:
        modules = self.modules(state)
        rates = state["hashrate_ghs"]
        counts = [p["counts"] for p in state["pools"]]
        accepted, rejected = state["totals"]["accepted"], state["totals"]["rejected"]
        hw = sum(m.hw_errors for _, m in modules)
        diff_acc = sum(c["accepted_difficulty"] for c in counts)
        diff_rej = sum(c["rejected_difficulty"] for c in counts)
        elapsed = max(1, int(state["uptime_s"]))
        hottest = max(
            (m.hottest_chip_c for _, m in modules if m.hottest_chip_c is not None), default=0.0
        )
        last = max((c["last_share_time"] or 0 for c in counts), default=0)
        alive = any(c["state"] == "mining" for c in state["chains"])
        return {
            "ASC": 0,
            "Name": "AV8",
            "ID": 0,
            "Enabled": "Y",
            "Status": "Alive" if alive else "Dead",
            "Temperature": float(hottest),
            "MHS av": rates["av"] * 1e3,
            "MHS 5s": rates["5s"] * 1e3,
            "MHS 1m": rates["1m"] * 1e3,
            "MHS 5m": rates["5m"] * 1e3,
            "MHS 15m": rates["15m"] * 1e3,
            "Accepted": accepted,
            "Rejected": rejected,
            "Hardware Errors": hw,
            "Utility": accepted / elapsed * 60,
            "Last Share Pool": next((p["index"] for p in state["pools"] if p["active"]), -1),
            "Last Share Time": int(last),
            "Total MH": rates["av"] * 1e3 * elapsed,
            "Diff1 Work": diff_acc + diff_rej,
            "Difficulty Accepted": diff_acc,
            "Difficulty Rejected": diff_rej,
            "Last Share Difficulty": float(  # the pool that took the last share
                max(counts, key=lambda c: c["last_share_time"] or 0)["last_share_difficulty"]
                if counts
                else 0.0
            ),
            "No Device": not modules,
            "Last Valid Work": int(last),
            "Device Hardware%": 100.0 * hw / max(1, hw + accepted),
            "Device Rejected%": 100.0 * rejected / max(1, accepted + rejected),
            "Device Elapsed": elapsed,
            "MM Count": len(modules),
        }

    def cmd_devs(self, _param) -> Reply:
        return ok(9, "1 ASC(s)", DEVS=[self._device(self.state())])

    def cmd_asccount(self, _param) -> Reply:
        return ok(104, "ASC count", ASCS=[{"Count": 1}])  # the controller is one ASC

    def cmd_asc(self, param) -> Reply:
        """One ASC's status; as cgminer reads the id (``atoi``), only 0 exists."""
        if not param:
            return error(15, "Missing device id parameter")
        leading = re.match(r"\s*([+-]?\d+)", param)  # atoi: the leading number, else 0
        number = int(leading.group(1)) if leading else 0
        if number != 0:
            return error(107, f"Invalid ASC id {number} - range is 0 - 0")
        return ok(106, "ASC0", ASC=[self._device(self.state())])

    def cmd_notify(self, _param) -> Reply:
        """cgminer's device health: when it was last well, and why not (a module cut off by
        protection is cgminer's thermal cutoff; a lost one its comms error)."""
        state = self.state()
        modules = [m for _, m in self.modules(state)]
        cutoffs = sum(m.cutoffs for m in modules)
        lost = any(m.state == "lost" for m in modules)
        cut = any(m.state == "cutoff" for m in modules)
        now = int(time.time())
        reason = (
            "Device reached thermal cutoff" if cut else "Device comms error" if lost else "None"
        )
        return ok(
            60,
            "Notify",
            NOTIFY=[
                {
                    "NOTIFY": 0,
                    "Name": "AV8",
                    "ID": 0,
                    "Last Well": 0 if reason != "None" else now,
                    "Last Not Well": now if reason != "None" else 0,
                    "Reason Not Well": reason,
                    "*Thread Fail Init": 0,
                    "*Thread Zero Hash": 0,
                    "*Thread Fail Queue": 0,
                    "*Dev Sick Idle 60s": 0,
                    "*Dev Dead Idle 600s": 0,
                    "*Dev Nostart": 0,
                    "*Dev Over Heat": 0,
                    "*Dev Thermal Cutoff": cutoffs,
                    "*Dev Comms Error": int(lost),
                    "*Dev Throttle": 0,
                }
            ],
        )

    def cmd_lcd(self, _param) -> Reply:
        """cgminer's one-item summary for a front-panel display."""
        state = self.state()
        device = self._device(state)
        active = next((p for p in state["pools"] if p["active"]), None)
        return ok(
            125,
            "LCD",
            LCD=[
                {
                    "Elapsed": device["Device Elapsed"],
                    "GHS av": device["MHS av"] / 1000,
                    "GHS 5m": device["MHS 5m"] / 1000,
                    "GHS 5s": device["MHS 5s"] / 1000,
                    "Temperature": device["Temperature"],
                    "Last Share Difficulty": device["Last Share Difficulty"],
                    "Last Share Time": device["Last Share Time"],
                    "Best Share": max(
                        (p["counts"]["best_difficulty"] for p in state["pools"]), default=0
                    ),
                    "Last Valid Work": device["Last Valid Work"],
                    "Found Blocks": 0,
                    "Current Pool": active["url"] if active else "none",
                    "User": active["user"] if active else "",
                }
            ],
        )

    cmd_edevs = cmd_devs

    def cmd_devdetails(self, _param) -> Reply:
        state = self.state()
        modules = self.modules(state)
        model = modules[0][1].model if modules else "851"
        return ok(
            69,
            "Device Details",
            DEVDETAILS=[
                {
                    "DEVDETAILS": 0,
                    "Name": "AV8",
                    "ID": 0,
                    "Driver": "avalon8",
                    "Kernel": "",
                    "Model": f"AvalonMiner {model}",
                    "Device Path": ",".join(c["url"] for c in state["chains"]),
                }
            ],
        )

    def cmd_summary(self, _param) -> Reply:
        state = self.state()
        device = self._device(state)
        pools = state["pools"]
        # cgminer counts a share whose reply was lost as stale: so does the API (the
        # controller keeps it apart as "unknown")
        totals = state["totals"]
        stale, found = totals["stale"] + totals["unknown"], totals["found"]
        accepted, rejected = device["Accepted"], device["Rejected"]
        return ok(
            11,
            "Summary",
            SUMMARY=[
                {
                    "Elapsed": device["Device Elapsed"],
                    "MHS av": device["MHS av"],
                    "MHS 5s": device["MHS 5s"],
                    "MHS 1m": device["MHS 1m"],
                    "MHS 5m": device["MHS 5m"],
                    "MHS 15m": device["MHS 15m"],
                    "Found Blocks": 0,
                    "Getworks": sum(p["jobs"] for p in pools),
                    "Accepted": accepted,
                    "Rejected": rejected,
                    "Hardware Errors": device["Hardware Errors"],
                    "Utility": device["Utility"],
                    "Discarded": 0,
                    "Stale": stale,
                    "Get Failures": sum(p["failures"] for p in pools),
                    "Local Work": found,
                    "Remote Failures": 0,
                    "Network Blocks": 0,
                    "Total MH": device["Total MH"],
                    "Work Utility": device["Diff1 Work"] / device["Device Elapsed"] * 60,
                    "Difficulty Accepted": device["Difficulty Accepted"],
                    "Difficulty Rejected": device["Difficulty Rejected"],
                    "Difficulty Stale": 0.0,
                    "Best Share": max((p["counts"]["best_difficulty"] for p in pools), default=0),
                    "Device Hardware%": device["Device Hardware%"],
                    "Device Rejected%": device["Device Rejected%"],
                    "Pool Rejected%": 100.0 * rejected / max(1, accepted + rejected),
                    "Pool Stale%": 100.0 * stale / max(1, found),
                    "Last getwork": int(max((p["last_job_time"] or 0 for p in pools), default=0)),
                }
            ],
        )

    def cmd_pools(self, _param) -> Reply:
        state = self.state()
        pools = []
        for p in state["pools"]:
            c = p["counts"]
            status = "Disabled" if not p["enabled"] else "Alive" if p["ready"] else "Dead"
            rejected = sum(c["rejected"].values())
            stale = sum(c["stale"].values()) + sum(c["unknown"].values())
            pools.append(
                {
                    "POOL": p["index"],
                    "URL": p["url"],
                    "Status": status,
                    "Priority": p["priority"],
                    "Quota": 1,
                    "Long Poll": "N",
                    "Getworks": p["jobs"],
                    "Accepted": c["accepted"],
                    "Rejected": rejected,
                    "Works": c["submitted"],
                    "Discarded": 0,
                    "Stale": stale,
                    "Get Failures": p["failures"],
                    "Remote Failures": 0,
                    "User": p["user"],
                    "Last Share Time": int(c["last_share_time"] or 0),
                    "Diff1 Shares": c["accepted_difficulty"] + c["rejected_difficulty"],
                    "Proxy Type": "",
                    "Proxy": "",
                    "Difficulty Accepted": c["accepted_difficulty"],
                    "Difficulty Rejected": c["rejected_difficulty"],
                    "Difficulty Stale": 0.0,
                    "Last Share Difficulty": p["difficulty"],
                    "Work Difficulty": p["difficulty"],
                    "Has Stratum": True,
                    "Stratum Active": p["active"],
                    "Stratum URL": p["url"].split("://", 1)[-1].rsplit(":", 1)[0]
                    if p["active"]
                    else "",
                    "Stratum Difficulty": p["difficulty"],
                    "Has Vmask": False,
                    "Has GBT": False,
                    "Best Share": c["best_difficulty"],
                    "Pool Rejected%": 100.0 * rejected / max(1, c["accepted"] + rejected),
                    "Pool Stale%": 100.0 * stale / max(1, c["found"]),
                    "Bad Work": 0,
                    "Current Block Height": 0,
                    "Current Block Version": 0,
                }
            )
        if not pools:
            return Reply("W", 8, "No pools", {"POOLS": []})
        return ok(7, f"{len(pools)} Pool(s)", POOLS=pools)

    def _stats_item(self, state: dict) -> dict:
        modules = self.modules(state)
        item = {
            "STATS": 0,
            "ID": "AV80",
            "Elapsed": int(state["uptime_s"]),
            "Calls": 0,
            "Wait": 0.0,
            "Max": 0.0,
            "Min": 99999999.0,
        }
        for n, (_, m) in enumerate(modules):
            item[f"MM ID{n}"] = mm_string(m, with_board_hashrate=len(modules) == 1)
        auc: dict = next(
            (
                c["status"].auc
                for c in state["chains"]
                if c["status"] is not None and c["status"].auc
            ),
            {},
        )
        item.update(
            {
                "MM Count": len(modules),
                "Smart Speed": 1,
                "Connecter": "AUC",
                "AUC VER": str(auc.get("version", "")),
                "AUC I2C Speed": 400000,
                "AUC I2C XDelay": 19200,
                "Connection Overloaded": False,
                "Voltage Level Offset": 0,
                "Nonce Mask": 27,
            }
        )
        return item

    def cmd_estats(self, _param) -> Reply:
        return ok(70, "CGMiner stats", STATS=[self._stats_item(self.state())])

    def cmd_stats(self, _param) -> Reply:
        state = self.state()
        items = [self._stats_item(state)]
        for n, p in enumerate(state["pools"]):
            items.append(
                {
                    "STATS": n + 1,
                    "ID": f"POOL{p['index']}",
                    "Elapsed": int(state["uptime_s"]),
                    "Calls": 0,
                    "Wait": 0.0,
                    "Max": 0.0,
                    "Min": 99999999.0,
                    "Pool Calls": 0,
                    "Pool Attempts": p["connects"] + p["failures"],
                    "Pool Wait": 0.0,
                    "Work Diff": p["difficulty"],
                    "Min Diff": p["difficulty"],
                    "Max Diff": p["difficulty"],
                }
            )
        return ok(70, "CGMiner stats", STATS=items)

    def cmd_coin(self, _param) -> Reply:
        return ok(
            78,
            "CGMiner coin",
            COIN=[
                {
                    "Hash Method": "sha256",
                    "Current Block Time": 0.0,
                    "Current Block Hash": "",
                    "LP": False,
                    "Network Difficulty": 0.0,
                }
            ],
        )

    def cmd_check(self, param, level: str = "R") -> Reply:
        """cgminer's check: whether the command exists and whether this client may run
        it (a read-only client: N for the privileged ones)."""
        if not param:
            return error(71, "Missing check cmd")
        exists = param in COMMANDS
        allowed = exists and (level == "W" or (param not in PRIVILEGED and param != "privileged"))
        return ok(
            72,
            "Check command",
            CHECK=[{"Exists": "Y" if exists else "N", "Access": "Y" if allowed else "N"}],
        )
