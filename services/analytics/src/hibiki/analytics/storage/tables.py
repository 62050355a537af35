"""Reading and writing the analytics tables through a Store (the SQL of the consumer)."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
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
LOOKBACK = timedelta(hours=2)    # how far back the first query looks for an agent's previous state change
FALLBACK = timedelta(days=62)    # and the second: an agent's state older than this is not closed


def _raw(row: Sequence[Any], exact_times: bool) -> RawEvent:
    event = RawEvent(tenant=row[0], key=row[1], event_id=row[2], kind=row[3], subject=row[4], call_uuid=row[5],
                     occurred_at=row[6], received_at=row[7], payload=base64.b64decode(row[8]))
    if exact_times:
        return event
    # an 18.16 server keeps whole seconds in the column: the event's own time, to the millisecond
    exact = timestamp(event.message().meta.occurred_at)  # type: ignore[attr-defined]
    return dataclasses.replace(event, occurred_at=exact.replace(microsecond=exact.microsecond // 1000 * 1000)) \
        if exact else event


def _rows(store: Store, sql: str, params: dict[str, Any]) -> list[RawEvent]:
    exact = store.dialect.datetime.startswith("DateTime64")
    return [_raw(r, exact) for r in store.query(sql, params)]


def insert_events(store: Store, events: Sequence[RawEvent], retention: Retention) -> None:
    store.insert("events", EVENT_COLUMNS, [
        (e.tenant, e.key, e.event_id, e.kind, e.subject, e.call_uuid, e.occurred_at, e.received_at, e.payload_b64,
         retention(e.tenant)) for e in events])


Pair = tuple[str, str]     # (tenant, key) or (tenant, call id) or (tenant, agent id)


def _pairs(pairs: Iterable[Pair]) -> tuple[Pair, ...]:
    return tuple(sorted(set(pairs)))


def events_of(store: Store, keys: Iterable[Pair]) -> list[RawEvent]:
    """Every stored event of these (tenant, key)s (a redelivered one may come twice: fold deduplicates)."""
    wanted = _pairs(keys)
    if not wanted:
        return []
    return _rows(store, f"{_RAW} WHERE (tenant, key) IN %(keys)s", {"keys": wanted})


def event_ids(store: Store, keys: Iterable[Pair]) -> dict[Pair, frozenset[str]]:
    """(tenant, key) -> the ids of its stored events (one cheap query: no payloads)."""
    return ids_now(store, keys, {})


def call_event_ids(store: Store, calls: Iterable[Pair]) -> dict[Pair, frozenset[str]]:
    """The ids of the stored events of these calls and of their other legs' channels (the keys of
    the B-legs their ``call.ended`` events name: a B-leg's ``call.answered``), in one query."""
    wanted = _pairs(calls)
    if not wanted:
        return {}
    rows = store.query(
        "SELECT tenant, key, groupUniqArray(event_id) FROM hibiki.events WHERE (tenant, key) IN %(keys)s "
        "OR (tenant, key) IN (SELECT tenant, call_uuid FROM hibiki.events WHERE (tenant, key) IN %(keys)s "
        "AND kind = 'call.ended' AND call_uuid != key) GROUP BY tenant, key", {"keys": wanted})
    return {(str(r[0]), str(r[1])): frozenset(r[2]) for r in rows}


def ids_now(store: Store, keys: Iterable[Pair], spans: dict[Pair, tuple[datetime, datetime]]
            ) -> dict[Pair, frozenset[str]]:
    """In one query: (tenant, key) -> the ids of its stored events, for ``keys``, and (tenant,
    ``agent:<id>``) -> the ids of its state changes within ``window(spans)`` for the agents of ``spans``."""
    wanted = _pairs(keys)
    agents = _pairs((t, AGENT_KEY_PREFIX + a) for t, a in spans)
    where: list[str] = []
    params: dict[str, Any] = {}
    if wanted:
        where.append("(tenant, key) IN %(keys)s")
        params["keys"] = wanted
    if agents:
        low, high = window(spans)
        where.append("((tenant, key) IN %(agents)s AND occurred_at >= %(low)s AND occurred_at <= %(high)s)")
        params.update(agents=agents, low=low, high=high)
    if not where:
        return {}
    rows = store.query(f"SELECT tenant, key, groupUniqArray(event_id) FROM hibiki.events WHERE {' OR '.join(where)} "
                       "GROUP BY tenant, key", params)
    return {(str(r[0]), str(r[1])): frozenset(r[2]) for r in rows}


def call_keys(store: Store, keys: Iterable[Pair]) -> set[Pair]:
    """Those of ``keys`` that are calls: keys with call events of their own (the primary key finds them)."""
    wanted = _pairs(keys)
    if not wanted:
        return set()
    rows = store.query("SELECT tenant, key FROM hibiki.events WHERE (tenant, key) IN %(keys)s "
                       "AND kind NOT IN ('call.answered', 'recording.started', 'recording.stored') "
                       "GROUP BY tenant, key", {"keys": wanted})
    return {(str(r[0]), str(r[1])) for r in rows}


