"""Reading and writing the analytics tables through a Store (the SQL of the consumer)."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from hibiki.analytics.events import AGENT_KEY_PREFIX, RawEvent, timestamp
from hibiki.analytics.records import AgentInterval, CallRecord, LegRecord
from hibiki.analytics.storage.base import Store

EVENT_COLUMNS = ("tenant", "key", "event_id", "kind", "subject", "call_uuid", "occurred_at", "received_at",
                 "payload", "retention_days")
CALL_COLUMNS = (
    "tenant", "call_id", "version", "direction", "caller_number", "caller_name", "callee_number", "did", "user_id",
    "agent_id", "answered_by", "start_time", "ring_time", "answer_time", "end_time", "ring_ms", "wait_ms", "talk_ms",
    "hold_ms", "acw_ms", "ivr_path", "queue_id", "queues", "overflowed", "result", "hangup_cause", "sip_code",
    "disposition", "transfer_target", "recording_id", "test_mode", "legs", "node", "retention_days")
LEG_COLUMNS = (
    "tenant", "call_id", "leg_uuid", "version", "leg", "direction", "caller_number", "caller_name", "callee_number",
    "did", "user_id", "agent_id", "queue_id", "start_time", "ring_time", "answer_time", "bridge_time", "end_time",
    "talk_ms", "hold_ms", "result", "hangup_cause", "sip_code", "transfer_target", "recording_id", "test_mode",
    "node", "retention_days")
AGENT_COLUMNS = ("tenant", "agent_id", "start_time", "event_id", "version", "state", "reason", "end_time",
                 "duration_ms", "call_id", "queue_ids", "device", "retention_days")
_RAW = "SELECT tenant, key, event_id, kind, subject, call_uuid, occurred_at, received_at, payload FROM hibiki.events"

Retention = Callable[[str], int]


def _raw(row: Sequence[Any]) -> RawEvent:
    event = RawEvent(tenant=row[0], key=row[1], event_id=row[2], kind=row[3], subject=row[4], call_uuid=row[5],
                     occurred_at=row[6], received_at=row[7], payload=base64.b64decode(row[8]))
    # the event's own time to the microsecond (an 18.16 server keeps whole seconds in the column)
    exact = timestamp(event.message().meta.occurred_at)  # type: ignore[attr-defined]
    return dataclasses.replace(event, occurred_at=exact) if exact else event


def insert_events(store: Store, events: Sequence[RawEvent], retention: Retention) -> None:
    store.insert("events", EVENT_COLUMNS, [
        (e.tenant, e.key, e.event_id, e.kind, e.subject, e.call_uuid, e.occurred_at, e.received_at, e.payload_b64,
         retention(e.tenant)) for e in events])


def events_of(store: Store, tenant: str, keys: Iterable[str]) -> list[RawEvent]:
    """Every stored event of these keys (a redelivered event may come twice: fold deduplicates)."""
    wanted = tuple(sorted(set(keys)))
    if not wanted:
        return []
    return [_raw(r) for r in store.query(f"{_RAW} WHERE tenant = %(tenant)s AND key IN %(keys)s",
                                         {"tenant": tenant, "keys": wanted})]


def calls_of_legs(store: Store, tenant: str, leg_uuids: Iterable[str]) -> dict[str, str]:
    """leg uuid -> call id, for legs whose ``call.ended`` is stored."""
    wanted = tuple(sorted(set(leg_uuids)))
    if not wanted:
        return {}
    rows = store.query("SELECT call_uuid, any(key) FROM hibiki.events WHERE tenant = %(tenant)s "
                       "AND kind = 'call.ended' AND call_uuid IN %(legs)s GROUP BY call_uuid",
                       {"tenant": tenant, "legs": wanted})
    return {str(r[0]): str(r[1]) for r in rows}


def agent_events_around(store: Store, tenant: str, agent_id: str, since: datetime) -> list[RawEvent]:
    """The agent's state changes from ``since`` on, and the last one before it (whose interval
    the first of these ends)."""
    key = AGENT_KEY_PREFIX + agent_id
    params = {"tenant": tenant, "key": key, "since": since}
    before = store.query(f"{_RAW} WHERE tenant = %(tenant)s AND key = %(key)s AND occurred_at < %(since)s "
                         "ORDER BY occurred_at DESC, event_id DESC LIMIT 1", params)
    after = store.query(f"{_RAW} WHERE tenant = %(tenant)s AND key = %(key)s AND occurred_at >= %(since)s", params)
    return [_raw(r) for r in before + after]


def acw_of(store: Store, tenant: str, call_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """call id -> {agent id -> after-call work ms} from the agents' closed intervals."""
    wanted = tuple(sorted(set(call_ids)))
    if not wanted:
        return {}
    rows = store.query(
        "SELECT call_id, agent_id, sum(duration_ms) FROM hibiki.agent_states FINAL WHERE tenant = %(tenant)s "
        "AND call_id IN %(calls)s AND state = 'after_call_work' AND end_time IS NOT NULL "
        "GROUP BY call_id, agent_id", {"tenant": tenant, "calls": wanted})
    out: dict[str, dict[str, int]] = {}
    for call_id, agent_id, total in rows:
        out.setdefault(str(call_id), {})[str(agent_id)] = int(total)
    return out


def insert_calls(store: Store, calls: Sequence[CallRecord], version: int, retention: Retention) -> None:
    store.insert("calls", CALL_COLUMNS, [
        (c.tenant, c.call_id, version, c.direction, c.caller_number, c.caller_name, c.callee_number, c.did, c.user_id,
         c.agent_id, c.answered_by, c.start_time, c.ring_time, c.answer_time, c.end_time, c.ring_ms, c.wait_ms,
         c.talk_ms, c.hold_ms, c.acw_ms, list(c.ivr_path), c.queue_id, list(c.queues), int(c.overflowed), c.result,
         c.hangup_cause, c.sip_code, c.disposition, c.transfer_target, c.recording_id, int(c.test_mode), c.legs,
         c.node, retention(c.tenant)) for c in calls])


def insert_legs(store: Store, legs: Sequence[LegRecord], version: int, retention: Retention) -> None:
    store.insert("legs", LEG_COLUMNS, [
        (g.tenant, g.call_id, g.leg_uuid, version, g.leg, g.direction, g.caller_number, g.caller_name,
         g.callee_number, g.did, g.user_id, g.agent_id, g.queue_id, g.start_time, g.ring_time, g.answer_time,
         g.bridge_time, g.end_time, g.talk_ms, g.hold_ms, g.result, g.hangup_cause, g.sip_code, g.transfer_target,
         g.recording_id, int(g.test_mode), g.node, retention(g.tenant)) for g in legs])


def insert_agent_states(store: Store, intervals: Sequence[AgentInterval], version: int, retention: Retention) -> None:
    store.insert("agent_states", AGENT_COLUMNS, [
        (i.tenant, i.agent_id, i.start_time, i.event_id, version, i.state, i.reason, i.end_time, i.duration_ms,
         i.call_id, list(i.queue_ids), i.device, retention(i.tenant)) for i in intervals])


def count_calls(store: Store, tenant: str) -> int:
    return int(store.query("SELECT count() FROM hibiki.calls FINAL WHERE tenant = %(tenant)s", {"tenant": tenant})[0][0])
