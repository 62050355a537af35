"""The reports, call history and planning routes and pages, for the service's wiring."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from hibiki.analytics.storage.report_store import ReportStore
from hibiki.analytics.storage.report_sql import Queryable
from hibiki.analytics.web import pages
from hibiki.analytics.web.planning_api import PlanningApi
from hibiki.analytics.web.reports_api import ReportsApi
from hibiki.common.openapi import ApiRoute

OPEN_PATHS = pages.PATHS


def routes(store: Queryable, kept: ReportStore, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[ApiRoute]:
    return [*ReportsApi(store, kept, now).routes(), *PlanningApi(store, kept, now).routes(), *pages.routes()]
