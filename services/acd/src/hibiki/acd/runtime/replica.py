"""One replica of the ACD: the tenants it owns, and taking, keeping and giving up their leases.

Every replica watches the configuration and lease buckets. It tries to take the lease of every
tenant that has configuration (at start, when a tenant appears, when a lease is deleted, and
every third of the lease for leases that stopped being renewed), so a dead owner's tenants move
after the TTL and a stopped one's at once. Leases it holds are renewed every third of the
lease; a lost lease drops the tenant's machine at once. ``execute`` runs an operation on an
owned tenant (the router sends the others to their owner).
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass
from typing import Any

from hibiki.acd.nats.events import EventMapper
from hibiki.acd.nats.publisher import Publisher
from hibiki.acd.runtime.buckets import Buckets
from hibiki.acd.runtime.journal import read_state
from hibiki.acd.runtime.configure import apply_change, restore
from hibiki.acd.runtime.leases import Leases
from hibiki.acd.runtime.mirror import ConfigMirror, Entry, LeaseMirror, Watched
from hibiki.acd.runtime.tenant import TenantLost, TenantRuntime
from hibiki.acd.runtime.views import Json
from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.replica")


class NotOwner(Exception):
    """This replica does not own the tenant (and none is known to)."""


@dataclass(frozen=True)
class ReplicaSettings:
    replica_id: str
    source: str                  # meta.source of the events: acd@<hostname>
    timezone: str
    lease_seconds: float
    offer_grace_seconds: float


class Replica:
    def __init__(self, buckets: Buckets, leases: Leases, publisher: Publisher, settings: ReplicaSettings) -> None:
        self.buckets, self.leases, self.publisher, self.settings = buckets, leases, publisher, settings
        self.replica_id = settings.replica_id
        self.tenants: dict[str, TenantRuntime] = {}
        self.config, self.lease_mirror = ConfigMirror(), LeaseMirror()
        self.config_watch = Watched(buckets.config, self._on_config)
        self._lease_watch = Watched(buckets.leases, self._on_lease)
        self._taking: set[str] = set()
        self._owners = asyncio.Condition()
        self._loop: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        # FreeSWITCH nodes no callcontrol reports connected (kept by ``nats.node_watch.NodeWatch``):
        # silent for a while (an offer that fails is not missed), or lost (their calls leave)
        self.silent_nodes: set[str] = set()
        self.lost_nodes: set[str] = set()

    # -- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._lease_watch.start()
        await self.config_watch.start()
        await asyncio.wait_for(self._lease_watch.initial.wait(), 30)
        await asyncio.wait_for(self.config_watch.initial.wait(), 30)
        for tenant in self.config.configured():
            self._try_take(tenant)
        self._loop = asyncio.create_task(self._lease_loop(), name="acd-leases")

    async def stop(self) -> None:
        """Persist every owned tenant and delete its lease, so another replica takes it at once."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        await self.config_watch.stop()
        await self._lease_watch.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for rt in list(self.tenants.values()):
            async with rt.lock:
                await self._drop(rt, release=False)
                try:
                    await rt.persist()
                except TenantLost:
                    continue
                await self.leases.release(rt.tenant, rt.lease_revision)
                log.info("tenant_released", tenant=rt.tenant)

    def owns(self, tenant: str) -> bool:
        return tenant in self.tenants

    # -- operations -----------------------------------------------------------------------------

    async def execute(self, tenant: str, op: str, args: Json) -> Json:
        """Run ``op`` here; NotOwner when this replica does not own the tenant."""
        if op == "sync":
            revision = int(args.get("revision", 0))
            if not await self.config_watch.wait_seen(revision, 10.0):
                raise NotOwner(f"configuration revision {revision} not applied in time")
            return {}
        rt = self.tenants.get(tenant)
        if rt is None:
            raise NotOwner(f"replica {self.replica_id} does not own tenant {tenant}")
        return await rt.execute(op, args)

    async def wait_owner_change(self, timeout: float) -> None:
        async with self._owners:
            try:
                await asyncio.wait_for(self._owners.wait(), timeout)
            except TimeoutError:
                pass

    async def _notify(self) -> None:
        async with self._owners:
            self._owners.notify_all()

    # -- watches --------------------------------------------------------------------------------

    async def _on_config(self, entry: Entry) -> None:
        change = self.config.apply(entry)
        if change is None:
            return
        tenant, kind, item_id, data = change
        rt = self.tenants.get(tenant)
        if rt is not None:
            try:
                await rt.change(lambda acd, now: apply_change(acd, kind, item_id, data, now))
            except TenantLost:
                pass
        elif self.lease_mirror.get(tenant) is None:
            self._try_take(tenant)

    async def _on_lease(self, entry: Entry) -> None:
        tenant, lease = self.lease_mirror.apply(entry)
        rt = self.tenants.get(tenant)
        if rt is not None and lease is not None and lease.owner != self.replica_id:
            log.warning("lease_taken_elsewhere", tenant=tenant, owner=lease.owner)
            await self._drop(rt, release=False)
        if lease is None and rt is None and tenant in self.config.configured():
            self._try_take(tenant)
        await self._notify()

    # -- leases ---------------------------------------------------------------------------------

    def _try_take(self, tenant: str) -> None:
        if tenant in self._taking or tenant in self.tenants:
            return
        self._taking.add(tenant)
        task = asyncio.create_task(self._take(tenant), name=f"acd-take-{tenant}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _take(self, tenant: str) -> None:
        try:
            known = self.lease_mirror.get(tenant)
            if known is not None and known.owner == self.replica_id:   # ours, from before a restart
                revision = await self.leases.renew(tenant, known.revision)
            else:
                revision = await self.leases.take(tenant)
            if revision is None:
                return
            try:
                await self._own(tenant, revision)
            except Exception:
                log.exception("tenant_take_failed", tenant=tenant)
                await self.leases.release(tenant, revision)
        except Exception:
            log.exception("lease_take_failed", tenant=tenant)
        finally:
            self._taking.discard(tenant)
            await self._notify()

    async def _own(self, tenant: str, lease_revision: int) -> None:
        state, state_revision = await self._read_state(tenant)
        now = time.time()
        acd, events = restore(tenant, self.settings.timezone, state, self.config.of(tenant), now)
        acd.offer_grace = self.settings.offer_grace_seconds
        acd.silent_nodes = self.silent_nodes
        events += acd.nodes_lost(self.lost_nodes, now)   # calls of a node lost before this replica took over
        mapper = EventMapper(tenant, self.settings.source)
        rt = TenantRuntime(acd, self.buckets.state, state_revision, lease_revision, self.publisher, mapper,
                           self._lost)
        self.tenants[tenant] = rt      # no await since restore(): the watch applies what comes next
        if state is not None:
            gc.freeze()                # the restored machine lives long: spare it the full collections
        await rt.begin(events, now)
        rt.start_timers()
        log.info("tenant_taken", tenant=tenant, restored=state is not None, calls=len(acd.calls()),
                 agents=len(acd.agents()))

    async def _read_state(self, tenant: str) -> tuple[dict[str, Any] | None, int]:
        """The last snapshot and the changes after it (None when never written or deleted), and
        the revision to write over."""
        return await read_state(self.buckets.state, tenant)

    async def _lost(self, rt: TenantRuntime) -> None:
        await self._drop(rt, release=True)

    async def _drop(self, rt: TenantRuntime, *, release: bool) -> None:
        rt.alive = False
        if self.tenants.get(rt.tenant) is rt:
            del self.tenants[rt.tenant]
            log.info("tenant_dropped", tenant=rt.tenant)
        await rt.stop_timers()
        if release:
            await self.leases.release(rt.tenant, rt.lease_revision)
        await self._notify()

    async def _lease_loop(self) -> None:
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            for rt in list(self.tenants.values()):
                await self._renew(rt)
            now = time.monotonic()
            for tenant in self.config.configured():
                lease = self.lease_mirror.get(tenant)
                if tenant not in self.tenants and (lease is None or now - lease.seen_at >= self.settings.lease_seconds):
                    self._try_take(tenant)

    async def _renew(self, rt: TenantRuntime) -> None:
        try:
            revision = await self.leases.renew(rt.tenant, rt.lease_revision)
        except Exception as exc:
            if time.monotonic() - rt.renewed_at >= self.settings.lease_seconds:
                log.warning("lease_expired", tenant=rt.tenant, error=repr(exc))
                await self._drop(rt, release=False)
            return
        if revision is None:
            log.warning("lease_lost", tenant=rt.tenant)
            await self._drop(rt, release=False)
            return
        rt.lease_revision, rt.renewed_at = revision, time.monotonic()
