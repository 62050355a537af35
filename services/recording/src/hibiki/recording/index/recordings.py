"""Reading and writing the recording index: rows, search, dispositions, retention and the audit trail.

Every function is blocking (the store is); callers run them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from hibiki.recording.index.chdb_store import Row

MAX_PAGE = 500


class Store(Protocol):
    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]: ...

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None: ...


@dataclass(frozen=True)
class Recording:
    tenant: str
    recording_id: str
    call_id: str
    leg_uuid: str
    part: int
    start_time: datetime
    end_time: datetime
    duration_ms: int
    channels: int
    direction: str
    caller_number: str
    callee_number: str
    did: str
    queue_id: str
    agent_id: str
    user_id: str
    reason: str
    codec: str
    size_bytes: int
    sha256: str
    object_key: str
    key_id: str
    stored_at: datetime
    delete_after: datetime


COLUMNS = [f.name for f in fields(Recording)]
_SELECT = ", ".join(f"r.{c}" for c in COLUMNS)


@dataclass(frozen=True)
class Found:
    recording: Recording
    disposition: str


@dataclass(frozen=True)
class Query:
    tenant: str
    start: datetime | None = None
    end: datetime | None = None
    agent_id: str | None = None
    number: str | None = None
    queue_id: str | None = None
    disposition: str | None = None
    limit: int = 100


def put(store: Store, recording: Recording) -> None:
    store.insert("recordings", [{**asdict(recording), "version": time.time_ns() // 1000}])


def _found(row: Row) -> Found:
    return Found(Recording(*row[:len(COLUMNS)]), str(row[len(COLUMNS)]))


def _joined(where: str) -> str:
    return (f"SELECT {_SELECT}, d.disposition FROM (SELECT * FROM hibiki.recordings FINAL "
            f"WHERE tenant = %(tenant)s{where}) AS r LEFT JOIN (SELECT call_id, argMax(disposition, saved_at) "
            f"AS disposition FROM hibiki.dispositions WHERE tenant = %(tenant)s GROUP BY call_id) AS d "
            f"ON r.call_id = d.call_id")


def get(store: Store, tenant: str, recording_id: str) -> Found | None:
    rows = store.query(_joined(" AND recording_id = %(id)s"), {"tenant": tenant, "id": recording_id})
    return _found(rows[0]) if rows else None


def search(store: Store, q: Query) -> list[Found]:
    params: dict[str, Any] = {"tenant": q.tenant, "limit": max(1, min(q.limit, MAX_PAGE))}
    where = ""
    if q.start is not None:
        where += " AND start_time >= %(start)s"
        params["start"] = q.start
    if q.end is not None:
        where += " AND start_time < %(end)s"
        params["end"] = q.end
    if q.agent_id:
        where += " AND agent_id = %(agent)s"
        params["agent"] = q.agent_id
    if q.queue_id:
        where += " AND queue_id = %(queue)s"
        params["queue"] = q.queue_id
    if q.number:
        where += " AND (caller_number = %(number)s OR callee_number = %(number)s OR did = %(number)s)"
        params["number"] = q.number
    outer = ""
    if q.disposition:
        outer = " WHERE d.disposition = %(disposition)s"
        params["disposition"] = q.disposition
    sql = f"{_joined(where)}{outer} ORDER BY r.start_time DESC, r.recording_id LIMIT %(limit)s"
    return [_found(row) for row in store.query(sql, params)]


def delete(store: Store, tenant: str, recording_id: str) -> None:
    store.execute("DELETE FROM hibiki.recordings WHERE tenant = %(tenant)s AND recording_id = %(id)s",
                  {"tenant": tenant, "id": recording_id})


def due(store: Store, now: datetime, limit: int = 1000) -> list[Recording]:
    rows = store.query(f"SELECT {_SELECT} FROM hibiki.recordings AS r FINAL WHERE r.delete_after <= %(now)s "
                       "ORDER BY r.delete_after LIMIT %(limit)s", {"now": now, "limit": limit})
    return [Recording(*row) for row in rows]


def save_disposition(store: Store, tenant: str, call_id: str, disposition: str, agent_id: str, at: datetime) -> None:
    store.insert("dispositions", [{"tenant": tenant, "call_id": call_id, "disposition": disposition,
                                   "agent_id": agent_id, "saved_at": at}])


def handled_at(store: Store, tenant: str, call_id: str) -> datetime | None:
    rows = store.query("SELECT max(saved_at) FROM hibiki.dispositions WHERE tenant = %(tenant)s "
                       "AND call_id = %(call)s HAVING count() > 0", {"tenant": tenant, "call": call_id})
    return rows[0][0] if rows else None


def of_call(store: Store, tenant: str, call_id: str) -> list[Recording]:
    rows = store.query(f"SELECT {_SELECT} FROM hibiki.recordings AS r FINAL WHERE r.tenant = %(tenant)s "
                       "AND r.call_id = %(call)s", {"tenant": tenant, "call": call_id})
    return [Recording(*row) for row in rows]


@dataclass(frozen=True)
class AuditEntry:
    tenant: str
    at: datetime
    event_id: str
    actor: str
    roles: list[str]
    action: str
    recording_id: str
    remote: str
    detail: str


def audit(store: Store, entry: AuditEntry) -> None:
    store.insert("recording_audit", [asdict(entry)])


def audit_trail(store: Store, tenant: str, start: datetime | None, end: datetime | None,
                limit: int = 10_000) -> list[AuditEntry]:
    params: dict[str, Any] = {"tenant": tenant, "limit": limit}
    where = ""
    if start is not None:
        where += " AND at >= %(start)s"
        params["start"] = start
    if end is not None:
        where += " AND at < %(end)s"
        params["end"] = end
    rows = store.query("SELECT tenant, at, event_id, actor, roles, action, recording_id, remote, detail "
                       f"FROM hibiki.recording_audit FINAL WHERE tenant = %(tenant)s{where} ORDER BY at, event_id "
                       "LIMIT %(limit)s", params)
    return [AuditEntry(*row) for row in rows]
