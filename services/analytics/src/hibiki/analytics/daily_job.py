"""Generating the daily report of every tenant at a set time (Asia/Tokyo) and keeping it.

``HIBIKI_ANALYTICS_DAILY_REPORT_AT`` (``HH:MM``, default ``23:50``) is when the day's report is
generated, as of that moment, for every tenant that had calls that day; it is kept in ClickHouse
(``storage.report_store``: every replica generates it, one row per tenant and day remains). A past day asked for through the API
that was never generated (the service was down at that time) is generated then, whole, and kept.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hibiki.analytics.reports.daily import daily_report, peak_agents
from hibiki.analytics.reports.measures import row, total
from hibiki.analytics.reports.query import TOKYO, Period, ReportQuery
from hibiki.analytics.reports.sla import SlaTargets
from hibiki.analytics.storage import report_sql
from hibiki.analytics.storage.report_store import ReportStore
from hibiki.analytics.storage.report_sql import Queryable
from hibiki.common.logging import get_logger

log = get_logger("hibiki.analytics.daily")


def targets_of(kept: ReportStore, tenant: str) -> SlaTargets:
    saved = kept.sla(tenant)
    if saved is None:
        return SlaTargets()
    try:
        return SlaTargets.from_dict(saved)
    except ValueError:
        log.error("sla_targets_unreadable", tenant=tenant)
        return SlaTargets()


def build_daily(store: Queryable, kept: ReportStore, tenant: str, day: date, now: datetime,
                keep: bool) -> dict[str, Any]:
    """The report of ``day`` as of ``now`` (blocking), kept when ``keep``. ``final`` says whether
    the day was over in Tokyo when it was made (the set time may be before midnight)."""
    targets = targets_of(kept, tenant)
    sums = report_sql.report_sums(store, ReportQuery(tenant, Period(day, day)), targets.answer_seconds,
                                  targets.unresolved_dispositions)
    all_day = row("total", total([s for _, s in sums]), targets)
    start, end = report_sql.day_bounds(day)
    intervals = [(str(a), str(s), b, e) for a, s, b, e in report_sql.agent_intervals(store, tenant, start, end)]
    final = now >= end
    by = {name: [row(k, v, targets) for k, v in report_sql.report_sums(
        store, ReportQuery(tenant, Period(day, day), name), targets.answer_seconds, targets.unresolved_dispositions)]
        for name in ("did", "disposition")}
    report = daily_report(tenant, day.isoformat(), all_day, peak_agents(intervals, start, min(end, now)), now, final,
                          by["did"], by["disposition"])
    if keep:
        kept.save_daily(tenant, day, report)
    return report


class DailyReports:
    """A component of the service: sleeps until the set time each day, then generates."""

    def __init__(self, store: Queryable, kept: ReportStore, at: time) -> None:
        self._store, self._kept, self._at = store, kept, at
        self._task: asyncio.Task[None] | None = None

    def next_run(self, now: datetime) -> datetime:
        local = now.astimezone(TOKYO)
        run = datetime.combine(local.date(), self._at, TOKYO)
        if run <= local:
            run += timedelta(days=1)
        return run.astimezone(UTC)

    def run_once(self, day: date) -> list[str]:
        """Generate and keep ``day``'s report for every tenant with calls that day (blocking)."""
        start, end = report_sql.day_bounds(day)
        done = []
        for tenant in report_sql.tenants_with_calls(self._store, start, end):
            try:
                build_daily(self._store, self._kept, tenant, day, datetime.now(UTC), keep=True)
                done.append(tenant)
            except Exception as exc:           # one tenant's failure does not stop the others
                log.error("daily_report_failed", tenant=tenant, day=day.isoformat(), error=str(exc))
        log.info("daily_reports_generated", day=day.isoformat(), tenants=len(done))
        return done

    async def _loop(self) -> None:
        while True:
            now = datetime.now(UTC)
            run = self.next_run(now)
            await asyncio.sleep((run - now).total_seconds())
            await asyncio.to_thread(self.run_once, run.astimezone(TOKYO).date())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
