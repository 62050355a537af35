"""The agent desktop over HTTP (CC-02, CC-03), routed to the tenant's owner like gRPC.

    POST /api/v1/tenants/{tenant}/agents/{agent_id}/login        {"device", "ready"?}
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/logout
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/state        {"state": "ready|break|not_ready", "reason"?}
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/disposition  {"call_uuid", "case_type", "note"?}
    GET  /api/v1/tenants/{tenant}/agents/{agent_id}/state        the agent's view

Bodies are checked by ``http.schemas``; a login's device is resolved through the directory
(``rpc.devices``: unknown 400 ``unknown-device``, directory down 503 ``directory-unavailable``).
Each answers the agent's view (state, reason, device, call, pending disposition, ...).
A tenant's admin (or a service token) may act for any agent; a user token with the role
``agent`` whose subject is the agent's id may act for that agent.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hibiki.acd.domain import UnknownDevice
from hibiki.acd.http.common import BadRequest, authorization, guard, parsed
from hibiki.acd.http.schemas import DispositionIn, LoginIn, StateIn
from hibiki.acd.rpc.devices import DirectoryDevices, DirectoryUnavailable
from hibiki.acd.runtime.router import Router
from hibiki.acd.runtime.views import Json


class AgentsApi:
    def __init__(self, router: Router, devices: DirectoryDevices) -> None:
        self._router, self._devices = router, devices

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
        return await self._run(request, "set_state", {"state": body.state, "reason": body.reason})

    async def disposition(self, request: Request) -> Response:
        body, _ = await parsed(request, DispositionIn)
        return await self._run(request, "save_disposition", {
            "call_id": body.call_uuid, "case_type": body.case_type, "note": body.note})

    async def state(self, request: Request) -> Response:
        return await self._run(request, "agent", {})

    def routes(self) -> list[Route]:
        base = "/api/v1/tenants/{tenant}/agents/{agent_id}"
        return [
            Route(f"{base}/login", guard(True, self.login, agent_self=True), methods=["POST"]),
            Route(f"{base}/logout", guard(True, self.logout, agent_self=True), methods=["POST"]),
            Route(f"{base}/state", guard(True, self.set_state, agent_self=True), methods=["POST"]),
            Route(f"{base}/state", guard(False, self.state, agent_self=True), methods=["GET"]),
            Route(f"{base}/disposition", guard(True, self.disposition, agent_self=True), methods=["POST"]),
        ]
