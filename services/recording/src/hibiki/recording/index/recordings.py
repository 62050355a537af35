"""Reading and writing the recording index: rows, search, dispositions, retention and the audit trail.

Every function is blocking (the store is); callers run them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Row = tuple[Any, ...]

MAX_PAGE = 500
WINDOWS = tuple(timedelta(days=d) for d in (7, 31, 92, 366))     # week, month, quarter, year


class Store(Protocol):
    """The index's ClickHouse: chdb in-process or a server (``index.stores.open_index``)."""

    def migrate(self) -> list[int]: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def delete_rows(self, table: str, where: str, params: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


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


def _latest(store: Store, tenant: str, calls: set[str]) -> dict[str, str]:
    """The last disposition saved for each of ``calls`` (the primary key (tenant, call_id) prunes)."""
    if not calls:
        return {}
    rows = store.query("SELECT call_id, argMax(disposition, saved_at) FROM hibiki.dispositions "
                       "WHERE tenant = %(tenant)s AND call_id IN %(calls)s GROUP BY call_id",
                       {"tenant": tenant, "calls": calls})
    return {str(row[0]): str(row[1]) for row in rows}


def _page(store: Store, sql: str, params: Mapping[str, Any], disposition: str | None = None) -> list[Found]:
    """The recordings ``sql`` selects, each with its call's last disposition: ``disposition`` when the
    query filtered by it, else read for this page's calls only (never the tenant's whole table)."""
    found = [Recording(*row) for row in store.query(sql, params)]
    latest = ({r.call_id: disposition for r in found} if disposition
              else _latest(store, str(params["tenant"]), {r.call_id for r in found}))
    return [Found(r, latest.get(r.call_id, "")) for r in found]


def get(store: Store, tenant: str, recording_id: str) -> Found | None:
    found = _page(store, f"SELECT {_SELECT} FROM hibiki.recordings AS r FINAL WHERE r.tenant = %(tenant)s "
                  "AND r.recording_id = %(id)s", {"tenant": tenant, "id": recording_id})
    return found[0] if found else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)     # bound as UTC (clickhouse_sql)


def search(store: Store, q: Query) -> list[Found]:
    """The page of ``q``, newest first. The filters on the recording's own columns go to the
    table's WHERE (tenant and start time are its primary key; bloom filters skip the rest); a
    disposition filter is an IN on the calls whose last disposition is that one, looked up only
    among the calls the other filters leave (so its cost follows the time range, not the tenant's
    whole history); the page's own dispositions are read for its calls only. The newest week, month,
    quarter and year before the query's end (or now) are asked first: when one already fills the page, the
    page is the same as the whole range's (every older row sorts after it) and the rest is not read
    (not for a number: its bloom filters skip to its few granules over any range)."""
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
    cases = ""
    if q.disposition:
        cases = (" AND call_id IN (SELECT call_id FROM hibiki.dispositions WHERE tenant = %(tenant)s AND call_id IN "
                 f"(SELECT call_id FROM hibiki.recordings WHERE tenant = %(tenant)s{where}{{window}}) "
                 "GROUP BY call_id HAVING argMax(disposition, saved_at) = %(disposition)s)")
        params["disposition"] = q.disposition
    sql = (f"SELECT {_SELECT} FROM hibiki.recordings AS r FINAL WHERE tenant = %(tenant)s{where}{{window}}{cases} "
           "ORDER BY r.start_time DESC, r.recording_id LIMIT %(limit)s")
    anchor = _aware(q.end or datetime.now(UTC))
    for span in () if q.number else WINDOWS:     # a number is a needle its bloom filters find at once
        since = anchor - span
        if q.start is not None and since <= _aware(q.start):
            break
        found = _page(store, sql.format(window=" AND start_time >= %(since)s"), {**params, "since": since},
                      q.disposition)
        if len(found) >= params["limit"]:     # every row older than the window sorts after these
            return found
    return _page(store, sql.format(window=""), params, q.disposition)


def delete(store: Store, tenant: str, recording_id: str) -> None:
    store.delete_rows("recordings", "tenant = %(tenant)s AND recording_id = %(id)s",
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
    """One access: who, what, when, from where; ``writer``, ``seq``, ``prev_hash`` and ``hash`` place
    it in its writer's hash chain (``index.audit``; empty on rows older than the chain)."""
    tenant: str
    at: datetime
    event_id: str
    actor: str
    roles: list[str]
    action: str
    recording_id: str
    remote: str
    detail: str
    writer: str = ""
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""


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
    rows = store.query("SELECT tenant, at, event_id, actor, roles, action, recording_id, remote, detail, writer, seq, "
                       f"prev_hash, hash FROM hibiki.recording_audit FINAL WHERE tenant = %(tenant)s{where} "
                       "ORDER BY at, writer, seq, event_id LIMIT %(limit)s", params)
    return [AuditEntry(*row) for row in rows]
