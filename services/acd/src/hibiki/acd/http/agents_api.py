"""The agent desktop over HTTP (CC-02, CC-03), routed to the tenant's owner like gRPC.

    POST /api/v1/tenants/{tenant}/agents/{agent_id}/login        {"device", "ready"?}
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/logout
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/state        {"state": "ready|break|not_ready", "reason"?}
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/disposition  {"call_uuid", "case_type", "note"?}
    GET  /api/v1/tenants/{tenant}/agents/{agent_id}/state        the agent's view

Bodies are checked by ``http.schemas``; a login's device is resolved through the directory
(``rpc.devices``: unknown 400 ``unknown-device``, directory down 503 ``directory-unavailable``).
Each answers the agent's view (state, reason, device, call, pending disposition, ...).
A reason (not ready, break) or a case type must be an id of the tenant's lists
(``/desk_settings``, ``desktop.content``): else 400 ``unknown-reason`` / ``unknown-case-type``.
A tenant's admin (or a service token) may act for any agent; a user token with the role
``agent`` whose subject is the agent's id may act for that agent.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.acd.desktop.content import DeskContent
from hibiki.acd.domain import UnknownDevice
from hibiki.acd.http.common import READ, WRITE, BadRequest, authorization, guard, operation, parsed
from hibiki.acd.http.responses import AgentView
from hibiki.acd.http.schemas import DispositionIn, LoginIn, StateIn
from hibiki.acd.rpc.devices import DirectoryDevices, DirectoryUnavailable
from hibiki.acd.runtime.router import Router
from hibiki.acd.runtime.views import Json
from hibiki.common.openapi import ApiRoute


class AgentsApi:
    def __init__(self, router: Router, devices: DirectoryDevices, menus: DeskContent) -> None:
        self._router, self._devices, self._menus = router, devices, menus

    async def _listed(self, tenant: str, menu: str, value: str, error_id: str, field: str) -> None:
        """``value`` must be an id of the tenant's ``menu`` (its case types or reasons)."""
        choices = (await self._menus.settings(tenant)).get(menu) or []
        if value not in {c.get("id") for c in choices if isinstance(c, dict)}:
            raise BadRequest(error_id, f"{value!r} is not one of the tenant's {menu.replace('_', ' ')}", field=field)

    async def _run(self, request: Request, op: str, args: Json) -> Response:
        p = request.path_params
        result = await self._router.run(p["tenant"], op, {"agent_id": p["agent_id"], **args}, authorization(request))
        return JSONResponse(result)

    async def login(self, request: Request) -> Response:
        """The device is resolved through the directory: only the directory's name for it is kept."""
        body, _ = await parsed(request, LoginIn)
        try:
            device = await self._devices.resolve(request.path_params["tenant"], body.device)
        except UnknownDevice as exc:
            raise BadRequest(exc.error_id, exc.message, field="device") from None
        except DirectoryUnavailable as exc:
            raise BadRequest("directory-unavailable", str(exc), status=503) from None
        return await self._run(request, "login", {"device": device, "ready": body.ready})

    async def logout(self, request: Request) -> Response:
        return await self._run(request, "logout", {})

    async def set_state(self, request: Request) -> Response:
        body, _ = await parsed(request, StateIn)
        if body.reason and body.state in ("break", "not_ready"):
            await self._listed(request.path_params["tenant"], f"{body.state}_reasons", body.reason, "unknown-reason", "reason")
        return await self._run(request, "set_state", {"state": body.state, "reason": body.reason})

    async def disposition(self, request: Request) -> Response:
        body, _ = await parsed(request, DispositionIn)
        if body.case_type:
            await self._listed(request.path_params["tenant"], "case_types", body.case_type, "unknown-case-type", "case_type")
        return await self._run(request, "save_disposition", {
            "call_id": body.call_uuid, "case_type": body.case_type, "note": body.note})

    async def state(self, request: Request) -> Response:
        return await self._run(request, "agent", {})

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}/agents/{agent_id}", ["agent desktop"]
        return [
            ApiRoute(f"{base}/login", guard(True, self.login, agent_self=True), "POST", operation(
                "Log the agent in on a device the tenant's directory has (400 unknown-device, 503 when the "
                "directory cannot be asked)", response=AgentView, body=LoginIn, errors=WRITE, tags=tags)),
            ApiRoute(f"{base}/logout", guard(True, self.logout, agent_self=True), "POST", operation(
                "Log the agent out", response=AgentView, errors=READ, tags=tags)),
            ApiRoute(f"{base}/state", guard(True, self.set_state, agent_self=True), "POST", operation(
                "Ready, break (with a reason) or not ready; ready is refused while a disposition is pending",
                response=AgentView, body=StateIn, errors=WRITE, tags=tags)),
            ApiRoute(f"{base}/state", guard(False, self.state, agent_self=True), "GET", operation(
                "The agent's state, device, call, pending disposition, skills and queues", response=AgentView,
                errors=READ, tags=tags)),
            ApiRoute(f"{base}/disposition", guard(True, self.disposition, agent_self=True), "POST", operation(
                "Save the call's disposition: ends after-call work", response=AgentView, body=DispositionIn,
                errors=WRITE, tags=tags)),
        ]