def calls_of_legs(store: Store, legs: Iterable[Pair], since: datetime) -> dict[Pair, str]:
    """(tenant, leg uuid) -> call id, for legs whose ``call.ended`` is stored and came after ``since``."""
    wanted = _pairs(legs)
    if not wanted:
        return {}
    rows = store.query("SELECT tenant, call_uuid, any(key) FROM hibiki.events WHERE kind = 'call.ended' "
                       "AND occurred_at >= %(since)s AND (tenant, call_uuid) IN %(legs)s GROUP BY tenant, call_uuid",
                       {"legs": wanted, "since": since})
    return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}


def window(spans: dict[Pair, tuple[datetime, datetime]]) -> tuple[datetime, datetime]:
    return min(since for since, _ in spans.values()) - LOOKBACK, max(until for _, until in spans.values())


def agent_event_ids(store: Store, spans: dict[Pair, tuple[datetime, datetime]]) -> dict[Pair, frozenset[str]]:
    """(tenant, agent id) -> the ids of its state changes within ``window(spans)``."""
    return {(t, k[len(AGENT_KEY_PREFIX):]): ids for (t, k), ids in ids_now(store, (), spans).items()}


AgentWindows = tuple[dict[Pair, list[RawEvent]], dict[Pair, frozenset[str]]]


def agent_windows(store: Store, spans: dict[Pair, tuple[datetime, datetime]]) -> AgentWindows:
    """For each (tenant, agent id) -> (since, until): the state changes that its intervals starting
    from ``since`` to ``until`` need: the last one before ``since`` (whose interval the first new
    one ends), those from ``since`` to ``until``, and the first one after; and the ids of its state
    changes within ``window(spans)`` (what ``agent_event_ids`` finds while no other consumer
    stores). One query: the window, the first change after it and the last one before it (up to
    ``FALLBACK`` back: asked for every agent, rather than a second query for the agents without a
    change in the window before ``since``: on live traffic that was most batches)."""
    if not spans:
        return {}, {}
    keys = _pairs((tenant, AGENT_KEY_PREFIX + agent) for tenant, agent in spans)
    low, high = window(spans)
    params: dict[str, Any] = {"keys": keys, "low": low, "high": high, "oldest": low - FALLBACK}
    rows = store.query(f"SELECT *, 1 AS inside FROM ({_RAW} WHERE (tenant, key) IN %(keys)s "
                       "AND occurred_at >= %(low)s AND occurred_at <= %(high)s) UNION ALL SELECT *, 0 AS inside FROM ("
                       f"{_RAW} WHERE (tenant, key) IN %(keys)s AND occurred_at > %(high)s "
                       "ORDER BY occurred_at, event_id LIMIT 1 BY tenant, key) UNION ALL SELECT *, 0 AS inside FROM ("
                       f"{_RAW} WHERE (tenant, key) IN %(keys)s AND occurred_at < %(low)s AND occurred_at >= %(oldest)s "
                       "ORDER BY occurred_at DESC, event_id DESC LIMIT 1 BY tenant, key)", params)
    exact = store.dialect.datetime.startswith("DateTime64")
    found: dict[Pair, list[RawEvent]] = {agent: [] for agent in spans}
    in_window: dict[Pair, set[str]] = {}
    for row in rows:
        event = _raw(row[:-1], exact)
        agent = (event.tenant, event.key[len(AGENT_KEY_PREFIX):])
        found[agent].append(event)
        if row[-1]:
            in_window.setdefault(agent, set()).add(event.event_id)
    out = {}
    for agent, (since, _) in spans.items():
        unique = sorted({e.event_id: e for e in found[agent]}.values(), key=lambda e: (e.occurred_at, e.event_id))
        before = [e for e in unique if e.occurred_at < since]
        out[agent] = unique[unique.index(before[-1]):] if before else unique
    return out, {agent: frozenset(ids) for agent, ids in in_window.items()}


def acw_of(store: Store, calls: Iterable[Pair], since: datetime) -> dict[Pair, dict[str, int]]:
    """(tenant, call id) -> {agent id -> after-call work ms} from the agents' closed intervals
    that started at ``since`` or later (the monthly partitions before it are not read)."""
    wanted = _pairs(calls)
    if not wanted:
        return {}
    rows = store.query(
        "SELECT tenant, call_id, agent_id, sum(duration_ms) FROM hibiki.agent_states FINAL "
        "WHERE start_time >= %(since)s AND (tenant, call_id) IN %(calls)s AND state = 'after_call_work' "
        "AND end_time IS NOT NULL GROUP BY tenant, call_id, agent_id", {"calls": wanted, "since": since})
    out: dict[Pair, dict[str, int]] = {}
    for tenant, call_id, agent_id, total in rows:
        out.setdefault((str(tenant), str(call_id)), {})[str(agent_id)] = int(total)
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
