"""The password guard's blocks over the admin API (ADM-04: admins see and lift lockouts).

- ``GET /api/v1/tenants/{tenant}/auth_blocks``: the tenant's blocked usernames and every
  address-wide block (they refuse its phones too; another tenant's usernames are not shown);
- ``DELETE /api/v1/tenants/{tenant}/auth_blocks?address=A&username=U``: lift the block of one
  of the tenant's usernames (``user@domain``) at that address; without ``username`` the
  address-wide block, which only a platform administrator may lift (a tenant lists its office
  addresses in ``trusted_networks`` instead);
- ``GET /api/v1/auth_blocks``, ``DELETE /api/v1/auth_blocks?address=A[&username=U]``: every block,
  lift any (platform administrators).
Every replica applies a lift (``hibiki.<tenant>.security.block_lifted``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.auth import Claims
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.errors import ConfigStoreError, NotFound
from hibiki.directory.guard import ADDRESS_WIDE, AuthGuard, Block
from hibiki.directory.http.admin import READ, Forbidden, guarded
from hibiki.directory.http.models import BlockQuery, Blocks
from hibiki.directory.nats.notifier import ConfigNotifier
from hibiki.directory.view import DirectoryView


def _out(block: Block, full: bool) -> dict[str, Any]:
    return {"address": block.address, "username": block.username or None, "address_wide": block.address_wide,
            "until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(block.until)),
            "seconds_left": max(0, round(block.until - time.time())), "failures": block.failures,
            "last_user": block.last_user if full else None, "last_domain": block.last_domain if full else None}


def _which(request: Request) -> tuple[str, str]:
    """The block a request names: ``?address=`` (required) and ``?username=`` (empty: the address)."""
    address = request.query_params.get("address", "").strip()
    if not address:
        raise ConfigStoreError("invalid-address", "address is required", "address")
    return address, request.query_params.get("username", "").strip().lower()


def _platform(claims: Claims) -> bool:
    return claims.tenant == "*" and (claims.kind == "service" or "platform-admin" in claims.roles)


class AuthBlocksApi:
    def __init__(self, guard: AuthGuard, view: DirectoryView, notifier: ConfigNotifier,
                 audit: Callable[..., Awaitable[None]] | None = None) -> None:
        self._guard, self._view, self._notifier, self._audit = guard, view, notifier, audit

    def _domain(self, tenant: str) -> str:
        view = self._view.by_id(tenant)
        if view is None:
            raise NotFound("tenant-not-found", f"no tenant {tenant!r}")
        return view.domain.lower()

    async def list_tenant(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        suffix = "@" + self._domain(tenant)
        items = [_out(b, full=b.tenant == tenant) for b in self._guard.blocks()
                 if b.address_wide or b.username.endswith(suffix)]
        return JSONResponse({"items": items})

    async def list_all(self, request: Request) -> Response:
        return JSONResponse({"items": [_out(b, full=True) | {"tenant": b.tenant} for b in self._guard.blocks()]})

    async def lift(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        claims: Claims = request.scope["hibiki.claims"]
        address, name = _which(request)
        if name == ADDRESS_WIDE:
            if not _platform(claims):
                raise Forbidden("an address-wide block is lifted by a platform administrator; "
                                "list your office addresses in the tenant's trusted_networks instead")
        elif not name.endswith("@" + self._domain(tenant)):
            raise ConfigStoreError("invalid-username", "username must be user@<the tenant's domain>", "username")
        response = await self._lift(address, name, claims)
        if self._audit is not None:
            await self._audit(request, "auth_block.lift", "auth_block", f"{address[:64]} {name}"[:255],
                              {"address": address[:64], "username": name}, None)
        return response

    async def lift_any(self, request: Request) -> Response:
        address, name = _which(request)
        return await self._lift(address, name, request.scope["hibiki.claims"])

    async def _lift(self, address: str, name: str, claims: Claims) -> Response:
        block = self._guard.lift(address, name)
        if block is None:
            raise NotFound("block-not-found", f"no block of {name or 'the address'} at {address[:64]!r}")
        await self._notifier.block_lifted(block, claims.subject)
        return Response(status_code=204)

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}/auth_blocks", ["auth blocks"]
        lift = errors(400, 403, 404, 503)
        return [ApiRoute(base, guarded(False, self.list_tenant), "GET", Operation(
                    "The tenant's blocked usernames and every address-wide block", response=Blocks, errors=READ,
                    tags=tags)),
                ApiRoute(base, guarded(True, self.lift), "DELETE", Operation(
                    "Lift the block of one of the tenant's usernames at an address (address-wide: platform "
                    "administrators)", 204, query=BlockQuery, errors=lift, tags=tags)),
                ApiRoute("/api/v1/auth_blocks", guarded(False, self.list_all, platform=True), "GET", Operation(
                    "Every block (platform administrators)", response=Blocks, errors=READ, tags=tags)),
                ApiRoute("/api/v1/auth_blocks", guarded(True, self.lift_any, platform=True), "DELETE", Operation(
                    "Lift any block (platform administrators)", 204, query=BlockQuery, errors=lift, tags=tags))]
