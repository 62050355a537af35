"""The agent desktop's own API (beside ``http.agents_api``'s state, login and disposition):

    GET /api/v1/tenants/{tenant}/agents/{agent_id}/events                 the live feed (SSE, ``desktop.feed``)
    GET /api/v1/tenants/{tenant}/agents/{agent_id}/softphone?device=<d>   where the page's softphone registers
    GET /api/v1/desktop/session                                           who the request's token or session is

Both take the agent's own token (role ``agent``, subject = the agent id) or any token that may
read the tenant's ACD. ``softphone`` resolves the device through the directory (400
``unknown-device``, 503 ``directory-unavailable``) and answers the SIP URI the browser registers
as, the WebSocket it registers over (``HIBIKI_ACD_DESKTOP_SIP_WS``) and whether the SIP library
is in place: without either, ``available`` is false with the ``reason`` and the page says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nats.aio.client import Client
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from hibiki.acd.desktop.feed import AgentFeed
from hibiki.acd.domain import UnknownDevice
from hibiki.acd.http.common import READ, BadRequest, authorization, guard, operation
from hibiki.acd.rpc.devices import DirectoryDevices, DirectoryUnavailable
from hibiki.acd.runtime.router import Router
from hibiki.common.dialstring import DEVICE
from hibiki.common.openapi import ApiRoute, Operation

LIBRARY = "jssip.min.js"


class SoftphoneQuery(BaseModel):
    device: str = Field(max_length=64, pattern="^" + DEVICE.pattern + "$",
                        description="the agent's softphone device: its SIP username (resolved through the directory)")


class SoftphoneOut(BaseModel):
    available: bool
    reason: str = Field(description="why the softphone cannot run (no WebSocket configured, no SIP library)")
    ws_url: str = Field(description="FreeSWITCH's SIP WebSocket (HIBIKI_ACD_DESKTOP_SIP_WS)")
    uri: str = Field(description="sip:<device>@<the tenant's SIP domain>")
    device: str
    domain: str
    library: str = Field(description="the SIP library's path on this service")


class SessionOut(BaseModel):
    agent_id: str = Field(description="the token's subject: the agent the desktop acts for")
    tenant: str
    roles: list[str]
    via_cookie: bool = Field(description="authenticated by identity's session cookie (hibiki_session)")


class DesktopApi:
    def __init__(self, router: Router, devices: DirectoryDevices, nc: Client, sip_ws: str, vendor_dir: Path) -> None:
        self._router, self._devices, self._nc = router, devices, nc
        self._sip_ws, self._vendor = sip_ws, vendor_dir

    def library_present(self) -> bool:
        return (self._vendor / LIBRARY).is_file()

    async def events(self, request: Request) -> Response:
        tenant, agent_id = request.path_params["tenant"], request.path_params["agent_id"]
        auth = authorization(request)

        async def read_view() -> dict[str, Any]:
            return dict(await self._router.run(tenant, "agent", {"agent_id": agent_id}, auth))
        feed = AgentFeed(self._nc, tenant, agent_id, read_view)
        first = await feed.open()
        return StreamingResponse(feed.events(first), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def softphone(self, request: Request) -> Response:
        try:
            query = SoftphoneQuery.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise BadRequest("invalid-device", f"device: {exc.errors()[0]['msg']}", field="device") from None
        try:
            device, domain = await self._devices.describe(request.path_params["tenant"], query.device)
        except UnknownDevice as exc:
            raise BadRequest(exc.error_id, exc.message, field="device") from None
        except DirectoryUnavailable as exc:
            raise BadRequest("directory-unavailable", str(exc), status=503) from None
        reason = "" if self._sip_ws else "no SIP WebSocket is configured (HIBIKI_ACD_DESKTOP_SIP_WS)"
        if not reason and not self.library_present():
            reason = f"the SIP library is not installed ({LIBRARY}: ./dev fetches it)"
        out = SoftphoneOut(available=not reason, reason=reason, ws_url=self._sip_ws, uri=f"sip:{device}@{domain}",
                           device=device, domain=domain, library=f"/desktop/{LIBRARY}")
        return JSONResponse(out.model_dump())

    async def session(self, request: Request) -> Response:
        """Lets a page signed in through the console's session (a cookie the page cannot read)
        find its tenant and agent id."""
        claims = request.scope["hibiki.claims"]
        return JSONResponse(SessionOut(agent_id=claims.subject, tenant=claims.tenant, roles=sorted(claims.roles),
                                       via_cookie=bool(request.scope.get("hibiki.via_cookie"))).model_dump())

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}/agents/{agent_id}", ["agent desktop"]
        return [
            ApiRoute("/api/v1/desktop/session", self.session, "GET", Operation(
                "Who the token or the console session is (the desktop's tenant and agent id)", response=SessionOut,
                tags=tags)),
            ApiRoute(f"{base}/events", guard(False, self.events, agent_self=True), "GET", operation(
                "The agent's live feed as Server-Sent Events: `event: agent` (the agent's view after every change), "
                "`event: offer` (a call ringing the agent: caller, queue, IVR path), `event: offer_ended`",
                media="text/event-stream", errors=READ, tags=tags)),
            ApiRoute(f"{base}/softphone", guard(False, self.softphone, agent_self=True), "GET", operation(
                "Where the desktop's browser softphone registers: the device's SIP URI and FreeSWITCH's WebSocket",
                response=SoftphoneOut, query=SoftphoneQuery, errors=READ, tags=tags)),
        ]
