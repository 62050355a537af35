"""One owned tenant: its machine, the lock that serialises its commands, persistence and timers.

A change runs the domain command with ``time.time()``, then writes the snapshot with
``kv.update(last=revision)`` (fencing: a write that fails means another replica wrote, so this
one lost the tenant), then publishes the events, then replies. A domain error changes nothing
and persists nothing. The timer task sleeps until ``next_deadline()`` (woken early when a
command moves it) and runs ``tick`` the same way: no polling interval.
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
from hibiki.acd.runtime.buckets import encode_state
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

    # -- changes --------------------------------------------------------------------------------

    async def execute(self, op: str, args: Json) -> Json:
        """Run a named operation (see ``ops``); raises AcdError (nothing changed) or TenantLost."""
        function = ops.lookup(op)
        async with self.lock:
            self._check_alive()
            now = time.time()
            events, result = function(self.acd, now, self.handle_times, args)
            if op not in ops.READS:
                await self._commit(events, now)
            return result

    async def begin(self, events: list[Event], now: float) -> None:
        """The first write of a new owner (fencing against a previous one), and what restoring
        the configuration decided."""
        async with self.lock:
            await self._commit(events, now)

    async def change(self, command: Command) -> None:
        """Run a command of the runtime's own (configuration, a tick) like an operation."""
        async with self.lock:
            self._check_alive()
            now = time.time()
            events = command(self.acd, now)
            await self._commit(events, now)

    def _check_alive(self) -> None:
        if not self.alive:
            raise TenantLost(f"this replica no longer owns tenant {self.tenant}")

    async def _commit(self, events: list[Event], now: float) -> None:
        ops.observe(events, self.handle_times)
        outgoing = self._mapper.map(events, now, Lookup(self.acd, self.handle_times, now)) if events else []
        await self.persist()
        self._wake.set()
        await self._publisher.publish(outgoing)

    async def persist(self) -> None:
        """Write the snapshot over the revision this replica last wrote, or lose the tenant."""
        payload = encode_state(self.acd.to_state())
        try:
            self.state_revision = await self._state.update(self.tenant, payload, last=self.state_revision)
        except Exception as exc:
            log.warning("state_write_failed", tenant=self.tenant, error=repr(exc))
            self.alive = False
            asyncio.get_running_loop().create_task(self._on_lost(self))
            raise TenantLost(f"tenant {self.tenant}: this replica lost it (state write failed)") from None

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
