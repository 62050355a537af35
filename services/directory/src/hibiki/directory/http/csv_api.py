"""CSV download and upload of users, devices and DIDs (ADM-03), beside the JSON admin API.

    GET  /api/v1/tenants/{tenant}/{resource}.csv[?encoding=shift_jis]     read role
    POST /api/v1/tenants/{tenant}/{resource}/import[?dry_run=true]        write role, body: the file

Thin like the admin API: same ``authorize`` rules, decoding and row checks in
:mod:`hibiki.directory.csvio`, the all-or-nothing transaction in
:mod:`hibiki.directory.storage.bulk`, one ``config.changed`` per applied file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.http import error_response
from hibiki.common.openapi import STATUS, ApiRoute, Operation
from hibiki.directory import csvio
from hibiki.directory.csvio import CsvError, Spec
from hibiki.directory.http.admin import READ, guarded
from hibiki.directory.http.models import CsvQuery, ImportQuery, ImportResult
from hibiki.directory.nats.notifier import ConfigNotifier
from hibiki.directory.storage.bulk import TABLES, BulkStore
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.common.digits import ascii_digits

MAX_BYTES = 5 * 1024 * 1024
Work = Callable[[Request, Spec], Awaitable[Response]]


def _too_large() -> CsvError:
    return CsvError("too-large", f"a CSV file may have at most {MAX_BYTES // (1024 * 1024)} MB", 413)


Audit = Callable[..., Awaitable[None]]


class CsvApi:
    def __init__(self, repository: ConfigRepository, notifier: ConfigNotifier, audit: Audit | None = None) -> None:
        self.bulk = BulkStore(repository)
        self.notifier = notifier
        self.audit = audit          # AdminApi.audit: one entry per applied import

    def _endpoint(self, write: bool, spec: Spec, work: Work) -> Callable[[Request], Awaitable[Response]]:
        async def bound(request: Request) -> Response:
            return await work(request, spec)

        return guarded(write, bound)

    async def download(self, request: Request, spec: Spec) -> Response:
        tenant = request.path_params["tenant"]
        rows, names = await asyncio.to_thread(self.bulk.export_rows, spec, tenant)
        body, charset = csvio.encode(csvio.export(spec, rows, names), request.query_params.get("encoding", "utf-8"))
        return Response(body, media_type=f"text/csv; charset={charset}", headers={
            "Content-Disposition": f'attachment; filename="{tenant}-{spec.name}.csv"'})

    async def upload(self, request: Request, spec: Spec) -> Response:
        flag = request.query_params.get("dry_run", "false").strip().lower()
        if flag not in csvio.TRUE | csvio.FALSE:
            return error_response(400, "invalid-dry_run", "dry_run is true or false")
        dry_run = flag in csvio.TRUE
        if request.headers.get("content-type", "").startswith("multipart/"):
            return error_response(415, "unsupported-media-type",
                                  "send the CSV file itself as the body (Content-Type: text/csv), not a form")
        records = csvio.read(spec, csvio.decode(await _body(request), request.query_params.get("encoding")))
        result = await asyncio.to_thread(self.bulk.import_rows, spec, request.path_params["tenant"], records, dry_run)
        if result.errors:
            bad = len({e.line for e in result.errors})
            return error_response(422, "invalid-rows", f"{bad} of {result.rows} rows have errors; nothing was stored",
                                  dry_run=dry_run, rows=result.rows, applied=False,
                                  errors=[e.as_dict() for e in result.errors])
        if result.change is not None:
            await self.notifier.changed(result.change)
            if self.audit is not None:
                await self.audit(request, f"{spec.name}.import", spec.name, "", None,
                                 {"rows": result.rows, "ids": list(result.change.ids)[:1000]})
        return JSONResponse({"dry_run": dry_run, "rows": result.rows, "applied": result.change is not None,
                             "errors": []})

    def routes(self) -> list[ApiRoute]:
        routes = []
        for name in TABLES:
            spec = csvio.SPECS[name]
            routes += [
                ApiRoute(f"/api/v1/tenants/{{tenant}}/{name}.csv", self._endpoint(False, spec, self.download), "GET",
                         Operation(f"Download the {name} as CSV ({', '.join(spec.columns)}); UTF-8 with BOM or "
                                   "?encoding=shift_jis", media="text/csv", query=CsvQuery, tags=["csv"],
                                   errors={**READ, 422: "unencodable: a character has no Shift_JIS code"})),
                ApiRoute(f"/api/v1/tenants/{{tenant}}/{name}/import", self._endpoint(True, spec, self.upload), "POST",
                         Operation(f"Import {name} from CSV (UTF-8 or Shift_JIS): every row or none; required "
                                   f"columns: {', '.join(spec.required)}", response=ImportResult, upload="text/csv",
                                   query=ImportQuery, tags=["csv"], errors={
                                       **READ, 400: "invalid-dry_run, invalid-encoding, invalid-header or invalid-csv",
                                       409: STATUS[409], 413: "larger than 5 MB",
                                       415: "a form instead of the file itself",
                                       422: "invalid-rows: details.errors lists {line, field, error_id, message}"})),
            ]
        return routes


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if ascii_digits(length) and int(length) > MAX_BYTES:
        raise _too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def csv_routes(repository: ConfigRepository, notifier: ConfigNotifier, audit: Audit | None = None) -> list[ApiRoute]:
    """The CSV routes for ``app.py``."""
    return CsvApi(repository, notifier, audit).routes()
