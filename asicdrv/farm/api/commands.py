"""cgminer's API commands, answered from the controller.

The whole controller is one ASC device (``ASC 0``, driver ``avalon8``) whose modules, over
every chain, are ``MM ID0..n-1`` in ``estats``/``stats``; ``ascset`` addresses them as 1..n
(address k is ``MM ID{k-1}``, as pyasic's fault light assumes; 0 means all).  ``devs`` and
``summary`` total every module.  pyasic reads only ``MM ID0`` and, when ``MGHS`` is there,
takes the sum of its boards as the miner's hash rate; so ``MGHS`` is sent only when the
controller has a single module, and with several pyasic's total comes from ``devs`` ``MHS 1m``:
the controller's total (see README, "Farm tools").

Every reply is a dict; :mod:`.server` frames it.  Values come from the device layer's status
and the controller's accounting; what cannot be measured (wall power, power limit) is left
out rather than invented.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from ..._version import VERSION
from ...mining.controller import mining_modules
from ...errors import AsicError, ConfigError
from ...models import CORES_PER_ASIC, FAN_MAX_PERCENT, FAN_MIN_PERCENT, MODELS, POLLING_DELAY_MAX_S
from ...mining.pool import PoolConfig

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
READ_ONLY = JOINABLE | {"privileged"}
COMMANDS = READ_ONLY | PRIVILEGED
ASCSET_HELP = "led|fan|frequency|voltage-level|reboot|pdelay|softoff|softon"
SNAPSHOT_MAX_AGE_S = 0.5
MAC = f"{uuid.getnode():012x}"


@dataclass
class Reply:
    """One command's answer: a status and optional named sections."""

    severity: str  # S I W E F
    code: int
    message: str
    sections: dict | None = None
    special: str | None = None  # RESTART / BYE replace the whole reply


def ok(code: int, message: str, **sections) -> Reply:
    return Reply("S", code, message, sections)


def error(code: int, message: str) -> Reply:
    return Reply("E", code, message)


