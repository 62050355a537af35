"""One agent's live feed: the tenant's ACD events from NATS, kept to those about the agent and
turned into the page's Server-Sent Events.

    agent.state_changed, agent.wrap_up_expired,   ->  event: agent   {"view": <AgentView>, "cause": ...}
    agent.disposition_saved (this agent)
    acd.offered (a target is this agent)          ->  event: offer   {"call_uuid", "queue_id", "caller_number",
                                                                      "ivr_path", "ring_seconds", "attempt"}
    acd.offer_missed / offer_released (this agent) -> event: offer_ended {"call_uuid", "reason"}

The feed subscribes before it reads the agent's view, so nothing falls between the two; a page
that reconnects gets the view again first. A comment line every ``KEEPALIVE`` seconds keeps
proxies from closing a quiet stream. A feed that falls more than ``BACKLOG`` events behind (a
stalled browser) says ``event: resync`` and the page reads the view again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from google.protobuf.message import DecodeError
from nats.aio.client import Client

from hibiki.acd.nats.tenant_subscriptions import TenantSubscriptions
from hibiki.events.v1 import acd_pb2, agent_pb2

KEEPALIVE = 15.0
BACKLOG = 256
AGENT_EVENTS: dict[str, Any] = {"agent.state_changed": agent_pb2.AgentStateChanged, "agent.wrap_up_expired": acd_pb2.WrapUpExpired,
                "agent.disposition_saved": agent_pb2.DispositionSaved}
OFFER_ENDS = ("acd.offer_missed", "acd.offer_released")
ReadView = Callable[[], Awaitable[dict[str, Any]]]


def sse(name: str, payload: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def about(agent_id: str, name: str, data: bytes) -> tuple[str, dict[str, Any]] | None:
    """What a tenant event means for ``agent_id``'s page: (kind, payload), or None (not about it,
    or not decodable: the feed goes on)."""
    try:
        if name in AGENT_EVENTS:
            message: Any = AGENT_EVENTS[name].FromString(data)
            if message.agent_id != agent_id:
                return None
            return "agent", {"cause": name.removeprefix("agent."), "call_uuid": message.meta.call_uuid}
        if name == "acd.offered":
            offer = acd_pb2.CallOffer.FromString(data)
            if not any(t.agent_id == agent_id for t in offer.targets):
                return None
            return "offer", {"call_uuid": offer.meta.call_uuid, "queue_id": offer.queue_id,
                             "caller_number": offer.caller_number, "ivr_path": list(offer.ivr_path),
                             "ring_seconds": offer.ring_seconds, "attempt": offer.attempt}
        if name in OFFER_ENDS:
            ended = acd_pb2.OfferEnded.FromString(data)
            if ended.agent_id != agent_id:
                return None
            return "offer_ended", {"call_uuid": ended.meta.call_uuid, "reason": ended.reason}
    except DecodeError:
        return None
    return None


class AgentFeed(TenantSubscriptions):
    """The events of ``agent_id`` in ``tenant``, as SSE text, until the client goes away."""

    def __init__(self, nc: Client, tenant: str, agent_id: str, read_view: ReadView) -> None:
        super().__init__(nc, tenant)
        self.agent_id, self._read_view = agent_id, read_view
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(maxsize=BACKLOG)

    async def _received(self, msg: Any) -> None:
        name = msg.subject.removeprefix(f"hibiki.{self.tenant}.")
        try:
            self._queue.put_nowait((name, msg.data))
        except asyncio.QueueFull:
            self._drain()
            self._queue.put_nowait(None)     # the page reads the view again

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def open(self) -> dict[str, Any]:
        """Subscribe, then read the agent's view (raises what the view's read raises)."""
        return await self.subscribe_then(("agent.>", "acd.offered", *OFFER_ENDS), self._read_view)

    async def events(self, first_view: dict[str, Any]) -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            yield sse("agent", {"view": first_view, "cause": "connected", "call_uuid": ""})
            while True:
                try:
                    item = await asyncio.wait_for(self._queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item is None:
                    yield sse("resync", {})
                    yield sse("agent", {"view": await self._read_view(), "cause": "resync", "call_uuid": ""})
                    continue
                found = about(self.agent_id, *item)
                if found is None:
                    continue
                kind, payload = found
                if kind == "agent":
                    payload = {"view": await self._read_view(), **payload}
                yield sse(kind, payload)
        finally:
            await self.close()
