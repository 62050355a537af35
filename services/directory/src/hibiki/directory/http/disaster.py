"""The disaster-mode switch (PBX-15), one call for the console's one button.

``GET /api/v1/tenants/{tenant}/disaster_mode`` (read role): whether it is on, and each schedule's
override. ``PUT`` ``{"active": true, "reason": "..."}`` (write role) sets the manual override
``disaster`` on every schedule of the tenant, so every number on a schedule takes its
``override:disaster`` branch (or its closed route when it has none) from the next call;
``{"active": false}`` lifts the ``disaster`` overrides (other overrides stay). Numbers without a
schedule are not switched: they are listed as ``unswitched_dids`` so the console can say so.
Each schedule changed is one configuration change (announced, applied by every replica)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.http.admin import _body, guarded
from hibiki.directory.nats.notifier import ConfigNotifier
from hibiki.directory.schemas import Strict
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.directory.storage.tables import dids, schedules

MODE = "disaster"
LIMIT = 100_000


class DisasterIn(Strict):
    active: bool
    reason: str = Field(default="", max_length=200, description="shown in the schedule's override")


class ScheduleState(BaseModel):
    id: str
    name: str
    override: dict[str, Any] | None


class DisasterOut(BaseModel):
    active: bool = Field(description="every schedule is in disaster mode (and there is at least one)")
    partly: bool = Field(description="some schedules are, some are not")
    schedules: list[ScheduleState]
    unswitched_dids: list[str] = Field(description="numbers with no schedule: the switch does not reach them")


class DisasterApi:
    def __init__(self, repository: ConfigRepository, notifier: ConfigNotifier,
                 audit: Callable[..., Awaitable[None]] | None = None) -> None:
        self.repo, self.notifier, self.audit = repository, notifier, audit

    async def _state(self, tenant: str) -> dict[str, Any]:
        rows = await asyncio.to_thread(self.repo.list, schedules, tenant, LIMIT, 0)
        numbers = await asyncio.to_thread(self.repo.list, dids, tenant, LIMIT, 0)
        on = [(r["definition"].get("override") or {}).get("mode") == MODE for r in rows]
        return {"active": bool(on) and all(on), "partly": any(on) and not all(on),
                "schedules": [{"id": r["id"], "name": r["name"], "override": r["definition"].get("override")} for r in rows],
                "unswitched_dids": [str(d["number"]) for d in numbers if not d.get("schedule_id")]}

    async def get(self, request: Request) -> Response:
        return JSONResponse(await self._state(request.path_params["tenant"]))

    async def put(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        body = await _body(request, DisasterIn)
        before = await self._state(tenant)
        rows = await asyncio.to_thread(self.repo.list, schedules, tenant, LIMIT, 0)
        for row in rows:
            definition = dict(row["definition"])
            current = (definition.get("override") or {}).get("mode")
            if body["active"] and current != MODE:
                definition["override"] = {"mode": MODE, "until": None, "reason": body["reason"] or "disaster mode"}
            elif not body["active"] and current == MODE:
                definition["override"] = None
            else:
                continue
            _, change = await asyncio.to_thread(self.repo.patch, schedules, tenant, row["id"], {"definition": definition})
            await self.notifier.changed(change)
        after = await self._state(tenant)
        if self.audit is not None:
            await self.audit(request, "disaster_mode.change", "disaster_mode", tenant, before, after)
        return JSONResponse(after)

    def routes(self) -> list[ApiRoute]:
        path, tags = "/api/v1/tenants/{tenant}/disaster_mode", ["schedules"]
        return [ApiRoute(path, guarded(False, self.get), "GET", Operation(
                    "Whether the tenant is in disaster mode (PBX-15): each schedule's override", response=DisasterOut,
                    errors=errors(403, 404, 503), tags=tags)),
                ApiRoute(path, guarded(True, self.put), "PUT", Operation(
                    "Switch disaster mode on (override 'disaster' on every schedule) or off", body=DisasterIn,
                    response=DisasterOut, errors=errors(400, 403, 404, 413, 422, 503), tags=tags))]
