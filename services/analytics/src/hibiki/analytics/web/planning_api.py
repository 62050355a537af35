"""Workforce planning over HTTP (CC-09): the Erlang C what-if and the forecast staffing plan.

    GET /api/v1/tenants/{tenant}/planning/erlang-c   ?calls&aht_seconds&interval_minutes&target_seconds
                                                     &service_level&shrinkage&max_occupancy&agents
    GET /api/v1/tenants/{tenant}/planning/forecast   ?date&weeks&aht_seconds&target_seconds&service_level
                                                     &shrinkage&max_occupancy&queue

For the tenant's supervisors and admins. Numbers are checked by the domain (``planning.erlang``):
a bad one is 400 with its field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.analytics.daily_job import targets_of
from hibiki.analytics.planning.erlang import Interval, agents_needed, evaluate
from hibiki.analytics.planning.forecast import bucket, forecast_day
from hibiki.analytics.planning.plan import Targets, peak, staffing_plan
from hibiki.analytics.reports.measures import row, total
from hibiki.analytics.reports.query import TOKYO, InvalidParameter, Period, ReportQuery, check_id, parse_day
from hibiki.analytics.storage import report_sql
from hibiki.analytics.storage.report_store import ReportStore
from hibiki.analytics.storage.report_sql import Queryable
from hibiki.analytics.web import schemas
from hibiki.analytics.web.common import blocking, guarded, only, params_of
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.common.digits import ascii_digits

TABLE_ROWS = 12


def _number(params: dict[str, str], name: str, default: float | None = None) -> float:
    text = params.get(name)
    if text is None:
        if default is None:
            raise InvalidParameter(name, f"{name} is required", "missing-parameter")
        return default
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameter(name, f"{name} must be a number") from None
    if not math.isfinite(value) or len(text) > 32:
        raise InvalidParameter(name, f"{name} must be a finite number")
    return value


def _whole(params: dict[str, str], name: str, default: int | None, low: int, high: int) -> int | None:
    text = params.get(name)
    if text is None:
        return default
    if not ascii_digits(text) or not low <= int(text) <= high:
        raise InvalidParameter(name, f"{name} must be a whole number {low}-{high}")
    return int(text)


class PlanningApi:
    def __init__(self, store: Queryable, kept: ReportStore, now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._store, self._kept, self._now = store, kept, now

    async def erlang_c(self, request: Request) -> Response:
        p = params_of(request)
        only(p, {"calls", "aht_seconds", "interval_minutes", "target_seconds", "service_level", "shrinkage",
                  "max_occupancy", "agents"})
        calls, aht = _number(p, "calls"), _number(p, "aht_seconds")
        minutes = _whole(p, "interval_minutes", 30, 1, 1440) or 30
        target_t, level = _number(p, "target_seconds", 15), _number(p, "service_level", 0.8)
        shrink, cap = _number(p, "shrinkage", 0.0), _number(p, "max_occupancy", 1.0)
        asked = _whole(p, "agents", None, 0, 100_000)
        if calls > 10_000_000:
            raise InvalidParameter("calls", "calls must be at most 10,000,000 per interval")
        needed = agents_needed(calls, aht, level, target_t, minutes * 60, shrink, cap)
        first = max(0, math.floor(needed.traffic) + 1 if needed.traffic else 0)
        table = [evaluate(calls, aht, n, target_t, minutes * 60, shrink)
                 for n in range(first, max(first, needed.agents) + 4)][-TABLE_ROWS:]
        return JSONResponse({
            "needed": needed.as_dict(), "table": [t.as_dict() for t in table],
            "asked": evaluate(calls, aht, asked, target_t, minutes * 60, shrink).as_dict() if asked is not None
            else None})

    async def forecast(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        p = params_of(request)
        only(p, {"date", "weeks", "aht_seconds", "target_seconds", "service_level", "shrinkage", "max_occupancy",
                  "queue"})
        day = parse_day(p.get("date"), "date")
        weeks = _whole(p, "weeks", 8, 1, 156) or 8
        queue = check_id(p.get("queue"), "queue")
        history_last = min(day - timedelta(days=1), self._now().astimezone(TOKYO).date())
        history_first = history_last - timedelta(days=weeks * 7 - 1)
        period = Period(history_first, history_last)
        counts = await blocking(report_sql.interval_counts, self._store, tenant, period.start_utc, period.end_utc,
                                queue)
        aht = _number(p, "aht_seconds", 0.0)
        if not aht:
            t = await blocking(targets_of, self._kept, tenant)
            sums = await blocking(report_sql.report_sums, self._store, ReportQuery(tenant, period, queue=queue),
                                  t.answer_seconds, t.unresolved_dispositions)
            aht = row("total", total([s for _, s in sums]), t).aht_seconds or 180.0
        guess = forecast_day(day, bucket(counts), history_first, history_last, depth=weeks)
        plan = staffing_plan(guess, Targets(aht, _number(p, "service_level", 0.8), _number(p, "target_seconds", 15),
                                            _number(p, "shrinkage", 0.0), _number(p, "max_occupancy", 1.0)))
        return JSONResponse({
            "tenant": tenant, "date": day.isoformat(), "day_type": guess.day_type,
            "based_on": [d.isoformat() for d in guess.based_on], "aht_seconds": aht,
            "total_calls": round(guess.total, 3), "peak_scheduled": peak(plan),
            "plan": [_plan_row(r.slot, r.start, r.interval) for r in plan]})

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}/planning", ["planning"]
        return [
            ApiRoute(f"{base}/erlang-c", guarded(self.erlang_c), "GET", Operation(
                "Erlang C what-if: agents needed for the service-level target, with P(wait), service level, "
                "ASA, occupancy and the rostered agents after shrinkage", response=schemas.ErlangModel,
                query=schemas.ErlangParams, errors=errors(400, 403), tags=tags)),
            ApiRoute(f"{base}/forecast", guarded(self.forecast), "GET", Operation(
                "Calls per 30 minutes forecast for a day (by weekday or Japanese holiday) and the agents "
                "each interval needs", response=schemas.ForecastModel, query=schemas.ForecastParams,
                errors=errors(400, 403, 503), tags=tags)),
        ]


def _plan_row(slot: int, start: str, i: Interval) -> dict[str, object]:
    return {"slot": slot, "start": start, "calls": round(i.calls, 3), "agents": i.agents, "scheduled": i.scheduled,
            "service_level": i.service_level, "asa_seconds": None if math.isinf(i.asa_seconds) else i.asa_seconds,
            "occupancy": i.occupancy}
