"""What an operator (through the API's ``ascset`` and pool commands) may ask of a running
controller: soft off and on, pool switch, enable, add, remove, restart.  A mixin of
:class:`.controller.Controller`, which holds the state these act on."""

from __future__ import annotations

import logging


from ..errors import LimitError
from .devices import ChainSlot
from .pool import Pool, PoolConfig

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    import threading

log = logging.getLogger("asicdrv.mining.controller")


class ControllerCommands:
    # what the controller that mixes this in holds
    _lock: threading.RLock
    _running: bool
    pools: list[Pool]
    priority: list[Pool]
    active: Pool | None
    slots: list[ChainSlot]
    soft_off: bool

    def _new_pool(self, number: int, config: PoolConfig) -> Pool:
        raise NotImplementedError

    def choose_pool(self) -> None:
        raise NotImplementedError

    def _has_work(self) -> bool:
        raise NotImplementedError

    def set_soft_off(self, off: bool) -> None:
        """Soft off: every module idle (PLLs off, fan safe), pools stay connected; soft on
        resumes the frequencies and fan mode from before."""
        with self._lock:
            self.soft_off = bool(off)
            chains = [s.chain for s in self.slots if s.chain is not None]
        for chain in chains:
            if off or not self._has_work():
                chain.idle()  # soft on with no work yet: they hash with the first job
            else:
                chain.resume()
        log.warning(
            "soft %s: the boards %s", "off" if off else "on", "are idle" if off else "hash again"
        )

    def switch_pool(self, number: int) -> Pool:
        """Make pool ``number`` the first priority (cgminer's switchpool under failover)."""
        with self._lock:
            pool = self._pool(number)
            self.priority.remove(pool)
            self.priority.insert(0, pool)
            pool.set_enabled(True)
        self.choose_pool()
        return pool

    def enable_pool(self, number: int, enabled: bool) -> Pool:
        with self._lock:
            pool = self._pool(number)
            pool.set_enabled(enabled)
        self.choose_pool()
        return pool

    def add_pool(self, config: PoolConfig) -> Pool:
        with self._lock:
            pool = self._new_pool(len(self.pools), config)
            self.pools.append(pool)
            self.priority.append(pool)
        if self._running:
            pool.start()
        return pool

    def remove_pool(self, number: int) -> Pool:
        """Remove a pool that is not mining; the later pools are renumbered (as cgminer)."""
        with self._lock:
            pool = self._pool(number)
            if pool is self.active:
                raise LimitError(f"pool {number} is mining; switch away from it first")
            self.pools.remove(pool)
            self.priority.remove(pool)
            for n, other in enumerate(self.pools):
                other.index = n
        pool.stop()
        return pool

    def _pool(self, number: int) -> Pool:
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not 0 <= number < len(self.pools)
        ):
            raise LimitError(f"no pool {number!r}; pools are 0..{len(self.pools) - 1}")
        return self.pools[number]

    def restart(self) -> None:
        """A soft restart: every chain closed and reopened, every pool reconnected."""
        for slot in self.slots:
            chain = slot.chain
            if chain is not None:
                slot.restart_requested = True
                chain.close()  # its keeper sees ChainClosed and reopens it
        for pool in list(self.pools):
            client = pool.client
            if client is not None:
                client.close("restart requested")
