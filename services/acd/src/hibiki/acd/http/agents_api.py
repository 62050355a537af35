"""The agent desktop over HTTP (CC-02, CC-03), routed to the tenant's owner like gRPC.

    POST /api/v1/tenants/{tenant}/agents/{agent_id}/login        {"device", "ready"?}
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/logout
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/state        {"state": "ready|break|not_ready", "reason"?}
    POST /api/v1/tenants/{tenant}/agents/{agent_id}/disposition  {"call_uuid", "case_type", "note"?}
    GET  /api/v1/tenants/{tenant}/agents/{agent_id}/state        the agent's view

Each answers the agent's view (state, reason, device, call, pending disposition, ...).
A tenant's admin (or a service token) may act for any agent; a user token with the role
``agent`` whose subject is the agent's id may act for that agent.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hibiki.acd.http.common import BadRequest, authorization, guard, json_object
from hibiki.acd.runtime.router import Router
from hibiki.acd.runtime.views import Json

STATES = ("ready", "break", "not_ready")


class AgentsApi:
    def __init__(self, router: Router) -> None:
        self._router = router

    async def _run(self, request: Request, op: str, args: Json) -> Response:
        p = request.path_params
        result = await self._router.run(p["tenant"], op, {"agent_id": p["agent_id"], **args}, authorization(request))
        return JSONResponse(result)

    async def login(self, request: Request) -> Response:
        data = await json_object(request, frozenset({"device", "ready"}))
        device, ready = data.get("device"), data.get("ready", False)
        if not isinstance(device, str) or not device:
            raise BadRequest("invalid-device", "login needs a device", field="device")
        if not isinstance(ready, bool):
            raise BadRequest("invalid-ready", "ready is true or false", field="ready")
        return await self._run(request, "login", {"device": device, "ready": ready})

    async def logout(self, request: Request) -> Response:
        return await self._run(request, "logout", {})

    async def set_state(self, request: Request) -> Response:
        data = await json_object(request, frozenset({"state", "reason"}))
        state, reason = data.get("state"), data.get("reason", "")
        if state not in STATES:
            raise BadRequest("invalid-state", f"state is one of {', '.join(STATES)}", field="state")
        if not isinstance(reason, str):
            raise BadRequest("invalid-reason", "reason is a string", field="reason")
        return await self._run(request, "set_state", {"state": state, "reason": reason})

    async def disposition(self, request: Request) -> Response:
        data = await json_object(request, frozenset({"call_uuid", "case_type", "note"}))
        for name in ("call_uuid", "case_type", "note"):
            if not isinstance(data.get(name, ""), str):
                raise BadRequest(f"invalid-{name.replace('_', '-')}", f"{name} is a string", field=name)
        return await self._run(request, "save_disposition", {
            "call_id": data.get("call_uuid", ""), "case_type": data.get("case_type", ""), "note": data.get("note", "")})

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
