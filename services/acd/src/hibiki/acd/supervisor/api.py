"""The supervisor page's API (CC-06), for the tenant's ``supervisor`` and ``admin`` only (the role
rule's resource ``supervision``, read: a viewer, an auditor or an agent is 403):

    GET /api/v1/tenants/{tenant}/supervisor/overview            every agent and queue now (JSON)
    GET /api/v1/tenants/{tenant}/supervisor/events              the same, live (SSE, ``supervisor.feed``)
    GET /api/v1/tenants/{tenant}/supervisor/softphone?device=   where the page's softphone registers

State changes and queue membership go through the agent API (``POST .../agents/{a}/state``,
``.../logout``, ``PUT .../agents/{a}``: the role rule's ``acd``); listen, whisper and barge through
callcontrol's supervision API, reached on this origin (``supervisor.proxy``).
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from hibiki.acd.desktop.api import DesktopApi, SoftphoneOut, SoftphoneQuery
from hibiki.acd.http.common import READ, authorization, guard, operation
from hibiki.acd.runtime.router import Router
from hibiki.acd.supervisor.feed import TenantFeed
from hibiki.common import roles as role_rule
from hibiki.common.openapi import ApiRoute


class OverviewOut(BaseModel):
    now: float = Field(description="the ACD's time of the view (seconds since the epoch)")
    agents: list[dict[str, Any]] = Field(description="every agent's view (as GET .../agents/{a}/state)")
    queues: list[dict[str, Any]] = Field(description="every queue's figures (as GET .../queues/{q}/stats)")


class SupervisorApi:
    def __init__(self, router: Router, nc: Client, desktop: DesktopApi) -> None:
        self._router, self._nc, self._desktop = router, nc, desktop

    async def _read(self, request: Request) -> dict[str, Any]:
        return dict(await self._router.run(request.path_params["tenant"], "overview", {}, authorization(request)))

    async def overview(self, request: Request) -> Response:
        return JSONResponse(await self._read(request))

    async def events(self, request: Request) -> Response:
        async def read() -> dict[str, Any]:
            return await self._read(request)
        feed = TenantFeed(self._nc, request.path_params["tenant"], read)
        first = await feed.open()
        return StreamingResponse(feed.events(first), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    def routes(self) -> list[ApiRoute]:
        base, tags, rule = "/api/v1/tenants/{tenant}/supervisor", ["supervisor"], role_rule.SUPERVISION
        return [
            ApiRoute(f"{base}/overview", guard(False, self.overview, resource=rule), "GET", operation(
                "Every agent (state, since when, call) and every queue (waiting calls, longest wait) now",
                response=OverviewOut, errors=READ, tags=tags)),
            ApiRoute(f"{base}/events", guard(False, self.events, resource=rule), "GET", operation(
                "The tenant's overview live as Server-Sent Events (`event: overview` on connect and after "
                "every burst of ACD events)", media="text/event-stream", errors=READ, tags=tags)),
            ApiRoute(f"{base}/softphone", guard(False, self._desktop.softphone, resource=rule), "GET", operation(
                "Where the supervisor page's browser softphone registers: the device's SIP URI and FreeSWITCH's "
                "WebSocket", response=SoftphoneOut, query=SoftphoneQuery, errors=READ, tags=tags)),
        ]
