"""cgminer's privileged API commands: pool control (switch, enable, disable, add, remove),
restart and quit, and ``ascset`` on the modules.  A mixin of :class:`.commands.ApiCommands`
(the dispatcher finds every ``cmd_`` method)."""

from __future__ import annotations

import threading
import time

from ...errors import AsicError, ConfigError
from ...mining.pool import PoolConfig
from ...models import FAN_MAX_PERCENT, FAN_MIN_PERCENT, POLLING_DELAY_MAX_S
from .reply import Reply, error, ok

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

    from ...mining.controller import Controller

ASCSET_HELP = "led|fan|frequency|voltage-level|reboot|pdelay|softoff|softon"


class ControlCommands:
    """The commands that change something (access level W)."""

    controller: Controller
    on_quit: Callable[[], None] | None

    def state(self) -> dict:
        raise NotImplementedError

    @staticmethod
    def modules(state: dict) -> list:
        raise NotImplementedError

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
    "led": ControlCommands._set_led,
    "fan": ControlCommands._set_fan,
    "frequency": ControlCommands._set_frequency,
    "voltage-level": ControlCommands._set_voltage,
    "voltage": ControlCommands._set_voltage,
    "reboot": ControlCommands._reboot,
    "pdelay": ControlCommands._pdelay,
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
