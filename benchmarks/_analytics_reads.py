"""Reading the store as the service does: each report's latency and the wallboard's refresh cost.

Reports: the ``reports`` work's own SQL (``storage/report_sql.py``) through the analytics Store, for
one tenant over the whole three years: the SLA report grouped by each of its groupings, filtered by
a queue, the per-user call history, one day's agent intervals (the daily report) and the 30-minute
history the forecast reads. Wallboard: the ``wallboard`` work's board restored from the stored raw
events of the busiest recent day (``restore`` with ``StoredEvents``; the ACD's part from its
configuration), then its snapshot (what each SSE push serialises) timed, per tenant and per queue.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from functools import partial
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from benchmarks._analytics_rows import AGENT_QUEUES
from benchmarks._callcenter import DAYS, START, TOKYO


class Checks(Protocol):
    def check(self, name: str, value: float | None, target: str, ok: bool | None) -> None: ...


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _best_cpu(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time and the CPU time (every thread of this process: chdb runs in it) of that run."""
    best, cpu, result = float("inf"), 0.0, None
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    return best, cpu, result


def reports(store: Any, tenant: str, label: str, target_s: float, repeat: int, checks: Checks) -> None:
    from hibiki.analytics.reports.query import GROUPINGS, Period, ReportQuery
    from hibiki.analytics.storage import report_sql

    first, last = START, START + timedelta(days=DAYS - 1)
    period = Period(first, last)
    start_utc, end_utc = period.start_utc, period.end_utc
    day_start, day_end = report_sql.day_bounds(last)
    agent = f"{tenant}-op01"
    runs: list[tuple[str, Callable[[], Any]]] = [
        (f"report by {by}", partial(report_sql.report_sums, store, ReportQuery(tenant, period, by), 15, ()))
        for by in GROUPINGS]
    runs += [
        ("report by day, queue=general", lambda: report_sql.report_sums(
            store, ReportQuery(tenant, period, "day", queue="general"), 15, ())),
        (f"call history of {agent} (newest 100)",
         lambda: report_sql.history(store, tenant, start_utc, end_utc, agent, None, 100, 0)),
        ("call history, every user's missed (newest 100)",
         lambda: report_sql.history(store, tenant, start_utc, end_utc, None, "missed", 100, 0)),
        ("daily report: one day's agent intervals",
         lambda: report_sql.agent_intervals(store, tenant, day_start, day_end)),
        ("forecast history: offered per 30 min, 3 years",
         lambda: report_sql.interval_counts(store, tenant, start_utc, end_utc, None)),
    ]
    print(f"reports, {label} ({first} .. {last}, best of {repeat}):")
    worst: tuple[str, float] = ("", 0.0)
    failed = []
    for name, run in runs:
        try:
            seconds, cpu, result = _best_cpu(run, repeat)
        except Exception as exc:  # a report that fails is a finding, not the end of the run
            failed.append(name)
            print(f"  {name:<50} FAILED: {str(exc).splitlines()[0][:160]}")
            continue
        print(f"  {name:<50} {seconds * 1000:8.1f} ms  (CPU {cpu * 1000:7.1f} ms, {len(result):,} rows)")
        if seconds > worst[1]:
            worst = (name, seconds)
    checks.check(f"reports, {label}: slowest ({worst[0]})", worst[1],
                 f"{worst[1] * 1000:.0f} ms (< {target_s:g} s)", worst[1] < target_s and not failed)
    if failed:
        checks.check(f"reports, {label}: {len(failed)} failed ({', '.join(failed)})", 0.0, "none fails", False)


class _AcdConfig:
    """The ACD's part of a restore: the center's queues (15 s threshold) and agents, no live state."""

    def __init__(self, tenant: str, agents: int) -> None:
        self.tenant, self.agents = tenant, agents

    async def load(self, tenant: str, present: bool = True) -> Any:
        from hibiki.analytics.wallboard.restore import AcdView

        return AcdView(thresholds={q: 15.0 for q in AGENT_QUEUES},
                       agents={f"{tenant}-op{n:02d}": tuple(AGENT_QUEUES) for n in range(1, self.agents + 1)})


def last_day(store: Any, tenant: str) -> date | None:
    """The last day the pipeline stored events of (its own, not the copies made back in time)."""
    rows = store.query("SELECT max(toDate(toTimeZone(occurred_at, 'Asia/Tokyo'))) FROM hibiki.events "
                       "WHERE tenant = %(tenant)s AND kind = 'acd.queued' AND NOT position(event_id, '~')",
                       {"tenant": tenant})
    return date.fromisoformat(str(rows[0][0])) if rows and rows[0][0] else None


