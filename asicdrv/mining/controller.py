"""The mining controller: chains of modules on one side, stratum pools on the other.

    controller = Controller([PoolConfig("stratum+tcp://pool:3333", "me.worker")],
                            [DeviceConfig("usb://1:4"), DeviceConfig("usb://1:5")])
    controller.start()          # opens every chain (errors raise here), then mines
    ...
    controller.stop()           # boards idle (PLLs off, fan safe), verified shares sent

**Pools** are used in priority order (cgminer's failover-only strategy): the first pool
that is authorized and has sent work mines; when it fails (unreachable, refused, no work for
``no_work_timeout``) the next ready one takes over, and the first takes back over as soon
as it is ready again.  Every switch restarts the boards' work.

**Work** is cut so that no two boards hash the same: each chain gets its own slice of the
extranonce2 space the MMs roll (the low four bytes), re-cut and resent whenever a chain
comes or goes; inside a chain the MMs split their slice by module id.

**Shares** come verified from each chain; a share whose job was flushed by a clean job or
belongs to a pool no longer mining is not submitted and is counted as stale, with a reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from .. import connect
from .accounting import ModuleAccount, PoolAccount
from ..device.chain import Chain
from ..errors import AsicError, LimitError
from .pool import CONNECT_TIMEOUT_S, REPLY_TIMEOUT_S, Pool, PoolConfig
from ..device.shares import Share
from .stratum import StratumJob
from .control import ControllerCommands
from .report import controller_status
from .devices import ChainSlot, DeviceConfig, ModuleSettings, apply_fan, mining_modules

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable, Sequence

log = logging.getLogger("asicdrv.mining.controller")

__all__ = ["Controller", "DeviceConfig", "ModuleSettings", "mining_modules"]

VALID_JOBS_KEPT = 16
# every dispatch of one job (a pool switch back, a re-cut when chains come or go) takes a
# fresh region of the extranonce2 space, cut among the chains, so no board finds nonces
# already found: 64 regions of a 4-byte space (2**26 nonce2 each, hours of work for a fast
# chain), 4 of a 3-byte one
RESEND_REGIONS = {3: 4, 4: 64}
RESENT_JOBS_KEPT = 256
DRAIN_TIMEOUT_S = 3.0
POOL_STOP_WAIT_S = 2.0  # at stop, for every pool thread together
SHARE_WAIT_S = 5.0  # a chain's pump thread waits this long for a share at most
FIFO_SETTLE_S = 0.3  # at stop: polls enough to read what the MM FIFOs still hold


class Controller(ControllerCommands):
    def __init__(
        self,
        pools: Sequence[PoolConfig],
        devices: Sequence[DeviceConfig],
        *,
        no_work_timeout: float = 120.0,
        retry_min: float = 1.0,
        retry_max: float = 60.0,
        chain_retry_max: float = 30.0,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        reply_timeout: float = REPLY_TIMEOUT_S,
        opener: Callable[..., Chain] = connect.open,
    ):
        if not devices:
            raise LimitError("a controller needs at least one device")
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._opener = opener
        self.chain_retry_max = chain_retry_max
        self.retry_min = retry_min
        self.slots = [ChainSlot(i, d) for i, d in enumerate(devices)]
        self._pool_options = dict(
            no_work_timeout=no_work_timeout,
            retry_min=retry_min,
            retry_max=retry_max,
            connect_timeout=connect_timeout,
            reply_timeout=reply_timeout,
        )
        self.pools: list[Pool] = [self._new_pool(i, p) for i, p in enumerate(pools)]
        self.priority: list[Pool] = list(self.pools)  # failover order (switchpool changes it)
        self.active: Pool | None = None
        self.soft_off = False
        self.module_accounts: dict[tuple[int, int], ModuleAccount] = {}
        self._valid_jobs: OrderedDict[str, StratumJob] = OrderedDict()  # of the active pool
        self._sends: OrderedDict[tuple, int] = OrderedDict()  # job -> times dispatched
        self.started = time.monotonic()
        self._snapshot: tuple[float, dict] | None = None
        self._snapshot_lock = threading.Lock()
        self.dispatch_seconds: list[float] = []  # notify -> frames handed to links
        self.submit_seconds: list[float] = []  # share from a chain -> submit written
        self._running = False

    def _new_pool(self, number: int, config: PoolConfig) -> Pool:
        pool = Pool(
            number,
            config,
            on_job=self._pool_job,
            on_result=self._share_result,
            on_state=self._pool_state,
            **self._pool_options,
        )
        pool.account = PoolAccount()
        return pool

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "Controller":
        """Open every chain (the first error raises, with every chain closed again), then
        connect the pools and start mining."""
        try:
            for slot in self.slots:
                self._open(slot)
        except BaseException:
            for slot in self.slots:
                self._close_chain(slot)
            raise
        self._running = True
        for slot in self.slots:
            slot.thread = threading.Thread(
                target=self._keep_chain,
                args=(slot,),
                daemon=True,
                name=f"asicdrv-chain{slot.index}",
            )
            slot.thread.start()
        for pool in self.pools:
            pool.start()
        return self

    def stop(self, drain_timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Stop mining safely: every module idle (PLLs off, fan at a safe level), shares
        already verified sent to the pool (waiting up to ``drain_timeout`` for verdicts),
        then pools and chains closed."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        for slot in self.slots:
            if slot.chain is not None:
                slot.chain.wake()  # its pump waits for shares with a long timeout
        for slot in self.slots:
            if slot.thread is not None:
                slot.thread.join(timeout=5)
        for slot in self.slots:
            if slot.chain is not None:
                try:
                    slot.chain.idle()
                except AsicError as exc:
                    log.warning(
                        "chain %d %s: could not idle the boards: %s", slot.index, slot.url, exc
                    )
        # nonces already in the MMs' FIFOs come with the next polls; then the pollers stop
        # and everything verified is taken from the chains' queues
        time.sleep(FIFO_SETTLE_S)
        closed = [(slot, self._close_chain(slot)) for slot in self.slots]
        for slot, chain in closed:
            self._drain(slot, chain)
        deadline = time.monotonic() + drain_timeout
        while time.monotonic() < deadline and any(p.pending_submits() for p in self.pools):
            time.sleep(0.02)
        deadline = time.monotonic() + POOL_STOP_WAIT_S  # a pool may be mid-connect
        for pool in self.pools:
            pool.stop(wait=max(0.0, deadline - time.monotonic()))
        self._running = False

    def _drain(self, slot: ChainSlot, chain: Chain | None = None) -> None:
        """Take every share the chain has verified (a closed or lost chain still gives up
        its queue)."""
        chain = chain or slot.chain
        if chain is None:
            return
        try:
            while (share := chain.next_share(timeout=0)) is not None:
                self._share(slot, share, draining=True)
        except AsicError:
            pass

    # --- chains -------------------------------------------------------------------------------
    def _open(self, slot: ChainSlot) -> None:
        config = slot.config
        options = dict(config.options)
        if config.frequency is not None:
            options["frequency"] = config.frequency
        if config.voltage_level is not None:
            options["voltage_level"] = config.voltage_level
        if config.temp_target is not None:
            options["temp_target"] = config.temp_target
        chain = self._opener(config.url, **options)
        try:
            apply_fan(chain, config, None)
            for module, settings in sorted(config.modules.items()):
                if module not in {m.id for m in chain.modules}:
                    log.warning(
                        "chain %d %s: settings for module %d, which is not there",
                        slot.index,
                        slot.url,
                        module,
                    )
                    continue
                if settings.frequency is not None:
                    chain.set_frequency(settings.frequency, module=module)
                if settings.voltage_level is not None:
                    chain.set_voltage_level(settings.voltage_level, module=module)
                apply_fan(chain, settings, module)
        except BaseException:
            chain.close()
            raise
        if not self._has_work():
            chain.idle()  # nothing to mine yet (or soft off): keep the boards cool
        slot.chain, slot.state, slot.failures = chain, "mining", 0
        slot.opens += 1
        log.info(
            "chain %d %s: %d module(s): %s",
            slot.index,
            slot.url,
            len(chain.modules),
            ", ".join(f"{m.id}:{m.model}" for m in chain.modules),
        )
        with self._lock:
            if self._running and not self._stopping.is_set():
                self._recut()

    def _has_work(self) -> bool:
        """True when the boards have something to hash: a pool mines and sent a job, and
        soft off does not hold them."""
        active = self.active
        return not self.soft_off and active is not None and active.job is not None

    def _close_chain(self, slot: ChainSlot) -> Chain | None:
        chain, slot.chain = slot.chain, None
        if chain is not None:
            chain.close()
            try:
                slot.final_status = chain.status()
            except AsicError:
                pass
        return chain

    def _keep_chain(self, slot: ChainSlot) -> None:
        """Pump the chain's shares; reopen it with backoff when its device goes away."""
        while not self._stopping.is_set():
            chain = slot.chain
            if chain is None:
                if slot.state == "refused":
                    return
                try:
                    self._open(slot)
                except LimitError as exc:  # the settings do not fit this board
                    slot.state, slot.last_error = "refused", str(exc)
                    log.error("chain %d %s: %s", slot.index, slot.url, exc)
                    return
                except AsicError as exc:
                    slot.failures += 1
                    slot.state, slot.last_error = "gone", str(exc)
                    delay = min(self.chain_retry_max, self.retry_min * 2**slot.failures)
                    log.warning(
                        "chain %d %s: cannot open (%s); retry in %.0f s",
                        slot.index,
                        slot.url,
                        exc,
                        delay,
                    )
                    self._stopping.wait(delay)
                continue
            try:
                # woken by a share, by stop() or by the chain closing or going: the
                # timeout is a backstop, not a poll (an idle wake-up costs ~0.2 ms here)
                share = chain.next_share(timeout=SHARE_WAIT_S)
            except AsicError as exc:  # gone, closed, or its poller stopped
                self._lose_chain(slot, exc)
                continue
            if share is not None:
                self._share(slot, share)

    def _lose_chain(self, slot: ChainSlot, exc: Exception) -> None:
        if self._stopping.is_set():
            return
        if slot.restart_requested:
            slot.restart_requested = False
            log.warning("chain %d %s: restarting", slot.index, slot.url)
        else:
            log.error("chain %d %s: lost (%s); the others keep mining", slot.index, slot.url, exc)
        slot.state, slot.last_error = "gone", str(exc)
        self._drain(slot, self._close_chain(slot))
        with self._lock:
            self._recut()

    # --- pools --------------------------------------------------------------------------------
    def _pool_state(self, pool: Pool) -> None:
        if pool.state in ("dead", "refused") and not self._stopping.is_set():
            log.warning("pool %d %s: %s (%s)", pool.index, pool.url, pool.state, pool.last_error)
        self.choose_pool()

    def choose_pool(self) -> None:
        """Mine on the first ready pool (failover-only); switch when that changes."""
        if self._stopping.is_set():
            return
        with self._lock:
            best = None
            for pool in self.priority:
                if pool.ready:
                    best = pool
                    break
                if pool.starting:  # a better pool's first try: wait for it
                    best = self.active
                    break
            if best is self.active:
                return
            old, self.active = self.active, best
            self._valid_jobs.clear()
            if best is None:
                log.error(
                    "no pool is ready (was pool %d); shares found now are not submitted",
                    old.index if old else -1,
                )
                return
            best.account.switches_to += 1
            log.info(
                "mining on pool %d %s%s",
                best.index,
                best.url,
                f" (was pool {old.index})" if old else "",
            )
            if best.job is not None:
                self._dispatch(best.job, restart=True)

    def _pool_job(self, pool: Pool, job: StratumJob) -> None:
        client = pool.client
        received = (
            client.line_received
            if client is not None and client.line_received
            else time.perf_counter()
        )
        with self._lock:
            account = pool.account
            account.jobs += 1
            account.clean_jobs += bool(job.clean)
            if pool is not self.active:
                self.choose_pool()  # maybe this job made it ready
                return
            self._dispatch(job)
        self._record(self.dispatch_seconds, time.perf_counter() - received)

    def _dispatch(self, job: StratumJob, restart: bool | None = None) -> None:
        """Send ``job`` to every live chain, each on its own extranonce2 slice.  Called
        with the lock held."""
        if self._stopping.is_set() or self.active is None:
            return
        if job.clean or restart:
            self._valid_jobs.clear()
        self._valid_jobs[job.job_id] = job
        self._valid_jobs.move_to_end(job.job_id)
        while len(self._valid_jobs) > VALID_JOBS_KEPT:
            self._valid_jobs.popitem(last=False)
        live = [slot for slot in self.slots if slot.chain is not None]  # in slot order
        if not live:
            return
        for slot in live:  # idle since open (no work yet): hash again, unless soft off
            if slot.chain is not None and slot.chain.idled and not self.soft_off:
                slot.chain.resume()
        # by what the boards would hash, not by job id: a pool that sends the same work
        # again under a new id (ckpool does) gets a fresh region, never the same hashes
        key = (self.active.index, job.work_key, job.extranonce1, job.extranonce2_size)
        sends = self._sends.pop(key, 0)
        self._sends[key] = sends + 1
        while len(self._sends) > RESENT_JOBS_KEPT:
            self._sends.popitem(last=False)
        regions = RESEND_REGIONS[job.mm_nonce2_size]
        region = (1 << (8 * job.mm_nonce2_size)) // regions
        size = region // len(live)
        base = (sends % regions) * region
        for n, slot in enumerate(live):
            chain = slot.chain
            if chain is None:
                continue
            try:
                chain.submit(
                    job,
                    extranonce2_start=base + n * size,
                    extranonce2_range=size - 1,
                    pool=self.active.index,
                    restart=restart,
                )
            except AsicError as exc:  # the pump notices a lost chain
                log.warning(
                    "chain %d %s: job %s not sent: %s", slot.index, slot.url, job.job_id, exc
                )

    def _recut(self) -> None:
        """Chains came or went: new slices for everyone, with a work restart."""
        if self.active is not None and self.active.job is not None:
            self._dispatch(self.active.job, restart=True)

    # --- shares -------------------------------------------------------------------------------
    def _share(self, slot: ChainSlot, share: Share, draining: bool = False) -> None:
        taken = share.verified_at or time.perf_counter()
        with self._lock:
            account = self._module_account(slot.index, share.module)
            account.counts.found += 1
            account.chip_shares[(share.miner, share.chip)] += 1
            account.meter.add(share.job_difficulty or share.difficulty)
            pool = self.active
            owner = self.pools[share.pool].account.counts if share.pool < len(self.pools) else None
            if owner is not None:
                owner.found += 1
            reason = None
            if pool is None:
                reason = "no pool"
            elif share.pool != pool.index:
                reason = "pool switched"
            elif share.job_id not in self._valid_jobs:
                reason = "job flushed"
            if reason is not None:
                account.counts.stale[reason] += 1
                if owner is not None:
                    owner.stale[reason] += 1
                return
            account.counts.submitted += 1
            owner.submitted += 1
        if not pool.submit(share, (slot.index, share.module, pool)):
            with self._lock:
                account.counts.submitted -= 1
                account.counts.stale["pool disconnected"] += 1
                counts = pool.account.counts
                counts.submitted -= 1
                counts.stale["pool disconnected"] += 1
            return
        if not draining:  # shares drained at stop waited on purpose
            self._record(self.submit_seconds, time.perf_counter() - taken)

    def _share_result(self, tag, share: Share, accepted: bool | None, reason: str | None) -> None:
        slot_index, module, pool = tag
        difficulty = share.job_difficulty or share.difficulty
        with self._lock:
            self._module_account(slot_index, module).counts.result(
                accepted, reason, difficulty, share.difficulty
            )
            pool.account.counts.result(accepted, reason, difficulty, share.difficulty)
        if accepted is None:
            log.info(
                "pool %d: no verdict on a share of module %d (chain %d): %s",
                pool.index,
                module,
                slot_index,
                reason,
            )
        elif not accepted:
            log.warning(
                "pool %d rejected a share of module %d (chain %d): %s",
                pool.index,
                module,
                slot_index,
                reason,
            )

    def _module_account(self, slot: int, module: int) -> ModuleAccount:
        key = (slot, module)
        account = self.module_accounts.get(key)
        if account is None:
            account = self.module_accounts[key] = ModuleAccount()
        return account

    @staticmethod
    def _record(samples: list, value: float) -> None:
        samples.append(value)
        if len(samples) > 10_000:
            del samples[:5_000]

    # --- status -------------------------------------------------------------------------------
    def snapshot(self, max_age: float) -> dict:
        """:meth:`status`, reused while at most ``max_age`` seconds old, so that many
        readers (API clients, live pages) cost one read of the chains."""
        with self._snapshot_lock:
            now = time.monotonic()
            if self._snapshot is None or now - self._snapshot[0] > max_age:
                self._snapshot = (now, self.status())
            return self._snapshot[1]

    def status(self) -> dict:
        """A snapshot for status lines, the API and metrics (:func:`.report.controller_status`)."""
        return controller_status(self)
