"""The analytics store's side of backups, exports and a tenant's deletion (ADM-03, ADM-09).

    GET    /api/v1/lifecycle/tables                 every table of the store with its row count
    GET    /api/v1/lifecycle/tables/{table}         its rows as JSON lines (``?tenant=``: that tenant's)
    PUT    /api/v1/lifecycle/tables/{table}         replace every row with the JSON lines sent (restore)
    GET    /api/v1/lifecycle/tenants/{tenant}       the tenant's rows per table
    DELETE /api/v1/lifecycle/tenants/{tenant}       delete them all (synchronously), answer the counts left

For service tokens and platform administrators only (tenant ``*``); ``hibiki backup``,
``hibiki restore`` and ``hibiki tenant export|delete`` call them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.analytics.storage.base import Store
from hibiki.analytics.storage.migrations import DATABASE
from hibiki.analytics.web.access import everything
from hibiki.common.http import error_response
from hibiki.common.openapi import ApiRoute, Operation, errors

NDJSON = "application/x-ndjson"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEEP = ("schema_migrations",)     # the schema's own bookkeeping: never restored over, never a tenant's
BATCH = 5000
STAGING = "__restoring"      # rows are loaded here first: a refused row leaves the table as it was


def staging_ddl(staging: str, table: str, replicated: bool) -> str:
    """The staging table: a copy of ``table``'s structure. On a replicated cluster it must not copy
    the Replicated engine (same Keeper path and replica name as the table itself): a local Memory
    table on the one server the restore talks to, whose INSERT ... SELECT then replicates."""
    return f"CREATE TABLE {staging} AS {table}" + (" ENGINE = Memory" if replicated else "")
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class TableCount(BaseModel):
    table: str
    rows: int


class TableCounts(BaseModel):
    items: list[TableCount]


class TenantRows(BaseModel):
    tenant: str
    rows: dict[str, int]


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"
    if isinstance(value, date):
        return value.isoformat()
    return value


class LifecycleApi:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _columns(self, table: str) -> list[tuple[str, str]]:
        return [(str(n), str(t)) for n, t in self._store.query(
            "SELECT name, type FROM system.columns WHERE database = %(d)s AND table = %(t)s ORDER BY position",
            {"d": DATABASE, "t": table})]

    def _tables(self) -> list[str]:
        return [str(r[0]) for r in self._store.query(
            "SELECT name FROM system.tables WHERE database = %(d)s AND engine NOT LIKE '%%View' ORDER BY name",
            {"d": DATABASE}) if not str(r[0]).endswith(STAGING)]

    def _tenant_tables(self) -> list[str]:
        return [t for t in self._tables() if t not in KEEP and any(n == "tenant" for n, _ in self._columns(t))]

    def _count(self, table: str, tenant: str | None = None) -> int:
        where = " WHERE tenant = %(t)s" if tenant is not None else ""
        return int(self._store.query(f"SELECT count() FROM {DATABASE}.{table}{where}", {"t": tenant or ""})[0][0])

    def _dump(self, table: str, tenant: str | None) -> bytes:
        names = [n for n, _ in self._columns(table)]
        if tenant is not None and "tenant" not in names:
            return b""
        where = " WHERE tenant = %(t)s" if tenant is not None else ""
        rows = self._store.query(f"SELECT {', '.join(names)} FROM {DATABASE}.{table}{where}", {"t": tenant or ""})
        lines = [json.dumps(dict(zip(names, map(_value, row), strict=True)), ensure_ascii=False, sort_keys=True)
                 for row in rows]
        return ("\n".join(lines) + "\n").encode() if lines else b""

    def _load(self, table: str, body: bytes) -> int:
        columns = self._columns(table)
        names = [n for n, _ in columns]
        timed = {n for n, t in columns if "DateTime" in t}
        rows: list[list[Any]] = []
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            if not isinstance(item, dict) or set(item) != set(names):
                raise ValueError(f"a row of {table} must have exactly its columns {names}")
            rows.append([datetime.fromisoformat(item[n]).replace(tzinfo=UTC) if n in timed and item[n] else item[n]
                         for n in names])
        staging = f"{DATABASE}.{table}{STAGING}"
        self._store.execute(f"DROP TABLE IF EXISTS {staging}")
        self._store.execute(staging_ddl(staging, f"{DATABASE}.{table}", bool(getattr(self._store, "cluster", ""))))
        try:
            try:
                for start in range(0, len(rows), BATCH):
                    self._store.insert(f"{table}{STAGING}", names, rows[start:start + BATCH])
            except Exception as exc:     # the engine refused a value: the table is left as it was
                raise ValueError(f"the rows do not fit {table}: {str(exc)[:200]}") from None
            self._store.execute(f"TRUNCATE TABLE {DATABASE}.{table}")
            self._store.execute(f"INSERT INTO {DATABASE}.{table} SELECT * FROM {staging}")
        finally:
            self._store.execute(f"DROP TABLE IF EXISTS {staging}")
        return len(rows)

    def _delete_tenant(self, tenant: str) -> dict[str, int]:
        for table in self._tenant_tables():
            self._store.execute(f"ALTER TABLE {DATABASE}.{table} DELETE WHERE tenant = %(t)s "
                                "SETTINGS mutations_sync = 2", {"t": tenant})
        return self._tenant_rows(tenant)

    def _tenant_rows(self, tenant: str) -> dict[str, int]:
        return {table: self._count(table, tenant) for table in self._tenant_tables()}

    # -- HTTP -----------------------------------------------------------------------------------
    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if not everything(request.scope["hibiki.claims"]):
                return error_response(403, "forbidden", "backups and tenant data are for the platform operator")
            table = request.path_params.get("table")
            if table is not None and (not _NAME.match(table) or table not in await asyncio.to_thread(self._tables)):
                return error_response(404, "unknown-table", f"no table {table!r}", field="table")
            tenant = request.path_params.get("tenant", request.query_params.get("tenant"))
            if tenant is not None and not _TENANT.match(tenant):
                return error_response(400, "invalid-tenant", "not a tenant id", field="tenant")
            return await handler(request)
        return guarded

    async def tables(self, request: Request) -> Response:
        def counts() -> list[dict[str, Any]]:
            return [{"table": t, "rows": self._count(t)} for t in self._tables()]
        return JSONResponse({"items": await asyncio.to_thread(counts)})

    async def dump(self, request: Request) -> Response:
        data = await asyncio.to_thread(self._dump, request.path_params["table"], request.query_params.get("tenant"))
        return Response(data, media_type=NDJSON)

    async def load(self, request: Request) -> Response:
        table = request.path_params["table"]
        if table in KEEP:
            return error_response(409, "table-kept", f"{table} is the schema's own", field="table")
        try:
            rows = await asyncio.to_thread(self._load, table, await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            return error_response(400, "invalid-rows", str(exc)[:300], field="body")
        return JSONResponse({"table": table, "rows": rows})

    async def tenant_rows(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        return JSONResponse({"tenant": tenant, "rows": await asyncio.to_thread(self._tenant_rows, tenant)})

    async def delete_tenant(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        return JSONResponse({"tenant": tenant, "rows": await asyncio.to_thread(self._delete_tenant, tenant)})

    def routes(self) -> list[ApiRoute]:
        base, tags, refused = "/api/v1/lifecycle", ["lifecycle"], errors(403)
        return [
            ApiRoute(f"{base}/tables", self._guard(self.tables), "GET", Operation(
                "Every table of the analytics store with its row count", response=TableCounts, errors=refused,
                tags=tags)),
            ApiRoute(f"{base}/tables/{{table}}", self._guard(self.dump), "GET", Operation(
                "A table's rows as JSON lines (?tenant=: one tenant's)", media=NDJSON,
                errors=errors(403, 404, s400="not a tenant id"), tags=tags)),
            ApiRoute(f"{base}/tables/{{table}}", self._guard(self.load), "PUT", Operation(
                "Replace a table's rows with the JSON lines sent (a backup's restore; any media type)",
                upload="application/octet-stream",
                errors=errors(403, 404, s400="a line is not a row of the table", s409="the schema's own table"),
                tags=tags)),
            ApiRoute(f"{base}/tenants/{{tenant}}", self._guard(self.tenant_rows), "GET", Operation(
                "How many rows the tenant has in each table", response=TenantRows,
                errors=errors(403, s400="not a tenant id"), tags=tags)),
            ApiRoute(f"{base}/tenants/{{tenant}}", self._guard(self.delete_tenant), "DELETE", Operation(
                "Delete every row of the tenant, then count what is left (zero in every table)", response=TenantRows,
                errors=errors(403, s400="not a tenant id"), tags=tags)),
        ]