class ApiCommands:
    """Answers API commands for one controller; ``on_quit`` is called after a ``quit``."""

    def __init__(self, controller, on_quit: Callable[[], None] | None = None):
        self.controller = controller
        self.on_quit = on_quit
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
        auc = next(
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
                    "PROD": f"AvalonMiner {model}",
                    "MODEL": model,
                    "HWTYPE": str(auc.get("version", "AUC"))[:16] or "AUC",
                    "SWTYPE": f"MM{model}",
                    "VERSION": first.version if first else "",
                    "DNA": first.dna if first else "",
                    "MAC": MAC,
                    "UPAPI": "2",
                    "asicdrv": VERSION,
                }
            ],
        )

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
            "Last Valid Work": int(last),
            "Device Hardware%": 100.0 * hw / max(1, hw + accepted),
            "Device Rejected%": 100.0 * rejected / max(1, accepted + rejected),
            "Device Elapsed": elapsed,
            "MM Count": len(modules),
        }

    def cmd_devs(self, _param) -> Reply:
        return ok(9, "1 ASC(s)", DEVS=[self._device(self.state())])

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
        stale, found = state["totals"]["stale"], state["totals"]["found"]
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
            stale = sum(c["stale"].values())
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
        auc = next(
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

    def cmd_check(self, param) -> Reply:
        if not param:
            return error(71, "Missing check cmd")
        return ok(
            72,
            "Check command",
            CHECK=[
                {
                    "Exists": "Y" if param in COMMANDS else "N",
                    "Access": "Y" if param in COMMANDS else "N",
                }
            ],
        )

    def cmd_privileged(self, _param) -> Reply:
        return ok(46, "Privileged access OK")

    # --- pools -----------------------------------------------------------------------------
    def _pool_number(self, param) -> int | Reply:
        if param in (None, ""):
            return error(25, "Missing pool id parameter")
        count = len(self.controller.pools)
        try:
            number = int(str(param).strip())
        except ValueError:
            number = -1
        if not 0 <= number < count:
            return error(26, f"Invalid pool id {param} - range is 0 - {count - 1}")
        return number

    def cmd_switchpool(self, param) -> Reply:
        number = self._pool_number(param)
        if isinstance(number, Reply):
            return number
        pool = self.controller.switch_pool(number)
        return ok(27, f"Switching to pool {number}:'{pool.url}'")

    def cmd_enablepool(self, param) -> Reply:
        number = self._pool_number(param)
        if isinstance(number, Reply):
            return number
        pool = self.controller.pools[number]
        if pool.enabled:
            return Reply("I", 49, f"Pool {number}:'{pool.url}' already enabled")
        self.controller.enable_pool(number, True)
        return ok(47, f"Enabling pool {number}:'{pool.url}'")

    def cmd_disablepool(self, param) -> Reply:
        number = self._pool_number(param)
        if isinstance(number, Reply):
            return number
        pool = self.controller.pools[number]
        if not pool.enabled:
            return Reply("I", 50, f"Pool {number}:'{pool.url}' already disabled")
        if sum(p.enabled for p in self.controller.pools) == 1:
            return error(51, f"Cannot disable last active pool {number}:'{pool.url}'")
        self.controller.enable_pool(number, False)
        return ok(48, f"Disabling pool {number}:'{pool.url}'")

    def cmd_addpool(self, param) -> Reply:
        if not param:
            return error(52, "Missing addpool details")
        parts = _split_escaped(str(param))
        if len(parts) != 3:
            return error(53, f"Invalid addpool details '{param}'")
        try:
            config = PoolConfig(*parts)
        except ConfigError as exc:
            return error(53, f"Invalid addpool details '{param}' ({exc})")
        pool = self.controller.add_pool(config)
        return ok(55, f"Added pool {pool.index}: '{pool.url}'")

    def cmd_removepool(self, param) -> Reply:
        number = self._pool_number(param)
        if isinstance(number, Reply):
            return number
        pool = self.controller.pools[number]
        if len(self.controller.pools) == 1:
            return error(66, f"Cannot remove last pool {number}:'{pool.url}'")
        if pool is self.controller.active:
            return error(67, f"Cannot remove active pool {number}:'{pool.url}'")
        self.controller.remove_pool(number)
        return ok(68, f"Removed pool {number}:'{pool.url}'")

    def cmd_restart(self, _param) -> Reply:
        threading.Timer(0.2, self.controller.restart).start()
        return Reply("S", 0, "", special="RESTART")

    def cmd_quit(self, _param) -> Reply:
        if self.on_quit is not None:
            threading.Timer(0.2, self.on_quit).start()
        return Reply("S", 0, "", special="BYE")

    # --- ascset ----------------------------------------------------------------------------
    def cmd_ascset(self, param) -> Reply:
        if not param:
            return error(15, "Missing device id parameter")
        parts = str(param).split(",", 2)
        try:
            asc = int(parts[0])
        except ValueError:
            asc = -1
        if asc != 0:
            return error(107, f"Invalid ASC id {parts[0]} - range is 0 - 0")
        if len(parts) < 2 or not parts[1]:
            return error(116, "Missing option after ASC number")
        option, value = parts[1].strip().lower(), (parts[2] if len(parts) > 2 else "").strip()
        if option == "help":
            return Reply("I", 118, f"ASC 0 set help: {ASCSET_HELP}")
        setter = ASCSET.get(option)
        if setter is None:
            return error(120, f"ASC 0 set failed: Unknown option: {option}")
        try:
            extra = setter(self, value)
        except (AsicError, ValueError) as exc:
            return error(120, f"ASC 0 set failed: {exc}")
        return ok(119, "ASC 0 set OK" + (f": {extra}" if extra else ""))

    def _targets(self, address: str) -> list:
        """(chain, module id) for an ascset address: 1..n (MM ID{k-1}) or 0 / empty = all."""
        state = self.controller.status()
        modules = self.modules(state)
        slots = {slot.index: slot for slot in self.controller.slots}
        every = [(slots[c["index"]].chain, m.id) for c, m in modules]
        if address in ("", "0"):
            return every
        if not address.isdigit() or not 1 <= int(address) <= len(every):
            raise ValueError(f"module address {address!r}: give 1..{len(every)} (0 = all)")
        return [every[int(address) - 1]]

    def _set_led(self, value: str) -> None:
        address, _, state = value.partition("-")
        for chain, module in self._targets(address or "1"):
            if state not in ("", "0", "1"):
                raise ValueError(f"led state {state!r}: 0 or 1")
            on = (state == "1") if state else not _module(chain, module).led
            chain.set_led(on, module)

    def _set_fan(self, value: str) -> None:
        targets = self._targets("")
        if value == "auto":
            for chain in {id(c): c for c, _ in targets}.values():
                chain.set_auto_fan()
            return
        low = value.split("-")[0]
        if not low.isdigit() or not FAN_MIN_PERCENT <= int(low) <= FAN_MAX_PERCENT:
            raise ValueError(f"fan {value!r}: {FAN_MIN_PERCENT}..{FAN_MAX_PERCENT} or auto")
        for chain in {id(c): c for c, _ in targets}.values():
            chain.set_fan(int(low))

    def _set_frequency(self, value: str) -> None:
        freq, address, miner = (value.split("-") + ["", ""])[:3]
        plls = [int(f) for f in freq.split(":")] if ":" in freq else int(freq)
        for chain, module in self._targets(address):
            chain.set_frequency(plls, module=module, miner=int(miner) if miner else None)

    def _set_voltage(self, value: str) -> None:
        level, address, miner = (value.split("-") + ["", ""])[:3]
        for chain, module in self._targets(address):
            chain.set_voltage_level(int(level), module=module, miner=int(miner) if miner else None)

    def _reboot(self, value: str) -> None:
        for chain, module in self._targets(value):
            chain.reboot(module)

    def _pdelay(self, value: str) -> None:
        if not value.isdigit() or not 1 <= int(value) <= POLLING_DELAY_MAX_S * 1000:
            raise ValueError(f"pdelay {value!r}: 1..65535 ms")
        for slot in self.controller.slots:
            if slot.chain is not None:
                slot.chain.set_polling_delay(int(value) / 1000)

    def _soft(self, off: bool, value: str) -> str:
        """softoff/softon ``1:<unix time>``: at that time (now if past or absent)."""
        _, _, when = value.partition(":")
        delay = 0.0
        if when:
            if not when.isdigit():
                raise ValueError(f"time {when!r}: unix seconds")
            delay = min(max(0.0, int(when) - time.time()), 3600.0)
        threading.Timer(delay, self.controller.set_soft_off, args=(off,)).start()
        return f"{'softoff' if off else 'softon'} success"


def _module(chain, module_id):
    return next(m for m in chain.status().modules if m.id == module_id)


ASCSET = {
    "led": ApiCommands._set_led,
    "fan": ApiCommands._set_fan,
    "frequency": ApiCommands._set_frequency,
    "voltage-level": ApiCommands._set_voltage,
    "voltage": ApiCommands._set_voltage,
    "reboot": ApiCommands._reboot,
    "pdelay": ApiCommands._pdelay,
    "softoff": lambda self, v: self._soft(True, v),
    "softon": lambda self, v: self._soft(False, v),
}


def _split_escaped(text: str) -> list[str]:
    """cgminer's addpool parameter: URL,USER,PASS with ``\\,`` for a literal comma."""
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current, escaped = current + ch, False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def mm_string(m, with_board_hashrate: bool) -> str:
    """One module as cgminer's ``MM ID`` value: the Avalon 8 tokens, then the keys later
    firmware and pyasic read (``Fan1``, ``TAvg``, ``MGHS``, ``MTmax``, ``MTavg``,
    ``PVT_T0..``)."""

    def ints(values):
        return " ".join(str(int(round(v))) if v is not None else "0" for v in values)

    def scaled(values, factor):
        return ints(None if v is None else v * factor for v in values or [])

    chips = m.chip_temperatures_c or []
    flat = [t for row in chips for t in row if t is not None]
    miner_max = [max([t for t in row if t is not None] or [0]) for row in chips]
    if not m.per_chip_sensors:  # A7: the module's per-miner readings
        miner_max = [t or 0 for t in m.miner_temperatures_c]
    miner_avg = [
        sum(v) / len(v) if (v := [t for t in row if t is not None]) else 0 for row in chips
    ]
    temp = m.temperature_c or 0
    ghs = m.hashrate_ghs
    asics = sum(len(row) for row in chips) or 1
    cores = MODELS[m.model].cores_per_asic if m.model in MODELS else CORES_PER_ASIC
    freq = ghs * 1000 / (asics * cores) if ghs else 0.0
    tokens = [
        f"Ver[{m.version}]",
        f"DNA[{m.dna}]",
        f"Elapsed[{int(m.elapsed_s)}]",
        f"MW[{ints(m.local_works)}]",
        f"LW[{sum(m.local_works)}]",
        f"MH[{ints(m.miner_hw_errors)}]",
        f"HW[{m.hw_errors}]",
        f"Temp[{int(temp)}]",
        f"TMax[{int(max(flat + [temp]))}]",
        f"Fan[{m.fan_rpm or 0}]",
        f"FanR[{m.fan_percent}%]",
        f"Vi[{scaled(m.vin_v, 100)}]",
        f"Vo[{scaled(m.voltages_v, 10000)}]",
        f"GHSmm[{ghs:.2f}]",
        f"Freq[{freq:.2f}]",
        f"PG[{0 if m.power_good is None else 15 if m.power_good else 0}]",
        f"Led[{int(m.led)}]",
        f"TA[{asics}]",
        f"ECHU[{ints(m.miner_error_codes)}]",
        f"ECMM[{m.module_error_code}]",
        "FM[1]",
        f"CRC[{ints(m.miner_crc_errors)}]",
        f"Fan1[{m.fan_rpm or 0}]",
        f"TAvg[{int(sum(flat) / len(flat)) if flat else 0}]",
    ]
    if with_board_hashrate:
        tokens.append("MGHS[" + " ".join(f"{g:.2f}" for g in m.miner_hashrates_ghs) + "]")
    tokens += [f"MTmax[{ints(miner_max)}]", f"MTavg[{ints(miner_avg)}]"]
    tokens += [
        f"PVT_T{n}[{ints(t if t is not None else 0 for t in row)}]" for n, row in enumerate(chips)
    ]
    return " ".join(tokens)
