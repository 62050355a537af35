"""The report, history and daily queries on ``hibiki.calls``, ``legs`` and ``agent_states``.

Every value a client sent is a ``%(name)s`` parameter bound by the store (``Store.query``), never
text in the SQL; the only text chosen from a request is the grouping expression, picked from the
fixed table ``_KEYS`` by a name the domain checked. Rows are read ``FINAL`` (the newest version
of each call) and test calls (``test_mode = 1``) are left out of every figure. Groups by time are
Asia/Tokyo. The SQL needs ClickHouse >= 23.8 or chdb (``toStartOfInterval``, DateTime64).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from hibiki.analytics.reports.measures import SUMS
from hibiki.analytics.reports.query import Period, ReportQuery

Row = tuple[Any, ...]


class Queryable(Protocol):
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...


_LOCAL = "toDateTime(start_time, 'Asia/Tokyo')"       # whole seconds suffice for every grouping
# grouping -> (what rows are grouped by, how a group's value is written): grouped by the value and
# formatted once per group, not once per row (a 3-year report by 30 minutes has 52,000 groups).
_KEYS = {
    "total": ("1", "'total'"),
    "interval": (f"toStartOfInterval({_LOCAL}, INTERVAL 30 MINUTE)", "formatDateTime(g, '%%Y-%%m-%%d %%H:%%i')"),
    "hour": (f"toStartOfHour({_LOCAL})", "formatDateTime(g, '%%Y-%%m-%%d %%H:00')"),
    "day": (f"toDate({_LOCAL})", "toString(g)"),
    "dow": (f"toDayOfWeek({_LOCAL})", "toString(g)"),            # 1 = Monday ... 7 = Sunday
    "month": (f"toStartOfMonth({_LOCAL})", "formatDateTime(g, '%%Y-%%m')"),
    "queue": ("queue_id", "toString(g)"),
    "agent": ("agent_id", "toString(g)"),
    "did": ("did", "toString(g)"),
    "disposition": ("disposition", "toString(g)"),
    "transfer_target": ("transfer_target", "toString(g)"),      # Toshima: transfers by the switchboard / to staff
}
# Rows of one call differ only by version and share their partition (the month of start_time, a
# column of the key), so FINAL need not merge across partitions: 3-5 times faster over 3 years.
SETTINGS = "SETTINGS do_not_merge_across_partitions_select_final = 1, output_format_json_quote_64bit_integers = 0"
_QUEUED = "(queue_id != '' OR notEmpty(queues))"
_ANSWERED = "(answer_time IS NOT NULL AND result IN ('answered', 'transferred'))"
# a call its lost FreeSWITCH node took out of the queue (node_lost) is counted apart: not offered,
# not abandoned, out of the service level (README "Reports")
_OFFERED = (f"(result != 'node_lost' AND (notEmpty(ivr_path) OR {_QUEUED} OR answer_time IS NOT NULL "
            "OR result IN ('abandoned_queue', 'abandoned_ivr')))")
_ANSWER_MS = f"if({_QUEUED}, wait_ms, ring_ms)"

_SUMS_SQL = {
    "incoming": "count()",
    "offered": f"countIf({_OFFERED})",
    "answered": f"countIf({_OFFERED} AND {_ANSWERED})",
    "abandoned": "countIf(result IN ('abandoned_queue', 'abandoned_ivr'))",
    "abandoned_queue": "countIf(result = 'abandoned_queue')",
    "abandoned_ivr": "countIf(result = 'abandoned_ivr')",
    "within_target": f"countIf({_OFFERED} AND {_ANSWERED} AND {_ANSWER_MS} <= %(answer_ms)s)",
    "transfers": f"countIf({_ANSWERED} AND result = 'transferred')",
    "overflowed": "countIf(overflowed = 1)",
    "resolved": (f"countIf({_OFFERED} AND {_ANSWERED} AND result != 'transferred' AND disposition != '' "
                 "AND NOT has(%(unresolved)s, toString(disposition)))"),
    "answer_ms": f"sumIf({_ANSWER_MS}, {_OFFERED} AND {_ANSWERED})",
    "talk_ms": f"sumIf(talk_ms, {_OFFERED} AND {_ANSWERED})",
    "acw_ms": f"sumIf(acw_ms, {_OFFERED} AND {_ANSWERED})",
    "hold_ms": f"sumIf(hold_ms, {_OFFERED} AND {_ANSWERED})",
    "node_lost": "countIf(result = 'node_lost')",
}
assert tuple(_SUMS_SQL) == SUMS


def report_sums(store: Queryable, query: ReportQuery, answer_seconds: int,
                unresolved: Sequence[str]) -> list[tuple[str, dict[str, int]]]:
    """(group key, sums) per group, in key order; no row for a group without calls."""
    where, params = _where(query)
    params.update(answer_ms=answer_seconds * 1000, unresolved=list(unresolved))
    sums = ",\n       ".join(f"toUInt64({expr}) AS {name}" for name, expr in _SUMS_SQL.items())
    group, label = _KEYS[query.by]
    sql = (f"SELECT {label} AS k,\n       {sums}\n"
           f"FROM {_DB}.calls FINAL\nWHERE {where}\nGROUP BY {group} AS g\nORDER BY g\n{SETTINGS}")
    return [(str(r[0]), {name: int(v) for name, v in zip(SUMS, r[1:], strict=True)})
            for r in store.query(sql, params)]


_DB = "hibiki"


def _where(query: ReportQuery) -> tuple[str, dict[str, Any]]:
    clauses = ["tenant = %(tenant)s", "test_mode = 0", "direction = 'inbound'",
               "start_time >= %(start)s", "start_time < %(end)s"]
    params: dict[str, Any] = {"tenant": query.tenant, "start": query.period.start_utc, "end": query.period.end_utc}
    for name, column in (("queue", "queue_id"), ("agent", "agent_id"), ("did", "did"),
                         ("disposition", "disposition")):
        value = getattr(query, name)
        if value is not None:
            clauses.append(f"{column} = %({name})s")
            params[name] = value
    return " AND ".join(clauses), params


# --- per-user call history (PBX-14) -------------------------------------------------------------

HISTORY_COLUMNS = ("call_id", "kind", "start_time", "answer_time", "end_time", "talk_seconds", "other_number",
                   "other_name", "user_id", "did")


def history(store: Queryable, tenant: str, start: datetime, end: datetime, user: str | None,
            kind: str | None, limit: int, offset: int, number: str | None = None) -> list[Row]:
    """A user's calls, newest first: ``outgoing`` (their phone made the call), ``incoming``
    (their phone answered), ``missed`` (their phone rang and nobody on it answered). One row
    per call and user however many of their devices rang. ``user`` None: every user's;
    ``number``: only the calls with that number at the other end (the desktop's screen pop)."""
    params: dict[str, Any] = {"tenant": tenant, "start": start, "end": end, "limit": limit, "offset": offset}
    user_clause = ""
    if user is not None:
        user_clause = "AND user_id = %(user)s"
        params["user"] = user
    if number is not None:
        user_clause += " AND if(leg = 'a', callee_number, caller_number) = %(number)s"
        params["number"] = number
    kind_clause = leg_clause = ""
    if kind is not None:
        kind_clause = "WHERE kind = %(kind)s"
        leg_clause = "AND leg = 'a'" if kind == "outgoing" else "AND leg = 'b'"     # half the legs to group
        params["kind"] = kind
    sql = f"""
SELECT call_id, kind, began, answered, ended, talk_seconds, other_number, other_name, user_id, the_did
FROM (
    SELECT call_id, user_id,
           if(leg = 'a', 'outgoing', if(countIf(answer_time IS NOT NULL) > 0, 'incoming', 'missed')) AS kind,
           min(start_time) AS began, min(answer_time) AS answered, max(end_time) AS ended,
           intDiv(toUInt64(max(talk_ms)), 1000) AS talk_seconds,
           any(if(leg = 'a', callee_number, caller_number)) AS other_number,
           any(if(leg = 'a', '', caller_name)) AS other_name,
           any(did) AS the_did
    FROM {_DB}.legs FINAL
    WHERE tenant = %(tenant)s AND test_mode = 0 AND user_id != '' {user_clause} {leg_clause}
      AND start_time >= %(start)s AND start_time < %(end)s
    GROUP BY call_id, user_id, leg
)
{kind_clause}
ORDER BY began DESC, call_id
LIMIT %(limit)s OFFSET %(offset)s
{SETTINGS}"""
    return store.query(sql, params)


# --- the daily report ---------------------------------------------------------------------------

def agent_intervals(store: Queryable, tenant: str, start: datetime, end: datetime) -> list[Row]:
    """(agent_id, state, start, end or None) of every interval that overlaps [start, end)."""
    sql = f"""
SELECT agent_id, toString(state), start_time, end_time
FROM {_DB}.agent_states FINAL
WHERE tenant = %(tenant)s AND start_time < %(end)s AND (end_time IS NULL OR end_time > %(start)s)
ORDER BY agent_id, start_time
{SETTINGS}"""
    return store.query(sql, {"tenant": tenant, "start": start, "end": end})


def tenants_with_calls(store: Queryable, start: datetime, end: datetime) -> list[str]:
    sql = f"SELECT DISTINCT toString(tenant) FROM {_DB}.calls WHERE start_time >= %(start)s AND start_time < %(end)s"
    return sorted(str(r[0]) for r in store.query(sql, {"start": start, "end": end}))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    period = Period(day, day)
    return period.start_utc, period.end_utc


# --- history for the forecast (CC-09) -----------------------------------------------------------

def interval_counts(store: Queryable, tenant: str, start: datetime, end: datetime,
                    queue: str | None) -> list[tuple[date, int, int]]:
    """(Tokyo day, 30-minute slot 0-47, offered calls) with at least one call."""
    params: dict[str, Any] = {"tenant": tenant, "start": start, "end": end}
    queue_clause = ""
    if queue is not None:
        queue_clause = "AND queue_id = %(queue)s"
        params["queue"] = queue
    sql = f"""
SELECT toString(toDate({_LOCAL})) AS d, toHour({_LOCAL}) * 2 + intDiv(toMinute({_LOCAL}), 30) AS slot,
       toUInt64(countIf({_OFFERED})) AS n
FROM {_DB}.calls FINAL
WHERE tenant = %(tenant)s AND test_mode = 0 AND direction = 'inbound'
  AND start_time >= %(start)s AND start_time < %(end)s {queue_clause}
GROUP BY d, slot
ORDER BY d, slot
{SETTINGS}"""
    return [(date.fromisoformat(str(r[0])), int(r[1]), int(r[2])) for r in store.query(sql, params)]
