"""One owned tenant: its machine, the lock that serialises its commands, persistence and timers.

A change runs the domain command with ``time.time()`` under the lock, then waits until a write
that includes it (the records changed since the write before, or a snapshot: ``journal.py``) has
succeeded with ``kv.update(last=revision)`` (fencing: a write that fails means another replica
wrote, so this one lost the tenant) and the events of that write are published, then replies. A domain error changes nothing and persists nothing. The
timer task sleeps until ``next_deadline()`` (woken early when a command moves it) and runs
``tick`` the same way: no polling interval.

Group commit: one write is in flight at a time and carries every change made before it was
encoded; changes made while it is in flight go together in the next one. Under load a tenant
pays one write and one NATS round trip per batch instead of per operation (the lock was held
across the round trip, so a tenant's operations were bounded by its latency), and no reply
ever reflects a change that is not written. A change that has begun is written and announced
even when its caller stops waiting (a gRPC deadline cancels the handler): the writer is a task
of its own, and nothing is left half done between the command and the write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from nats.js.kv import KeyValue

from hibiki.acd.domain import Acd, Event
from hibiki.acd.nats.events import EventMapper
from hibiki.acd.nats.publisher import Publisher
from hibiki.acd.runtime import ops
from hibiki.acd.runtime.journal import Journal
from hibiki.acd.runtime.estimate import HandleTimes
from hibiki.acd.runtime.views import Json, Lookup
from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.tenant")
Command = Callable[[Acd, float], list[Event]]


class TenantLost(Exception):
    """This replica no longer owns the tenant (its state was written elsewhere, or not at all)."""


class TenantRuntime:
    def __init__(self, acd: Acd, state: KeyValue, state_revision: int, lease_revision: int,
                 publisher: Publisher, mapper: EventMapper, on_lost: Callable[[TenantRuntime], Coroutine[Any, Any, None]]) -> None:
        self.acd, self.tenant = acd, acd.tenant
        self.lock = asyncio.Lock()
        self.state_revision, self.lease_revision = state_revision, lease_revision
        self.handle_times = HandleTimes()
        self.renewed_at = time.monotonic()
        self.alive = True
        self._state, self._publisher, self._mapper, self._on_lost = state, publisher, mapper, on_lost
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._changed = 0          # changes made in memory
        self._written = 0          # changes covered by the last successful write
        self._outgoing: list[Any] = []   # events of the changes not written yet, in order
        self._writer: asyncio.Task[None] | None = None
        self._lost = False         # a write failed: nothing more is written or announced
        self._journal = Journal()  # writes carry what changed since the last one (snapshots between)

    # -- changes --------------------------------------------------------------------------------

    async def execute(self, op: str, args: Json) -> Json:
        """Run a named operation (see ``ops``); raises AcdError (nothing changed) or TenantLost."""
        function = ops.lookup(op)
        async with self.lock:
            self._check_alive()
            now = time.time()
            events, result = function(self.acd, now, self.handle_times, args)
            # a read answers only what is written (it may follow a change still in flight)
            change = self._changed if op in ops.READS else self._record(events, now)
        await self._flushed(change)
        return result

    async def begin(self, events: list[Event], now: float) -> None:
        """The first write of a new owner (fencing against a previous one), and what restoring
        the configuration decided."""
        async with self.lock:
            change = self._record(events, now)
        await self._flushed(change)

    async def change(self, command: Command) -> None:
        """Run a command of the runtime's own (configuration, a tick) like an operation."""
        async with self.lock:
            self._check_alive()
            now = time.time()
            change = self._record(command(self.acd, now), now)
        await self._flushed(change)

    def _check_alive(self) -> None:
        if not self.alive:
            raise TenantLost(f"this replica no longer owns tenant {self.tenant}")

    def _record(self, events: list[Event], now: float) -> int:
        """A change made (under the lock, no await since the command): its events queued for the
        write that will carry it, the writer started. Its number, for ``_flushed``."""
        ops.observe(events, self.handle_times)
        if events:
            self._outgoing.extend(self._mapper.map(events, now, Lookup(self.acd, self.handle_times, now)))
        self._changed += 1
        self._wake.set()
        self._start_writer()
        return self._changed

    def _start_writer(self) -> asyncio.Task[None] | None:
        if self._writer is None and not self._lost:
            self._writer = asyncio.get_running_loop().create_task(self._write_all(), name=f"acd-state-{self.tenant}")
            self._writer.add_done_callback(_retrieved)
        return self._writer

    async def _flushed(self, change: int) -> None:
        """Wait until change number ``change`` is written and announced; TenantLost when it cannot be."""
        while self._written < change:
            writer = self._start_writer()
            if writer is None:
                raise TenantLost(f"tenant {self.tenant}: this replica lost it (state write failed)")
            await asyncio.shield(writer)

    async def _write_all(self) -> None:
        """Write until every change made is written (each write carries all changes made
        before it was encoded), publishing each write's events after it and before the next."""
        try:
            while self._written < self._changed and not self._lost:
                change, payload = self._changed, self._journal.payload(self.acd.to_state(), self.state_revision)
                outgoing, self._outgoing = self._outgoing, []
                try:
                    self.state_revision = await self._state.update(self.tenant, payload, last=self.state_revision)
                except Exception as exc:
                    log.warning("state_write_failed", tenant=self.tenant, error=repr(exc))
                    self._lost, self.alive = True, False
                    asyncio.get_running_loop().create_task(self._on_lost(self))
                    raise TenantLost(f"tenant {self.tenant}: this replica lost it (state write failed)") from None
                self._journal.written()
                self._written = change
                await self._publisher.publish(outgoing)
        finally:
            self._writer = None

    async def persist(self) -> None:
        """Write over the revision this replica last wrote, or lose the tenant."""
        self._changed += 1
        self._start_writer()
        await self._flushed(self._changed)

    # -- timers ---------------------------------------------------------------------------------

    def start_timers(self) -> None:
        self._timer = asyncio.create_task(self._timers(), name=f"acd-timers-{self.tenant}")

    async def _timers(self) -> None:
        while self.alive:
            self._wake.clear()
            deadline = self.acd.next_deadline()
            if deadline is None:
                await self._wake.wait()
                continue
            delay = deadline - time.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                    continue
                except TimeoutError:
                    pass
            try:
                await self.change(lambda acd, now: acd.tick(now))
            except TenantLost:
                return
            except Exception:
                log.exception("tick_failed", tenant=self.tenant)
                await asyncio.sleep(1.0)   # back off: a tick that fails would fail again at once

    async def stop_timers(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)


def _retrieved(task: asyncio.Task[None]) -> None:
    """The writer's failure reached every change waiting for it (as TenantLost); none left is no error."""
    if not task.cancelled():
        task.exception()
