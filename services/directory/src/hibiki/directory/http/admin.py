"""The admin API under ``/api/v1/``: tenants, users and devices (JSON; OpenAPI at
``/api/v1/openapi.json``). Handlers are thin: check the token's role and tenant,
validate, call the repository, announce the change, serialise.

Roles: ``platform-admin`` (tenant ``*``) manages tenants and everything in them; ``admin``
manages its own tenant; ``viewer`` reads its own tenant; service tokens with tenant ``*``
may do everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.auth import Claims
from hibiki.common.http import error_response
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory import ivrs as ivr_rules
from hibiki.directory import schemas
from hibiki.directory.errors import ConfigStoreError, NotFound
from hibiki.directory.identity import delegation
from hibiki.directory.http import models
from hibiki.directory.nats.notifier import ConfigNotifier
from hibiki.directory.schedules import Schedule
from hibiki.directory.storage.audit import AuditTrail, Entry
from hibiki.directory.storage.repository import Change, ConfigRepository
from hibiki.directory.storage.tables import (contacts, devices, dids, gateways, ivrs, ring_groups, schedules,
                                             service_classes, tenants, users)

Handler = Callable[[Request], Awaitable[Response]]
READ = errors(400, 403, 404, 503)
WRITE = errors(400, 403, 404, 409, 413, 422, 503)
RESOURCES: dict[str, tuple[Table, type[BaseModel], type[BaseModel], type[BaseModel]]] = {
    "service_classes": (service_classes, schemas.ServiceClassIn, schemas.ServiceClassPatch, schemas.ServiceClassOut),
    "users": (users, schemas.UserIn, schemas.UserPatch, schemas.UserOut),
    "devices": (devices, schemas.DeviceIn, schemas.DevicePatch, schemas.DeviceOut),
    "ring_groups": (ring_groups, schemas.RingGroupIn, schemas.RingGroupPatch, schemas.RingGroupOut),
    "schedules": (schedules, schemas.ScheduleIn, schemas.SchedulePatch, schemas.ScheduleOut),
    "dids": (dids, schemas.DidIn, schemas.DidPatch, schemas.DidOut),
    "phonebook": (contacts, schemas.ContactIn, schemas.ContactPatch, schemas.ContactOut),
    "gateways": (gateways, schemas.GatewayIn, schemas.GatewayPatch, schemas.GatewayOut),
    "ivrs": (ivrs, schemas.IvrIn, schemas.IvrPatch, schemas.IvrOut),
}


def _moment(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigStoreError("invalid-from", "from must be an ISO 8601 date and time", "from") from None
    if moment.tzinfo is None:
        raise ConfigStoreError("invalid-from", "from needs a UTC offset, e.g. 2026-12-29T09:00:00+09:00", "from")
    return moment


class Forbidden(Exception):
    pass


STORE_UNAVAILABLE = "the configuration store cannot be reached; calls are still answered from memory: retry later"


def store_unavailable(exc: Exception) -> Response | None:
    """503 when the database is down (the view keeps answering FreeSWITCH); None for other errors."""
    if isinstance(exc, (OperationalError, PoolTimeout)) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return error_response(503, "store-unavailable", STORE_UNAVAILABLE)
    return None


def bad_path(request: Request) -> Response | None:
    """No stored id contains NUL (PostgreSQL cannot even compare one): answer 404 at once."""
    if "\x00" in str(request.path_params.get("tenant", "")):
        return error_response(404, "tenant-not-found", "no such tenant")
    if any("\x00" in str(value) for value in request.path_params.values()):
        return error_response(404, "not-found", "no such resource")
    return None


def authorize(claims: Claims, tenant: str | None, write: bool) -> None:
    if tenant is None:   # platform routes: service tokens for every tenant and platform admins
        if claims.tenant == "*" and (claims.kind == "service" or "platform-admin" in claims.roles):
            return
        raise Forbidden("platform administrators only")
    refusal = claims.refusal(tenant, write)
    if refusal is not None:
        raise Forbidden(refusal)


async def _body(request: Request, model: type[BaseModel], partial: bool = False,
                table: Table | None = None) -> dict[str, Any]:
    """The body checked by ``model``; with ``partial`` only the fields sent, and none set to null
    that ``table`` cannot hold as null (a PATCH leaves out what it keeps)."""
    try:
        raw = await request.json()
    except ValueError:
        raise ConfigStoreError("invalid-json", "the body is not JSON") from None
    try:
        data = model.model_validate(raw).model_dump(exclude_unset=partial)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise _Invalid(f"invalid-{field or 'body'}", f"{field or 'body'}: {first['msg']}", field,
                       [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]) from None
    for name, value in data.items():
        if value is None and table is not None and name in table.c and not table.c[name].nullable:
            message = f"{name}: may not be null (leave it out to keep it)"
            raise _Invalid(f"invalid-{name}", message, name, [{"field": name, "message": message}])
    return data


class _Invalid(ConfigStoreError):
    status = 422

    def __init__(self, error_id: str, message: str, field: str | None, errors: list[dict[str, str]]) -> None:
        super().__init__(error_id, message, field)
        self.errors = errors


def _out(model: type[BaseModel], row: dict[str, Any]) -> dict[str, Any]:
    return model.model_validate(row).model_dump(mode="json")


def guarded(write: bool, work: Callable[[Request], Awaitable[Response]], platform: bool = False,
            refusal: Callable[[Claims, str], str | None] | None = None, scoped: bool = False) -> Handler:
    """Wrap ``work`` with the role check and the error mapping every admin route shares;
    ``refusal`` replaces the role check of a tenant's route (why the token may not, or None).
    A delegated administrator's configuration write passes only on a ``scoped`` route (whose
    handler checks the rows against the scope: ``identity/delegation.py``)."""
    async def endpoint(request: Request) -> Response:
        tenant = None if platform else request.path_params.get("tenant")
        try:
            if refusal is not None and tenant is not None:
                why = refusal(request.scope["hibiki.claims"], tenant)
                if why is not None:
                    raise Forbidden(why)
            else:
                authorize(request.scope["hibiki.claims"], tenant, write)
                if write and not scoped and delegation.limited(request.scope["hibiki.claims"]):
                    raise Forbidden(delegation.OUT_OF_SCOPE)
            return bad_path(request) or await work(request)
        except (DBAPIError, PoolTimeout) as exc:
            unavailable = store_unavailable(exc)
            if unavailable is None:
                raise
            return unavailable
        except Forbidden as exc:
            return error_response(403, "forbidden", str(exc))
        except _Invalid as exc:
            return error_response(exc.status, exc.error_id, exc.message, field=exc.field, errors=exc.errors)
        except ConfigStoreError as exc:
            return error_response(exc.status, exc.error_id, exc.message, field=exc.field)
    return endpoint


SECRET_FIELDS = frozenset({"password", "a1_hash", "voicemail_pin"})   # never written to the audit trail


def _redacted(row: Any) -> Any:
    if not isinstance(row, dict):
        return row
    return {k: ("<redacted>" if k in SECRET_FIELDS and v else v) for k, v in row.items()}


class AdminApi:
    def __init__(self, repository: ConfigRepository, notifier: ConfigNotifier, trail: AuditTrail | None = None,
                 tenant_gone: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.repo = repository
        self.notifier = notifier
        self.trail = trail
        self.tenant_gone = tenant_gone        # console identity: end the tenant's sessions, tokens, users

    async def audit(self, request: Request, action: str, resource: str, resource_id: str, before: Any,
                    after: Any, tenant: str | None = None) -> None:
        """One entry of the tenant's audit trail: who, what, before/after, from where (ADM-05)."""
        if self.trail is None:
            return
        claims: Claims = request.scope["hibiki.claims"]
        entry = Entry(tenant or request.path_params.get("tenant", "*"), claims.subject, action, resource, resource_id,
                      list(claims.roles), _redacted(before), _redacted(after),
                      request.client.host if request.client else "")
        await self._run(self.trail.append, entry)

    def endpoint(self, write: bool, work: Callable[[Request], Awaitable[Response]], platform: bool = False,
                 scoped: bool = False) -> Handler:
        return guarded(write, work, platform, scoped=scoped)

    async def in_scope(self, request: Request, name: str, row: dict[str, Any] | None,
                       body: dict[str, Any] | None) -> None:
        """Refuse a delegated administrator's write outside their scope (403)."""
        claims: Claims = request.scope["hibiki.claims"]
        if not delegation.limited(claims):
            return
        tenant = request.path_params["tenant"]
        users_seen: dict[str, dict[str, Any] | None] = {}
        named = [*((body or {}).get("members") or []), (body or {}).get("user_id"), (row or {}).get("user_id")]
        for user_id in {str(v) for v in named if v}:
            try:
                users_seen[user_id] = await self._run(self.repo.get, users, tenant, user_id)
            except NotFound:
                users_seen[user_id] = None
        why = delegation.refusal(claims, name, row, body, users_seen.get)
        if why is not None:
            raise Forbidden(why)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def _announce(self, change: Change) -> None:
        await self.notifier.changed(change)

    # tenants
    async def list_tenants(self, request: Request) -> Response:
        rows = await self._run(self.repo.list_tenants)
        return JSONResponse({"items": [_out(schemas.TenantOut, r) for r in rows]})

    async def create_tenant(self, request: Request) -> Response:
        row, change = await self._run(self.repo.create_tenant, await _body(request, schemas.TenantIn))
        await self._announce(change)
        out = _out(schemas.TenantOut, row)
        await self.audit(request, "tenant.create", "tenant", out["id"], None, out, tenant="*")
        return JSONResponse(out, status_code=201)

    async def get_tenant(self, request: Request) -> Response:
        return JSONResponse(_out(schemas.TenantOut, await self._run(self.repo.get_tenant, request.path_params["tenant"])))

    async def patch_tenant(self, request: Request) -> Response:
        body = await _body(request, schemas.TenantPatch, partial=True, table=tenants)
        before = _out(schemas.TenantOut, await self._run(self.repo.get_tenant, request.path_params["tenant"]))
        row, change = await self._run(self.repo.patch_tenant, request.path_params["tenant"], body)
        await self._announce(change)
        out = _out(schemas.TenantOut, row)
        await self.audit(request, "tenant.change", "tenant", out["id"], before, out)
        return JSONResponse(out)

    async def delete_tenant(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        before = _out(schemas.TenantOut, await self._run(self.repo.get_tenant, tenant))
        await self._announce(await self._run(self.repo.delete_tenant, tenant))
        if self.tenant_gone is not None:
            await self.tenant_gone(tenant)
        if self.trail is not None:        # its trail goes too (exported first); the platform's records the head
            before = {**before, "audit": await self._run(self.trail.remove_tenant, tenant)}
        await self.audit(request, "tenant.delete", "tenant", tenant, before, None, tenant="*")
        return Response(status_code=204)

    # users, devices
    def collection(self, name: str) -> tuple[Handler, Handler]:
        table, create_model, _, out = RESOURCES[name]

        async def list_items(request: Request) -> Response:
            try:
                limit = min(max(int(request.query_params.get("limit", "100")), 1), 1000)
                offset = max(int(request.query_params.get("offset", "0")), 0)
            except ValueError:
                raise ConfigStoreError("invalid-paging", "limit and offset must be whole numbers") from None
            rows = await self._run(self.repo.list, table, request.path_params["tenant"], limit, offset)
            return JSONResponse({"items": [_out(out, r) for r in rows], "limit": limit, "offset": offset})

        async def create_item(request: Request) -> Response:
            body = await _body(request, create_model)
            await self.in_scope(request, name, None, body)
            row, change = await self._run(self.repo.create, table, request.path_params["tenant"], body)
            await self._announce(change)
            shown = _out(out, row)
            await self.audit(request, f"{name}.create", name, str(row.get("id", "")), None, shown)
            return JSONResponse(shown, status_code=201)

        return list_items, create_item

    def item(self, name: str) -> tuple[Handler, Handler, Handler]:
        table, _, patch_model, out = RESOURCES[name]

        async def get_item(request: Request) -> Response:
            p = request.path_params
            return JSONResponse(_out(out, await self._run(self.repo.get, table, p["tenant"], p["id"])))

        async def patch_item(request: Request) -> Response:
            p = request.path_params
            body = await _body(request, patch_model, True, table)
            stored = await self._run(self.repo.get, table, p["tenant"], p["id"])
            await self.in_scope(request, name, stored, body)
            before = _out(out, stored)
            row, change = await self._run(self.repo.patch, table, p["tenant"], p["id"], body)
            await self._announce(change)
            shown = _out(out, row)
            await self.audit(request, f"{name}.change", name, p["id"], before, shown)
            return JSONResponse(shown)

        async def delete_item(request: Request) -> Response:
            p = request.path_params
            stored = await self._run(self.repo.get, table, p["tenant"], p["id"])
            await self.in_scope(request, name, stored, None)
            before = _out(out, stored)
            await self._announce(await self._run(self.repo.remove, table, p["tenant"], p["id"]))
            await self.audit(request, f"{name}.delete", name, p["id"], before, None)
            return Response(status_code=204)

        return get_item, patch_item, delete_item

    # IVRs: replace as a whole, and the test mode's list of paths
    async def put_ivr(self, request: Request) -> Response:
        p = request.path_params
        body = await _body(request, schemas.IvrIn)
        if body.pop("id", None) not in (None, p["id"]):
            raise ConfigStoreError("invalid-id", "the body's id differs from the path's", "id")
        try:
            before: Any = _out(schemas.IvrOut, await self._run(self.repo.get, ivrs, p["tenant"], p["id"]))
        except ConfigStoreError:
            before = None
        row, change = await self._run(self.repo.patch, ivrs, p["tenant"], p["id"], body)
        await self._announce(change)
        shown = _out(schemas.IvrOut, row)
        await self.audit(request, "ivrs.replace", "ivrs", p["id"], before, shown)
        return JSONResponse(shown)

    async def ivr_paths(self, request: Request) -> Response:
        """Every end a caller can reach, with the keys and a moment (from ``?from=``, default now) that lead there."""
        p = request.path_params
        start = _moment(request.query_params.get("from"))
        row = await self._run(self.repo.get, ivrs, p["tenant"], p["id"])
        stored = await self._run(self.repo.list, schedules, p["tenant"], 1000, 0)
        compiled = {r["id"]: Schedule.from_dict(r["definition"]) for r in stored}
        found = ivr_rules.paths(ivr_rules.from_row(row), compiled, start)
        return JSONResponse({"ivr": row["id"], "from": start.isoformat(), "paths": [f.to_json() for f in found]})

    def routes(self) -> list[ApiRoute]:
        e = self.endpoint
        root = "/api/v1/tenants"
        routes = [
            ApiRoute(root, e(False, self.list_tenants), "GET", Operation(
                "List tenants (platform-admin)", response=models.Tenants, errors=READ, tags=["tenants"])),
            ApiRoute(root, e(True, self.create_tenant), "POST", Operation(
                "Create a tenant (platform-admin)", 201, schemas.TenantOut, body=schemas.TenantIn, errors=WRITE,
                tags=["tenants"])),
            ApiRoute(root + "/{tenant}", e(False, self.get_tenant), "GET", Operation(
                "Read a tenant", response=schemas.TenantOut, errors=READ, tags=["tenants"])),
            ApiRoute(root + "/{tenant}", e(True, self.patch_tenant), "PATCH", Operation(
                "Change a tenant", response=schemas.TenantOut, body=schemas.TenantPatch, errors=WRITE, tags=["tenants"])),
            ApiRoute(root + "/{tenant}", e(True, self.delete_tenant, platform=True), "DELETE", Operation(
                "Delete a tenant and everything in it (platform-admin)", 204, errors=READ, tags=["tenants"])),
        ]
        for name, (_, create, patch, out) in RESOURCES.items():
            list_items, create_item = self.collection(name)
            get_item, patch_item, delete_item = self.item(name)
            base, noun = f"/api/v1/tenants/{{tenant}}/{name}", name.removesuffix("s")
            routes += [
                ApiRoute(base, e(False, list_items), "GET", Operation(
                    f"List {name}", response=models.Page[out], query=models.Paging,  # type: ignore[valid-type]
                    errors=READ, tags=[name])),
                ApiRoute(base, e(True, create_item, scoped=name in delegation.SCOPED), "POST", Operation(
                    f"Create a {noun}", 201, out, body=create, errors=WRITE, tags=[name])),
                ApiRoute(base + "/{id}", e(False, get_item), "GET", Operation(
                    f"Read a {noun}", response=out, errors=READ, tags=[name])),
                ApiRoute(base + "/{id}", e(True, patch_item, scoped=name in delegation.SCOPED), "PATCH", Operation(
                    f"Change a {noun}", response=out, body=patch, errors=WRITE, tags=[name])),
                ApiRoute(base + "/{id}", e(True, delete_item, scoped=name in delegation.SCOPED), "DELETE", Operation(
                    f"Delete a {noun} (refused while something routes to it)", 204, errors=WRITE, tags=[name])),
            ]
        routes += [
            ApiRoute("/api/v1/tenants/{tenant}/ivrs/{id}", e(True, self.put_ivr), "PUT", Operation(
                "Replace an IVR as a whole (checked whole: details.field names the part at fault)",
                response=schemas.IvrOut, body=schemas.IvrIn, errors=WRITE, tags=["ivrs"])),
            ApiRoute("/api/v1/tenants/{tenant}/ivrs/{id}/paths", e(False, self.ivr_paths), "GET", Operation(
                "Test mode: every end a caller can reach, with the keys and a moment that lead there",
                response=models.IvrPaths, query=models.PathsQuery, errors=READ, tags=["ivrs"])),
        ]
        return routes
