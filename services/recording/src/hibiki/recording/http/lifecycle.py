"""A tenant's recordings at contract end (ADM-03): what is held, and deleting all of it.

    GET    /api/v1/lifecycle/tenants/{tenant}    counts: index rows, dispositions, audit rows, blobs, keys
    DELETE /api/v1/lifecycle/tenants/{tenant}    crypto-shred its keys, delete its blobs and every
                                                 index row; answers what was deleted and what is left

Service tokens only (``hibiki tenant delete``): neither a tenant's administrators nor the
platform administrator reach recordings (REC-06). Export goes through the recordings API.
"""

from __future__ import annotations

import asyncio
import re

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.recording.index.recordings import Store
from hibiki.recording.storage.blobs import BlobStore, StoreUnavailable
from hibiki.recording.storage.keys import KeyStore

log = get_logger("hibiki.recording.lifecycle")
TABLES = ("recordings", "dispositions", "recording_audit", "recording_audit_heads")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Held(BaseModel):
    tenant: str
    held: dict[str, int]
    deleted: dict[str, int] = {}


class TenantRecordings:
    def __init__(self, index: Store, blobs: BlobStore, keys: KeyStore) -> None:
        self._index, self._blobs, self._keys = index, blobs, keys

    def held(self, tenant: str) -> dict[str, int]:
        counts = {table: int(self._index.query(f"SELECT count() FROM hibiki.{table} WHERE tenant = %(t)s",
                                               {"t": tenant})[0][0]) for table in TABLES}
        return {**counts, "blobs": len(self._blobs.keys(f"{tenant}/")), "keys": len(self._keys.key_ids(tenant))}

    def delete(self, tenant: str) -> dict[str, int]:
        before = self.held(tenant)
        shredded = self._keys.shred(tenant)        # first: from here on no blob of it can be read
        for key in self._blobs.keys(f"{tenant}/"):
            self._blobs.delete(key)
        for table in TABLES:
            self._index.execute(f"ALTER TABLE hibiki.{table} DELETE WHERE tenant = %(t)s SETTINGS mutations_sync = 2",
                                {"t": tenant})
        log.warning("tenant_recordings_deleted", tenant=tenant, keys_shredded=shredded, **before)
        return {**before, "keys": shredded}


def unavailable(tenant: str, action: str, exc: StoreUnavailable) -> Response:
    log.error("recording_store_unavailable", tenant=tenant, action=action, reason=str(exc)[:500])
    return error_response(503, "store-unavailable", "the recording store did not answer; try again")


def routes(tenants: TenantRecordings) -> list[ApiRoute]:
    def checked(request: Request) -> str | Response:
        claims = request.scope["hibiki.claims"]
        if not (claims.kind == "service" and claims.tenant == "*"):
            return error_response(403, "forbidden", "a tenant's whole recordings are for the platform's services")
        tenant = request.path_params["tenant"]
        if not _TENANT.match(tenant):
            return error_response(400, "invalid-tenant", "not a tenant id", field="tenant")
        return str(tenant)

    async def held(request: Request) -> Response:
        tenant = checked(request)
        if isinstance(tenant, Response):
            return tenant
        try:
            return JSONResponse({"tenant": tenant, "held": await asyncio.to_thread(tenants.held, tenant)})
        except StoreUnavailable as exc:
            return unavailable(tenant, "lifecycle-held", exc)

    async def delete(request: Request) -> Response:
        tenant = checked(request)
        if isinstance(tenant, Response):
            return tenant
        try:
            deleted = await asyncio.to_thread(tenants.delete, tenant)
            return JSONResponse({"tenant": tenant, "deleted": deleted,
                                 "held": await asyncio.to_thread(tenants.held, tenant)})
        except StoreUnavailable as exc:       # a store (of either data center) down: run it again later
            return unavailable(tenant, "lifecycle-delete", exc)

    path, tags = "/api/v1/lifecycle/tenants/{tenant}", ["lifecycle"]
    return [
        ApiRoute(path, held, "GET", Operation("What the recording store holds of a tenant", response=Held,
                                              errors=errors(403, 503, s400="not a tenant id"), tags=tags)),
        ApiRoute(path, delete, "DELETE", Operation(
            "Delete a tenant's recordings: keys shredded, blobs and index rows deleted; answers what is left",
            response=Held, errors=errors(403, 503, s400="not a tenant id"), tags=tags)),
    ]
