"""Domain events to protobuf messages and subjects (pure: no I/O).

    Enqueued           acd.queued             CallQueued (position, expected wait)
    Requeued           acd.requeued           CallRequeued
    Offered            acd.offered            CallOffer: the Offered of one call and attempt in one
                                              result (ring-all) are one message with every target
    OfferMissed        acd.offer_missed       OfferEnded
    OfferReleased      acd.offer_released     OfferEnded
    CallAnswered       acd.answered           QueueCallAnswered
    CallOverflowed     acd.overflowed         CallOverflowed
    CallLeft           acd.left               CallLeftQueue (reason, destination)
    CallEnded          acd.ended              QueueCallEnded
    AgentStateChanged  agent.state_changed    AgentStateChanged (queue_ids: the agent's queues)
    WrapUpExpired      agent.wrap_up_expired  WrapUpExpired
    DispositionSaved   agent.disposition_saved  DispositionSaved

Every message has ``meta`` (a fresh uuid4 id, the tenant, the time, the source and the call).
Durations are milliseconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from hibiki.acd.domain import events as ev
from hibiki.acd.domain.enums import AgentState
from hibiki.common import bus
from hibiki.events.v1 import acd_pb2, agent_pb2, meta_pb2

AGENT_STATES = {
    AgentState.LOGGED_OUT: agent_pb2.AGENT_STATE_LOGGED_OUT, AgentState.READY: agent_pb2.AGENT_STATE_READY,
    AgentState.RESERVED: agent_pb2.AGENT_STATE_RESERVED, AgentState.RINGING: agent_pb2.AGENT_STATE_RINGING,
    AgentState.TALKING: agent_pb2.AGENT_STATE_TALKING, AgentState.AFTER_CALL_WORK: agent_pb2.AGENT_STATE_AFTER_CALL_WORK,
    AgentState.BREAK: agent_pb2.AGENT_STATE_BREAK, AgentState.NOT_READY: agent_pb2.AGENT_STATE_NOT_READY,
}


class Lookup(Protocol):
    """What the messages carry beyond the events, read from the machine after the command."""

    def caller(self, call_id: str) -> str: ...

    def ivr_path(self, call_id: str) -> list[str]: ...

    def ring_seconds(self, queue_id: str) -> int: ...

    def agent_queues(self, agent_id: str) -> list[str]: ...

    def queued(self, call_id: str, queue_id: str) -> tuple[int, int]: ...   # position, expected wait ms


@dataclass(frozen=True)
class Outgoing:
    subject: str
    message: Message
    event_id: str


def ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class EventMapper:
    def __init__(self, tenant: str, source: str) -> None:
        self.tenant, self.source = tenant, source

    def meta(self, now: float, call_id: str = "") -> meta_pb2.EventMeta:
        meta = meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=self.tenant, source=self.source, call_uuid=call_id)
        meta.occurred_at.FromNanoseconds(int(now * 1e9))
        return meta

    def _out(self, domain: str, event: str, message: Message, meta: meta_pb2.EventMeta) -> Outgoing:
        return Outgoing(bus.subject(self.tenant, domain, event), message, meta.id)

    def map(self, events: Sequence[ev.Event], now: float, lookup: Lookup) -> list[Outgoing]:
        """One message per event, except offers: every ``Offered`` of one call and attempt in the
        result (ring-all: the domain interleaves them with the agents' state changes) is one
        CallOffer, in the place of the first."""
        decisions: dict[tuple[str, int], list[ev.Offered]] = {}
        for event in events:
            if isinstance(event, ev.Offered):
                decisions.setdefault((event.call_id, event.attempt), []).append(event)
        out: list[Outgoing] = []
        for event in events:
            if isinstance(event, ev.Offered):
                group = decisions.pop((event.call_id, event.attempt), None)
                if group is not None:
                    out.append(self._offer(group, now, lookup))
            else:
                out.append(self._one(event, now, lookup))
        return out

    def _offer(self, group: list[ev.Offered], now: float, lookup: Lookup) -> Outgoing:
        first = group[0]
        meta = self.meta(now, first.call_id)
        message = acd_pb2.CallOffer(
            meta=meta, queue_id=first.queue_id, attempt=first.attempt, ring_seconds=lookup.ring_seconds(first.queue_id),
            caller_number=lookup.caller(first.call_id), ivr_path=lookup.ivr_path(first.call_id),
            targets=[acd_pb2.OfferTarget(agent_id=o.agent_id, device=o.device) for o in group])
        return self._out("acd", "offered", message, meta)

    def _one(self, event: ev.Event, now: float, lookup: Lookup) -> Outgoing:  # noqa: C901 (one arm per event)
        if isinstance(event, ev.Enqueued):
            meta = self.meta(now, event.call_id)
            position, wait_ms = lookup.queued(event.call_id, event.queue_id)
            return self._out("acd", "queued", acd_pb2.CallQueued(
                meta=meta, queue_id=event.queue_id, priority=event.priority, position=position,
                expected_wait_ms=wait_ms, caller_number=lookup.caller(event.call_id)), meta)
        if isinstance(event, ev.Requeued):
            meta = self.meta(now, event.call_id)
            return self._out("acd", "requeued", acd_pb2.CallRequeued(meta=meta, queue_id=event.queue_id), meta)
        if isinstance(event, (ev.OfferMissed, ev.OfferReleased)):
            meta = self.meta(now, event.call_id)
            name = "offer_missed" if isinstance(event, ev.OfferMissed) else "offer_released"
            return self._out("acd", name, acd_pb2.OfferEnded(meta=meta, agent_id=event.agent_id, reason=event.reason),
                             meta)
        if isinstance(event, ev.CallAnswered):
            meta = self.meta(now, event.call_id)
            return self._out("acd", "answered", acd_pb2.QueueCallAnswered(
                meta=meta, queue_id=event.queue_id, agent_id=event.agent_id, wait_ms=ms(event.waited)), meta)
        if isinstance(event, ev.CallOverflowed):
            meta = self.meta(now, event.call_id)
            return self._out("acd", "overflowed", acd_pb2.CallOverflowed(
                meta=meta, from_queue=event.from_queue, to_queue=event.to_queue, wait_ms=ms(event.waited)), meta)
        if isinstance(event, ev.CallLeft):
            meta = self.meta(now, event.call_id)
            return self._out("acd", "left", acd_pb2.CallLeftQueue(
                meta=meta, queue_id=event.queue_id, reason=event.reason.value, destination=event.destination,
                wait_ms=ms(event.waited)), meta)
        if isinstance(event, ev.CallEnded):
            meta = self.meta(now, event.call_id)
            return self._out("acd", "ended", acd_pb2.QueueCallEnded(
                meta=meta, queue_id=event.queue_id, agent_id=event.agent_id, talk_ms=ms(event.talked)), meta)
        if isinstance(event, ev.AgentStateChanged):
            meta = self.meta(now, event.call_id)
            return self._out("agent", "state_changed", agent_pb2.AgentStateChanged(
                meta=meta, agent_id=event.agent_id, previous=AGENT_STATES[event.previous],
                current=AGENT_STATES[event.current], reason=event.reason, device=event.device,
                queue_ids=lookup.agent_queues(event.agent_id), call_uuid=event.call_id), meta)
        if isinstance(event, ev.WrapUpExpired):
            meta = self.meta(now, event.call_id)
            return self._out("agent", "wrap_up_expired", acd_pb2.WrapUpExpired(
                meta=meta, agent_id=event.agent_id, queue_id=event.queue_id), meta)
        if isinstance(event, ev.DispositionSaved):
            meta = self.meta(now, event.call_id)
            return self._out("agent", "disposition_saved", agent_pb2.DispositionSaved(
                meta=meta, agent_id=event.agent_id, queue_id=event.queue_id, case_type=event.case_type,
                note=event.note), meta)
        raise TypeError(f"no message for {type(event).__name__}")   # pragma: no cover
