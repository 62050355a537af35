"""The whole tenant's live view for the supervisor page, as Server-Sent Events.

Every ACD event of the tenant (``hibiki.<tenant>.acd.>``, ``hibiki.<tenant>.agent.>``) marks the
view stale; the feed then reads the tenant's overview once (events arriving meanwhile share that
read, at most one read per ``COALESCE`` seconds) and sends it:

    event: overview   {"now", "agents": [<AgentView>...], "queues": [<QueueStats>...], "cause"}

first on connect, again after each burst of events; a comment line every ``KEEPALIVE`` seconds.
The page counts time in state and waiting time from ``now`` itself between two views.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from nats.aio.client import Client

from hibiki.acd.desktop.feed import sse
from hibiki.acd.nats.tenant_subscriptions import TenantSubscriptions

KEEPALIVE = 15.0
COALESCE = 0.2
ReadOverview = Callable[[], Awaitable[dict[str, Any]]]


class TenantFeed(TenantSubscriptions):
    def __init__(self, nc: Client, tenant: str, read: ReadOverview) -> None:
        super().__init__(nc, tenant)
        self._read = read
        self._stale = asyncio.Event()
        self._cause = ""

    async def _received(self, msg: Any) -> None:
        self._cause = msg.subject.removeprefix(f"hibiki.{self.tenant}.")
        self._stale.set()

    async def open(self) -> dict[str, Any]:
        """Subscribe, then read the overview (raises what the read raises)."""
        return await self.subscribe_then(("acd.>", "agent.>"), self._read)

    async def events(self, first: dict[str, Any]) -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            yield sse("overview", {**first, "cause": "connected"})
            while True:
                try:
                    await asyncio.wait_for(self._stale.wait(), KEEPALIVE)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                await asyncio.sleep(COALESCE)
                self._stale.clear()
                yield sse("overview", {**await self._read(), "cause": self._cause})
        finally:
            await self.close()