def peak_events_per_s(store: Any, tenant: str, day: date) -> float:
    rows = store.query("SELECT count() AS n FROM hibiki.events WHERE tenant = %(tenant)s AND kind IN %(kinds)s "
                       "AND toDate(toTimeZone(occurred_at, 'Asia/Tokyo')) = %(day)s AND NOT position(event_id, '~') "
                       "GROUP BY toHour(toTimeZone(occurred_at, 'Asia/Tokyo')) ORDER BY n DESC LIMIT 1",
                       {"tenant": tenant, "kinds": BOARD_KINDS, "day": day})
    return int(rows[0][0]) / 3600 if rows else 0.0


async def _restore(board: Any, tenant: str, acd: _AcdConfig, history: Any, now: float) -> None:
    """What the wallboard hub does for a tenant on start: its stored day, then the ACD's view."""
    from hibiki.analytics.wallboard.restore import apply_acd, restore_history

    await restore_history(board, tenant, history, now)
    apply_acd(board, await acd.load(tenant))


BOARD_KINDS = ("acd.queued", "acd.answered", "acd.left", "acd.overflowed", "acd.ended", "agent.state_changed")
WATCHERS = 3  # pages open per tenant: the wall screen and two supervisors


def wallboard(store: Any, tenant: str, label: str, repeat: int, checks: Checks, tenants: int = 100) -> None:
    from hibiki.analytics.wallboard import model as m
    from hibiki.analytics.wallboard.hub import snapshot
    from hibiki.analytics.wallboard.restore import StoredEvents

    day = last_day(store, tenant)
    if day is None:
        print(f"wallboard, {label}: no stored events to restore a board from")
        checks.check(f"wallboard, {label}", None, "", None)
        return
    now = datetime(day.year, day.month, day.day, 19, 0, tzinfo=TOKYO).timestamp()
    history = StoredEvents(store)
    restore_s: list[float] = []
    board = m.Board(tenant)
    for _ in range(max(1, repeat)):
        board = m.Board(tenant)
        t0 = time.perf_counter()
        asyncio.run(_restore(board, tenant, _AcdConfig(tenant, 30), history, now))
        restore_s.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    rows = history.events_since(tenant, board.day_start(now))
    query_s = time.perf_counter() - t0
    n = 200
    t0 = time.process_time()
    for _ in range(n):
        snapshot(board, now)
    per_tenant = (time.process_time() - t0) / n
    t0 = time.process_time()
    for _ in range(n):
        snapshot(board, now, "general")
    per_queue = (time.process_time() - t0) / n
    figures = snapshot(board, now)["calls"]
    rate = peak_events_per_s(store, tenant, day)
    pushes = min(4.0, rate)  # one push per change, at most one per push_interval (0.25 s)
    share = per_tenant * pushes * WATCHERS * tenants
    worst = per_tenant * 4 * WATCHERS * tenants
    print(f"wallboard, {label}: {tenant} on {day}, the last day stored, at 19:00 Tokyo (closing): "
          f"{figures['offered']:,} offered, {figures['answered']:,} answered, {figures['abandoned']:,} abandoned")
    print(f"  restore (the day's {len(rows):,} ACD/agent events from hibiki.events + replay): best "
          f"{min(restore_s) * 1000:.0f} ms, median {statistics.median(restore_s) * 1000:.0f} ms "
          f"(the query alone {query_s * 1000:.0f} ms)")
    print(f"  refresh (snapshot of the board, CPU): {per_tenant * 1000:.2f} ms per tenant board, "
          f"{per_queue * 1000:.2f} ms per queue board; the peak hour brings {rate:.2f} board events/s, so "
          f"{tenants} tenants x {WATCHERS} pages x {pushes:.2f} pushes/s = {share:.1%} of a core "
          f"({worst:.0%} if every page were pushed 4x a second)")
    checks.check(f"wallboard, {label}: restore < 2 s", min(restore_s), f"{min(restore_s) * 1000:.0f} ms (< 2 s)",
                 min(restore_s) < 2.0)
    checks.check(f"wallboard, {label}: {tenants} tenants' refreshes at peak < 1 core", share,
                 f"{share:.1%} (< 100 %)", share < 1.0)
