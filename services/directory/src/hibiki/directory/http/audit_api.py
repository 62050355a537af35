"""The tenant's audit trail over the admin API (ADM-05): read, export, verify.

- ``GET /api/v1/tenants/{tenant}/audit?after_seq=N&limit=N``: entries in order (``{"items": [...]}``);
  ``GET /api/v1/tenants/{tenant}/audit/csv`` (same query): the export as CSV, one header line;
- ``GET /api/v1/tenants/{tenant}/audit/verify``: walk the hash chain; ``intact`` false and
  ``problems`` (``seq``, ``altered`` | ``missing`` | ``reordered`` | ``truncated``) when an entry
  was changed or removed. ``hibiki audit verify`` does the same from the command line.
- ``POST /api/v1/tenants/{tenant}/audit``: another service appends what it did for a person
  (callcontrol: a supervisor's listen, whisper, barge): ``{"actor", "roles", "action", "resource",
  "resource_id", "after", "address", "outcome"}``, 201 with the entry's ``seq`` and ``hash``.
  Service tokens only (a person's token, even an administrator's, is 403): the actor is the one
  the service authenticated, and nobody can write their own history.
Auditors, tenant administrators and platform operators read it (role resource ``audit``).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.errors import Invalid
from hibiki.directory.http import identity_models as m
from hibiki.directory.http.admin import guarded
from hibiki.common.http import error_response
from hibiki.directory.storage.audit import AuditTrail, Entry, to_csv
from hibiki.common.digits import ascii_digits

NAME = r"^[a-z][a-z0-9_.-]{0,63}$"
TEXT = re.compile(r"^[^\x00-\x1f\x7f]*$")


def _audit_refusal(claims: Claims, tenant: str) -> str | None:
    return claims.refusal(tenant, False, role_rule.AUDIT)


def _append_refusal(claims: Claims, tenant: str) -> str | None:
    if claims.kind != "service":
        return "only a service appends to the audit trail (what it did for a person)"
    return claims.refusal(tenant, True, role_rule.AUDIT)


class AuditAppend(BaseModel):
    """One thing a service did for a person, as that service authenticated them."""
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=1, max_length=255, description="who (the person's token subject)")
    roles: list[str] = Field(default_factory=list, max_length=32, description="their roles")
    action: str = Field(pattern=NAME, description="e.g. supervision.start")
    resource: str = Field(pattern=NAME, description="e.g. supervision")
    resource_id: str = Field("", max_length=255)
    after: dict[str, str] = Field(default_factory=dict, max_length=32, description="what it is now (short texts)")
    address: str = Field("", max_length=64, description="where the person's request came from")
    outcome: str = Field("ok", pattern=NAME)


class AuditAppended(BaseModel):
    seq: int
    hash: str


def _clean(body: AuditAppend) -> str | None:
    """The field holding a control character or an over-long text, if any."""
    texts: dict[str, str] = {"actor": body.actor, "resource_id": body.resource_id, "address": body.address}
    texts.update({f"roles.{i}": r for i, r in enumerate(body.roles)})
    texts.update({f"after.{k}": f"{k}{v}" for k, v in body.after.items()})
    for field, text in texts.items():
        if not TEXT.fullmatch(text) or len(text) > 512:
            return field
    return None


class AuditApi:
    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    async def _rows(self, request: Request) -> list[dict[str, object]]:
        q = request.query_params
        for name in ("after_seq", "limit"):
            value = q.get(name, "1")
            if not ascii_digits(value) or len(value) > 19:
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

    async def append(self, request: Request) -> Response:
        if not re.fullmatch(r"[A-Za-z0-9_*-]{1,64}", request.path_params["tenant"]):
            return error_response(404, "tenant-not-found", "no such tenant", field="tenant")
        try:
            body = AuditAppend.model_validate(await request.json())
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"]
            name = str(loc[0]) if loc else "body"
            return error_response(422, f"invalid-{name.replace('_', '-')}", f"{name}: {exc.errors()[0]['msg']}",
                                  field=name)
        except ValueError:
            return error_response(422, "invalid-json", "the body is not JSON", field="body")
        bad = _clean(body)
        if bad is not None:
            return error_response(422, "invalid-text", f"{bad}: no control characters, at most 512", field=bad)
        after: Any = dict(body.after)
        row = await asyncio.to_thread(self.trail.append, Entry(
            request.path_params["tenant"], body.actor, body.action, body.resource, body.resource_id,
            list(body.roles), None, after, body.address, body.outcome))
        return JSONResponse({"seq": row["seq"], "hash": row["hash"]}, status_code=201)

    async def verify(self, request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(self.trail.verify, request.path_params["tenant"]))

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}/audit", ["audit"]
        return [
            ApiRoute(base, guarded(False, self.entries, refusal=_audit_refusal), "GET", Operation(
                "The tenant's audit trail, in order (JSON or CSV)", response=m.AuditOut, query=m.AuditQuery,
                errors=errors(400, 403, 404, 422, 503), tags=tags)),
            ApiRoute(base, guarded(True, self.append, refusal=_append_refusal), "POST", Operation(
                "Append what a service did for a person (service tokens only)", (201,), AuditAppended,
                body=AuditAppend, errors=errors(400, 403, 404, 413, 422, 503), tags=tags)),
            ApiRoute(base + "/csv", guarded(False, self.export_csv, refusal=_audit_refusal), "GET", Operation(
                "The tenant's audit trail as CSV (export)", media="text/csv", query=m.AuditQuery,
                errors=errors(400, 403, 404, 422, 503), tags=tags)),
            ApiRoute(base + "/verify", guarded(False, self.verify, refusal=_audit_refusal), "GET", Operation(
                "Verify the tenant's hash chain: where an entry was altered or removed", response=m.AuditVerifyOut,
                errors=errors(400, 403, 404, 503), tags=tags)),
        ]
