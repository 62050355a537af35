"""A user's own page over HTTP (issue 14, PBX-10): what ``/me`` shows and changes.

    GET /api/v1/tenants/{tenant}/users/{id}/own          the user, their forwarding and their devices
    PUT /api/v1/tenants/{tenant}/users/{id}/forwarding   their forwarding (the five settings, whole)

and the voicemail routes (``voicemail_api.py``) use the same check, :func:`own_guarded`: the role
rule's ``own-page`` resource (``hibiki.common.roles.own_page_refusal``). A token whose roles read
(write) the configuration reaches every user's page (a delegated administrator writes only to the
users of its scope); a ``self-service`` token only the directory user its console user is linked
to (the token's ``duser``): any other user's is 403 before anything is read. A device's SIP
password and a voicemail PIN are never shown here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory import schemas
from hibiki.directory.http.admin import Forbidden, _body, guarded
from hibiki.directory.identity import delegation
from hibiki.directory.nats.notifier import ConfigNotifier
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.directory.storage.tables import devices, users

Handler = Callable[[Request], Awaitable[Response]]
Audit = Callable[..., Awaitable[None]]
FORWARDS = ("forward_always", "forward_busy", "forward_no_answer", "forward_no_answer_seconds",
            "forward_unregistered")
_FORWARD = r"^(\+?[0-9]{2,20})?$"


def own_guarded(write: bool, work: Handler, repository: ConfigRepository) -> Handler:
    """``work`` behind the own-page check of the path's ``{tenant}`` and ``{id}`` (a directory user)."""
    async def checked(request: Request) -> Response:
        claims: Claims = request.scope["hibiki.claims"]
        tenant, user_id = request.path_params["tenant"], request.path_params["id"]
        why = role_rule.own_page_refusal(claims, tenant, user_id, "write" if write else "read")
        if why is not None:
            raise Forbidden(why)
        if write and delegation.limited(claims):
            row = await asyncio.to_thread(repository.get, users, tenant, user_id)
            if not delegation.user_in_scope(claims, row):
                raise Forbidden(delegation.OUT_OF_SCOPE)
        return await work(request)
    return guarded(write, checked, refusal=lambda _claims, _tenant: None)


class ForwardingIn(schemas.Strict):
    forward_always: str = Field(default="", pattern=_FORWARD, description="extension or number; empty: off")
    forward_busy: str = Field(default="", pattern=_FORWARD)
    forward_no_answer: str = Field(default="", pattern=_FORWARD)
    forward_no_answer_seconds: int = Field(default=20, ge=5, le=120)
    forward_unregistered: str = Field(default="", pattern=_FORWARD)


class OwnUser(BaseModel):
    id: str
    username: str
    display_name: str
    extension: str | None
    direct_number: str
    voicemail_enabled: bool
    forward_always: str
    forward_busy: str
    forward_no_answer: str
    forward_no_answer_seconds: int
    forward_unregistered: str


class OwnPage(BaseModel):
    user: OwnUser
    devices: list[schemas.DeviceOut]


class OwnPageApi:
    def __init__(self, repository: ConfigRepository, notifier: ConfigNotifier, audit: Audit) -> None:
        self.repo, self.notifier, self.audit = repository, notifier, audit

    def _devices(self, tenant: str, user_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            batch = self.repo.list(devices, tenant, 1000, offset)
            found += [d for d in batch if d["user_id"] == user_id]
            if len(batch) < 1000:
                return found
            offset += 1000

    async def own(self, request: Request) -> Response:
        p = request.path_params
        user = await asyncio.to_thread(self.repo.get, users, p["tenant"], p["id"])
        mine = await asyncio.to_thread(self._devices, p["tenant"], p["id"])
        page = OwnPage(user=OwnUser.model_validate(user), devices=[schemas.DeviceOut.model_validate(d) for d in mine])
        return JSONResponse(page.model_dump(mode="json"), headers={"Cache-Control": "no-store"})

    async def forwarding(self, request: Request) -> Response:
        p = request.path_params
        body = await _body(request, ForwardingIn)
        stored = await asyncio.to_thread(self.repo.get, users, p["tenant"], p["id"])
        before = {k: stored[k] for k in FORWARDS}
        row, change = await asyncio.to_thread(self.repo.patch, users, p["tenant"], p["id"], body)
        await self.notifier.changed(change)
        after = {k: row[k] for k in FORWARDS}
        await self.audit(request, "users.forwarding", "users", p["id"], before, after)
        return JSONResponse(OwnUser.model_validate(row).model_dump(mode="json"))

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}/users/{id}", ["own page"]
        return [
            ApiRoute(base + "/own", own_guarded(False, self.own, self.repo), "GET", Operation(
                "A user's own page: their forwarding and devices (self-service: only their own)",
                response=OwnPage, errors=errors(403, 404, 503), tags=tags)),
            ApiRoute(base + "/forwarding", own_guarded(True, self.forwarding, self.repo), "PUT", Operation(
                "Set a user's forwarding (self-service: only their own); applies from the next call",
                response=OwnUser, body=ForwardingIn, errors=errors(400, 403, 404, 413, 422, 503), tags=tags)),
        ]
