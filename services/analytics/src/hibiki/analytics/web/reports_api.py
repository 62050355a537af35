"""Reports (CC-08, CC-10), the daily report and per-user call history (PBX-14) over HTTP.

    GET  /api/v1/tenants/{tenant}/reports/calls[.csv|.xlsx]  ?from&to&by&queue&agent&did&disposition
    GET  /api/v1/tenants/{tenant}/reports/sla                 the tenant's SLA targets
    PUT  /api/v1/tenants/{tenant}/reports/sla                 change them (admin)
    GET  /api/v1/tenants/{tenant}/reports/daily?date=         the daily report (kept ones as kept)
    GET  /api/v1/tenants/{tenant}/reports/daily/days          the days with a kept daily report
    GET  /api/v1/tenants/{tenant}/calls/history[.csv]         ?user&kind&from&to&limit&offset

Reports are for the tenant's supervisors and admins (``web.access``); a user reads their own call
history. Handlers parse, ask the store off the event loop and serialise; the figures come from
``reports.measures`` so the JSON, the CSV and the xlsx cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.analytics.daily_job import build_daily, targets_of
from hibiki.analytics.reports.measures import COLUMNS, ReportRow, row, total
from hibiki.analytics.reports.query import (
    TOKYO, InvalidParameter, ReportQuery, build, check_choice, check_id, parse_day, parse_period,
)
from hibiki.analytics.reports.sla import SlaTargets
from hibiki.analytics.storage import report_sql
from hibiki.analytics.storage.report_store import ReportStore
from hibiki.analytics.storage.report_sql import HISTORY_COLUMNS, Queryable
from hibiki.analytics.web import exports, messages, schemas
from hibiki.analytics.web.access import history_user
from hibiki.analytics.web.common import blocking, claims_of, guarded, only, params_of
from hibiki.common.http import error_response
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.common.digits import ascii_digits

READ = errors(400, 403, 503)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_SLA_BODY = 16 * 1024


class ReportsApi:
    def __init__(self, store: Queryable, kept: ReportStore, now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._store, self._kept, self._now = store, kept, now

    # --- reports -----------------------------------------------------------------------------

    async def _report(self, request: Request) -> tuple[dict[str, str], ReportQuery, list[ReportRow], ReportRow,
                                                        SlaTargets]:
        tenant = request.path_params["tenant"]
        params = params_of(request)
        query = build(tenant, params)
        targets = await blocking(targets_of, self._kept, tenant)
        sums = await blocking(report_sql.report_sums, self._store, query, targets.answer_seconds,
                              targets.unresolved_dispositions)
        rows = [row(key, s, targets) for key, s in sums]
        return params, query, rows, row("total", total([s for _, s in sums]), targets), targets

    async def report(self, request: Request) -> Response:
        _, query, rows, all_rows, targets = await self._report(request)
        return JSONResponse({"tenant": query.tenant, "from": query.period.first.isoformat(),
                             "to": query.period.last.isoformat(), "by": query.by, "targets": targets.as_dict(),
                             "rows": [r.as_dict() for r in rows], "total": all_rows.as_dict()})

    def _table(self, rows: list[ReportRow], all_rows: ReportRow, lang: str) -> list[list[Any]]:
        """The groups, then the total (only the total when grouped by nothing)."""
        table = []
        for r in [*(rows if any(r.key != "total" for r in rows) else []), all_rows]:
            d = r.as_dict()
            d["breaches"] = " ".join(messages.value(b, lang) for b in r.breaches)
            if r is all_rows:
                d["key"] = messages.value("total", lang)
            table.append([d[c] for c in COLUMNS])
        return table

    async def report_csv(self, request: Request) -> Response:
        params, _, rows, all_rows, _ = await self._report(request)
        lang, encoding = messages.lang_of(params.get("lang")), exports.encoding_of(params.get("encoding"))
        body = exports.to_csv(messages.header(COLUMNS, lang), self._table(rows, all_rows, lang), encoding)
        return _download(body, f"text/csv; charset={encoding}", _filename(request, params, "csv"))

    async def report_xlsx(self, request: Request) -> Response:
        params, _, rows, all_rows, _ = await self._report(request)
        lang = messages.lang_of(params.get("lang"))
        shares = [COLUMNS.index(c) for c in ("abandon_rate", "service_level", "fcr_rate")]
        body = exports.to_xlsx("report", messages.header(COLUMNS, lang), self._table(rows, all_rows, lang), shares)
        return _download(body, XLSX, _filename(request, params, "xlsx"))

    # --- SLA targets ---------------------------------------------------------------------------

    async def sla(self, request: Request) -> Response:
        targets = await blocking(targets_of, self._kept, request.path_params["tenant"])
        return JSONResponse(targets.as_dict())

    async def put_sla(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_SLA_BODY:
            return error_response(413, "too-large", f"the body may have at most {MAX_SLA_BODY} bytes", field="body")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidParameter("body", "the body is not JSON", "invalid-json") from None
        if not isinstance(data, dict):
            raise InvalidParameter("body", "the body must be a JSON object", "invalid-json")
        targets = SlaTargets.from_dict(data)
        await blocking(self._kept.save_sla, request.path_params["tenant"], targets.as_dict())
        return JSONResponse(targets.as_dict())

    # --- daily report --------------------------------------------------------------------------

    async def daily(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        params = only(params_of(request), {"date"})
        now = self._now()
        day = parse_day(params["date"], "date") if params.get("date") else now.astimezone(TOKYO).date()
        if day > now.astimezone(TOKYO).date():
            raise InvalidParameter("date", "the day has not begun")
        kept = await blocking(self._kept.daily, tenant, day)
        if kept is not None:
            return JSONResponse(kept)
        _, end = report_sql.day_bounds(day)
        report = await blocking(build_daily, self._store, self._kept, tenant, day, now, keep=now >= end)
        return JSONResponse(report)

    async def daily_days(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        only(params_of(request), set())
        return JSONResponse({"tenant": tenant, "days": await blocking(self._kept.daily_days, tenant)})

    # --- call history --------------------------------------------------------------------------

    async def _history(self, request: Request) -> tuple[dict[str, str], str | None, list[dict[str, Any]]] | Response:
        tenant = request.path_params["tenant"]
        params = only(params_of(request), {"user", "kind", "from", "to", "limit", "offset", "lang", "encoding",
                                              "number"})
        user, refusal = history_user(claims_of(request), tenant, check_id(params.get("user"), "user"))
        if refusal is not None:
            return error_response(403, "forbidden", refusal)
        kind = check_choice(params, "kind", ("incoming", "outgoing", "missed"))
        number = params.get("number") or None
        if number is not None and not (len(number) <= 32 and ascii_digits(number.lstrip("+"))):
            raise InvalidParameter("number", "number must be digits (a leading + allowed), at most 32")
        check_choice(params, "lang", ("ja", "en"))
        check_choice(params, "encoding", ("utf-8", "shift_jis"))
        today = self._now().astimezone(TOKYO).date()
        period = parse_period(params.get("from") or (today - timedelta(days=30)).isoformat(),
                              params.get("to") or today.isoformat())
        limit, offset = _int(params, "limit", 100, 1, 1000), _int(params, "offset", 0, 0, 1_000_000)
        rows = await blocking(report_sql.history, self._store, tenant, period.start_utc, period.end_utc, user, kind,
                              limit, offset, number)
        calls = [dict(zip(HISTORY_COLUMNS, r, strict=True)) for r in rows]
        return params, user, calls

    async def history(self, request: Request) -> Response:
        got = await self._history(request)
        if isinstance(got, Response):
            return got
        _, user, calls = got
        for c in calls:
            for name in ("start_time", "answer_time", "end_time"):
                c[name] = c[name].astimezone(UTC).isoformat() if c[name] is not None else None
        return JSONResponse({"tenant": request.path_params["tenant"], "user": user, "calls": calls})

    async def history_csv(self, request: Request) -> Response:
        got = await self._history(request)
        if isinstance(got, Response):
            return got
        params, _, calls = got
        lang, encoding = messages.lang_of(params.get("lang")), exports.encoding_of(params.get("encoding"))
        table = [[messages.value(c[k], lang) if k == "kind" else c[k] for k in HISTORY_COLUMNS] for c in calls]
        body = exports.to_csv(messages.header(HISTORY_COLUMNS, lang), table, encoding)
        return _download(body, f"text/csv; charset={encoding}", "call-history.csv")

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}", ["reports"]
        summary = ("Offered, answered, abandoned, service level, ASA, AHT, ATT, hold, transfers, FCR per group, "
                   "with the tenant's SLA breaches marked")
        return [
            ApiRoute(f"{base}/reports/calls", guarded(self.report), "GET", Operation(
                summary, response=schemas.ReportModel, query=schemas.ReportParams, errors=READ, tags=tags)),
            ApiRoute(f"{base}/reports/calls.csv", guarded(self.report_csv), "GET", Operation(
                "The report as CSV (UTF-8 with BOM or Shift_JIS; the last row is the total)", media="text/csv",
                query=schemas.ReportParams, errors=READ, tags=tags)),
            ApiRoute(f"{base}/reports/calls.xlsx", guarded(self.report_xlsx), "GET", Operation(
                "The report as an Excel workbook (the last row is the total)", media=XLSX,
                query=schemas.ReportParams, errors=READ, tags=tags)),
            ApiRoute(f"{base}/reports/sla", guarded(self.sla), "GET", Operation(
                "The tenant's SLA targets (defaults: Toshima's)", response=schemas.SlaModel, errors=READ, tags=tags)),
            ApiRoute(f"{base}/reports/sla", guarded(self.put_sla, write=True), "PUT", Operation(
                "Set the tenant's SLA targets (admin); omitted fields take the defaults", response=schemas.SlaModel,
                body=schemas.SlaModel, errors=errors(400, 403, 413, 503), tags=tags)),
            ApiRoute(f"{base}/reports/daily", guarded(self.daily), "GET", Operation(
                "The daily report (counts per channel, peak agents, SLA): kept ones as generated",
                response=schemas.DailyModel, query=schemas.DailyParams, errors=READ, tags=tags)),
            ApiRoute(f"{base}/reports/daily/days", guarded(self.daily_days), "GET", Operation(
                "The days with a kept daily report, newest first", response=schemas.DailyList, errors=READ,
                tags=tags)),
            ApiRoute(f"{base}/calls/history", guarded(self.history, check_role=False), "GET", Operation(
                "Call history (incoming, outgoing, missed), newest first: a user's own, or anyone's for "
                "supervisors and admins", response=schemas.HistoryModel, query=schemas.HistoryParams,
                errors=READ, tags=["call history"])),
            ApiRoute(f"{base}/calls/history.csv", guarded(self.history_csv, check_role=False), "GET", Operation(
                "Call history as CSV", media="text/csv", query=schemas.HistoryParams, errors=READ,
                tags=["call history"])),
        ]


def _int(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not ascii_digits(text) or not low <= int(text) <= high:
        raise InvalidParameter(name, f"{name} must be a whole number {low}-{high}")
    return int(text)


def _filename(request: Request, params: dict[str, str], ext: str) -> str:
    return f"report-{request.path_params['tenant']}-{params.get('from', '')}-{params.get('by', 'total')}.{ext}"


def _download(body: bytes, media: str, filename: str) -> Response:
    safe = "".join(c for c in filename if c.isalnum() or c in "-_.")
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{safe}"'})
