"""The tenant's audit trail over the admin API (ADM-05): read, export, verify.

- ``GET /api/v1/tenants/{tenant}/audit?after_seq=N&limit=N``: entries in order (``{"items": [...]}``);
  ``GET /api/v1/tenants/{tenant}/audit/csv`` (same query): the export as CSV, one header line;
- ``GET /api/v1/tenants/{tenant}/audit/verify``: walk the hash chain; ``intact`` false and
  ``problems`` (``seq``, ``altered`` | ``missing`` | ``reordered`` | ``truncated``) when an entry
  was changed or removed. ``hibiki audit verify`` does the same from the command line.
Auditors, tenant administrators and platform operators read it (role resource ``audit``).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.errors import Invalid
from hibiki.directory.http import identity_models as m
from hibiki.directory.http.admin import guarded
from hibiki.directory.storage.audit import AuditTrail, to_csv


def _audit_refusal(claims: Claims, tenant: str) -> str | None:
    return claims.refusal(tenant, False, role_rule.AUDIT)


class AuditApi:
    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    async def _rows(self, request: Request) -> list[dict[str, object]]:
        q = request.query_params
        for name in ("after_seq", "limit"):
            value = q.get(name, "1")
            if not value.isdigit() or len(value) > 19:
                raise Invalid(f"invalid-{name}", f"{name} must be a whole number", name)
        try:
            query = m.AuditQuery(after_seq=int(q.get("after_seq", "0")), limit=int(q.get("limit", "1000")))
        except ValueError as exc:
            field = "after_seq" if "after_seq" in str(exc) else "limit"
            raise Invalid(f"invalid-{field}", f"{field}: after_seq 0 to 2**62, limit 1 to 100000", field) from None
        return await asyncio.to_thread(self.trail.entries, request.path_params["tenant"], query.after_seq, query.limit)

    async def entries(self, request: Request) -> Response:
        return JSONResponse({"items": await self._rows(request)})

    async def export_csv(self, request: Request) -> Response:
        rows = await self._rows(request)
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="audit-{request.path_params["tenant"]}.csv"'})

    async def verify(self, request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(self.trail.verify, request.path_params["tenant"]))

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}/audit", ["audit"]
        return [
            ApiRoute(base, guarded(False, self.entries, refusal=_audit_refusal), "GET", Operation(
                "The tenant's audit trail, in order (JSON or CSV)", response=m.AuditOut, query=m.AuditQuery,
                errors=errors(400, 403, 404, 422, 503), tags=tags)),
            ApiRoute(base + "/csv", guarded(False, self.export_csv, refusal=_audit_refusal), "GET", Operation(
                "The tenant's audit trail as CSV (export)", media="text/csv", query=m.AuditQuery,
                errors=errors(400, 403, 404, 422, 503), tags=tags)),
            ApiRoute(base + "/verify", guarded(False, self.verify, refusal=_audit_refusal), "GET", Operation(
                "Verify the tenant's hash chain: where an entry was altered or removed", response=m.AuditVerifyOut,
                errors=errors(400, 403, 404, 503), tags=tags)),
        ]
