"""The wallboard's NATS adapter: the ACD's protobuf events (``hibiki.<tenant>.acd.*`` and
``hibiki.<tenant>.agent.state_changed``) as model events, read live from the event stream.

Two JetStream ordered consumers (no durable state: the board is rebuilt on start, see
``restore``) deliver every message from ``replay_seconds`` before the start on (what the ingest
pipeline may not have stored yet when the board is restored; a message seen twice counts once),
in order, and recreate themselves after a gap or a NATS reconnection, so nothing published while
the connection was down is missed. A message that cannot
be decoded is logged with its subject and skipped (the board never stops on one bad event).
"""

from __future__ import annotations

import asyncio
import re
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from hibiki.analytics.wallboard import model as m
from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.events.v1 import acd_pb2, agent_pb2, meta_pb2

log = get_logger("hibiki.analytics.wallboard")

SUBJECTS = ("hibiki.*.acd.>", "hibiki.*.agent.state_changed")
TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")
STATES = {
    agent_pb2.AGENT_STATE_LOGGED_OUT: m.AgentState.LOGGED_OUT, agent_pb2.AGENT_STATE_READY: m.AgentState.READY,
    agent_pb2.AGENT_STATE_RESERVED: m.AgentState.RINGING, agent_pb2.AGENT_STATE_RINGING: m.AgentState.RINGING,
    agent_pb2.AGENT_STATE_TALKING: m.AgentState.TALKING,
    agent_pb2.AGENT_STATE_AFTER_CALL_WORK: m.AgentState.AFTER_CALL_WORK,
    agent_pb2.AGENT_STATE_BREAK: m.AgentState.BREAK, agent_pb2.AGENT_STATE_NOT_READY: m.AgentState.NOT_READY,
}
Sink = Callable[[str, list[m.Event]], Awaitable[None]]


def _at(meta: meta_pb2.EventMeta) -> float:
    return float(meta.occurred_at.ToNanoseconds()) / 1e9


def decode(subject: str, payload: bytes) -> tuple[str, list[m.Event]]:
    """The tenant and the model events of one message ([] for events the board does not count,
    e.g. acd.offered). Raises ValueError for a subject or payload that is not an ACD event."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != "hibiki" or not TENANT.fullmatch(parts[1]):
        raise ValueError(f"not a hibiki event subject: {subject!r}")
    _, tenant, domain, name = parts
    try:
        return tenant, _decode(domain, name, payload)
    except DecodeError as exc:
        raise ValueError(f"{subject}: {exc}") from None


def _decode(domain: str, name: str, payload: bytes) -> list[m.Event]:
    if domain == "agent" and name == "state_changed":
        a = agent_pb2.AgentStateChanged.FromString(payload)
        state = STATES.get(a.current)
        if state is None or not a.agent_id:
            return []
        return [m.AgentChanged(a.agent_id, state, _at(a.meta), tuple(a.queue_ids), a.call_uuid or a.meta.call_uuid,
                               STATES.get(a.previous))]
    if domain != "acd":
        return []
    return [e for e in _decode_acd(name, payload) if e.call_id and e.queue_id]   # a call in a queue, or nothing


def _decode_acd(name: str, payload: bytes) -> list[m.Entered | m.Answered | m.Left | m.Ended]:
    if name == "queued":
        q = acd_pb2.CallQueued.FromString(payload)
        return [m.Entered(q.meta.call_uuid, q.queue_id, _at(q.meta))] if q.meta.call_uuid and q.queue_id else []
    if name == "answered":
        a2 = acd_pb2.QueueCallAnswered.FromString(payload)
        return [m.Answered(a2.meta.call_uuid, a2.queue_id, a2.agent_id, a2.wait_ms / 1000, _at(a2.meta))]
    if name == "left":
        left = acd_pb2.CallLeftQueue.FromString(payload)
        return [m.Left(left.meta.call_uuid, left.queue_id, left.reason, left.wait_ms / 1000, _at(left.meta))]
    if name == "overflowed":
        o = acd_pb2.CallOverflowed.FromString(payload)
        at = _at(o.meta)
        return [m.Left(o.meta.call_uuid, o.from_queue, "overflowed", o.wait_ms / 1000, at),
                m.Entered(o.meta.call_uuid, o.to_queue, at)]
    if name == "ended":
        e = acd_pb2.QueueCallEnded.FromString(payload)
        return [m.Ended(e.meta.call_uuid, e.queue_id, e.agent_id, e.talk_ms / 1000, _at(e.meta))]
    return []


class Feed:
    """Ordered consumers of the ACD's events from now on; each decoded message goes to ``sink``."""

    def __init__(self, js: JetStreamContext, sink: Sink, replay_seconds: float = 300.0,
                 stop: asyncio.Event | None = None) -> None:
        self._js, self._sink, self._replay, self._stop = js, sink, replay_seconds, stop
        self._subs: list[Any] = []

    async def _on_message(self, msg: Any) -> None:
        try:
            tenant, events = decode(msg.subject, msg.data)
        except ValueError as exc:
            log.warning("wallboard_event_undecodable", subject=msg.subject, error=str(exc))
            return
        if events:
            try:
                await self._sink(tenant, events)
            except Exception:
                log.exception("wallboard_event_failed", tenant=tenant, subject=msg.subject)

    async def start(self) -> None:
        since = dt.datetime.fromtimestamp(time.time() - self._replay, dt.UTC)
        for subject in SUBJECTS:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since)
            # at startup JetStream may be electing a leader: wait for it (one line an attempt), as every service does
            self._subs.append(await bus.retry_unavailable(
                f"the wallboard feed of {subject}",
                lambda: self._js.subscribe(subject, cb=self._on_message, stream=bus.EVENTS_STREAM,
                                           ordered_consumer=True, config=config, idle_heartbeat=5.0),
                stop=self._stop))

    async def stop(self) -> None:
        for sub in self._subs:
            try:
                await asyncio.wait_for(sub.unsubscribe(), 5)
            except Exception:
                log.warning("wallboard_unsubscribe_failed")
        self._subs.clear()
