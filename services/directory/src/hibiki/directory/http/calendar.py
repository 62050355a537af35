"""A schedule as a calendar (the console's schedule page): what each date is.

``GET /api/v1/tenants/{tenant}/schedules/{id}/calendar?from=YYYY-MM-DD&days=N`` (read role):
for each local date from ``from`` (default: today in the schedule's time zone) for ``days``
(1-62, default 42) the branch (``open``, ``holiday``, ``new_year``, ``season:<name>``,
``special_day``), why, and the opening hours; and the manual override in force, if any (it
decides every moment while it is active)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.errors import ConfigStoreError
from hibiki.directory.http.admin import guarded
from hibiki.directory.schedules import Schedule
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.directory.storage.tables import schedules
from hibiki.common.digits import ascii_digits

MAX_DAYS = 62


class CalendarQuery(BaseModel):
    from_: str | None = Field(default=None, alias="from", description="first date, YYYY-MM-DD (default: today)")
    days: int = Field(default=42, ge=1, le=MAX_DAYS)


class Hours(BaseModel):
    start: str
    end: str


class CalendarDay(BaseModel):
    date: str
    branch: str = Field(description="open, holiday, new_year, season:<name>, special_day")
    reason: str
    open: bool = Field(description="open at some time of the day (override aside)")
    hours: list[Hours]


class CalendarOut(BaseModel):
    schedule: str
    timezone: str
    override: dict[str, Any] | None = Field(description="mode, until, reason of the manual override; null: none")
    override_active: bool = Field(description="the override decides now")
    days: list[CalendarDay]


def _query(request: Request) -> tuple[date | None, int]:
    params = request.query_params
    for name in params:
        if name not in ("from", "days"):
            raise ConfigStoreError("unknown-parameter", f"unknown parameter {name[:40]!r}", name[:40])
    raw_days = params.get("days", "42")
    if not (ascii_digits(raw_days)) or not 1 <= int(raw_days) <= MAX_DAYS:
        raise ConfigStoreError("invalid-days", f"days is a whole number from 1 to {MAX_DAYS}", "days")
    raw_from = params.get("from")
    if raw_from is None or raw_from == "":
        return None, int(raw_days)
    try:
        first = date.fromisoformat(raw_from)
    except ValueError:
        raise ConfigStoreError("invalid-from", "from is a date, YYYY-MM-DD", "from") from None
    if first.year < 1900 or first.year > 2999:
        raise ConfigStoreError("invalid-from", "from must lie between 1900 and 2999", "from")
    return first, int(raw_days)


def calendar(schedule_id: str, schedule: Schedule, first: date | None, days: int, now: datetime) -> dict[str, Any]:
    if first is None:
        from zoneinfo import ZoneInfo
        first = now.astimezone(ZoneInfo(schedule.timezone)).date()
    o = schedule.override
    return {"schedule": schedule_id, "timezone": schedule.timezone,
            "override": schedule.to_dict()["override"], "override_active": bool(o and o.active(now)),
            "days": [schedule.day_plan(first + timedelta(days=i)) for i in range(days)]}


class CalendarApi:
    def __init__(self, repository: ConfigRepository) -> None:
        self.repo = repository

    async def get(self, request: Request) -> Response:
        p = request.path_params
        first, days = _query(request)
        row = await asyncio.to_thread(self.repo.get, schedules, p["tenant"], p["id"])
        return JSONResponse(calendar(row["id"], Schedule.from_dict(row["definition"]), first, days, datetime.now(UTC)))

    def routes(self) -> list[ApiRoute]:
        return [ApiRoute("/api/v1/tenants/{tenant}/schedules/{id}/calendar", guarded(False, self.get), "GET", Operation(
            "A schedule as a calendar: each date's branch, reason and hours, and the override in force",
            response=CalendarOut, query=CalendarQuery, errors=errors(400, 403, 404, 503), tags=["schedules"]))]
