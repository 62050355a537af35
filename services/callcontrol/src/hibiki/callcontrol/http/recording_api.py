"""On-demand recording over the API (REC-01): ``POST /api/v1/tenants/{tenant}/calls/{call_uuid}/recording``
with ``{"action": "start"}`` or ``{"action": "stop"}``.

``call_uuid`` is the channel to record (the caller's leg: channel 1 is its caller, channel 2 the
party it is bridged to). The call must be the tenant's (its ``hibiki_tenant``; another tenant's call
is "not found") and its recording policy on demand (``hibiki_recording_mode=on_demand``, set by the
directory's dialplan; a call the policy records or forbids is 409). ``start`` runs FreeSWITCH's
``uuid_record <uuid> start <spool>/<tenant>/<yyyy>/<mm>/<dd>/<recording id>.wav`` in stereo and
answers the recording id; ``stop`` ends it (``RecordingStopped`` follows from RECORD_STOP).
Who: the tenant's ``admin``, ``supervisor``, ``agent`` or ``recording-admin`` (and services).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.callcontrol.esl.errors import CommandRefused, NodeError
from hibiki.callcontrol.esl.nodes import NodePool
from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims
from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors

log = get_logger("hibiki.callcontrol.recording_api")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TENANT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ROLES = ("admin", "supervisor", "agent", "recording-admin")


class RecordingAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["start", "stop"] = Field(description="start or stop recording this call")


class RecordingAnswer(BaseModel):
    call_uuid: str
    action: str
    recording_id: str = Field(description="the recording started or stopped (RecordingStopped carries it)")


def refusal(claims: Claims, tenant: str) -> str | None:
    """The one role rule (``hibiki.common.roles``), resource ``calls``: ``ROLES`` and services."""
    return claims.refusal(tenant, True, role_rule.CALLS)


class RecordingApi:
    def __init__(self, pool: NodePool, spool: str, timeout: float = 3.0) -> None:
        self._pool, self._spool, self._timeout = pool, spool.rstrip("/"), timeout

    async def _var(self, call_uuid: str, name: str) -> str:
        reply = (await self._pool.api_for_call(call_uuid, f"uuid_getvar {call_uuid} {name}", self._timeout)).strip()
        return "" if reply.startswith("-ERR") or reply == "_undef_" else reply

    async def post(self, request: Request) -> Response:
        tenant, call_uuid = request.path_params["tenant"], request.path_params["call_uuid"].lower()
        why = refusal(request.scope["hibiki.claims"], tenant)
        if why is not None:
            return error_response(403, "forbidden", why)
        if not UUID.fullmatch(call_uuid):
            return error_response(422, "invalid-call_uuid", "call_uuid must be a channel UUID", field="call_uuid")
        try:
            action = RecordingAction.model_validate(await request.json()).action
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"]
            return error_response(422, f"invalid-{loc[0] if loc else 'body'}", "the body must be "
                                  '{"action": "start"} or {"action": "stop"}', field=str(loc[0]) if loc else "body")
        except ValueError:
            return error_response(422, "invalid-json", "the body is not JSON", field="body")
        try:
            if not TENANT.fullmatch(tenant) or await self._var(call_uuid, "hibiki_tenant") != tenant:
                return error_response(404, "call-not-found", "no such call of this tenant", field="call_uuid")
            if await self._var(call_uuid, "hibiki_recording_mode") != "on_demand":
                return error_response(409, "not-on-demand", "this call's recording policy is not on demand",
                                      field="call_uuid")
            if action == "start":
                return await self._start(tenant, call_uuid)
            return await self._stop(tenant, call_uuid)
        except NodeError as exc:
            log.warning("recording_api_failed", tenant=tenant, call_uuid=call_uuid, error=str(exc))
            return error_response(404, "call-not-found", "no such call of this tenant", field="call_uuid")

    async def _start(self, tenant: str, call_uuid: str) -> Response:
        if not self._spool:
            return error_response(503, "no-spool", "callcontrol has no recording spool (HIBIKI_RECORDING_SPOOL_DIR)")
        recording_id = str(uuid.uuid4())
        path = f"{self._spool}/{tenant}/{time.strftime('%Y/%m/%d', time.gmtime())}/{recording_id}.wav"
        await self._pool.api_for_call(call_uuid, f"uuid_setvar_multi {call_uuid} RECORD_STEREO=true;"
                                      "hibiki_recording_reason=on_demand;hibiki_recording_scope=on_demand;"
                                      f"hibiki_on_demand_path={path}", self._timeout)
        try:
            reply = await self._pool.api_for_call(call_uuid, f"uuid_record {call_uuid} start {path}", self._timeout)
        except CommandRefused as exc:
            reply = str(exc)
        if not reply.startswith("+OK"):
            return error_response(409, "not-recorded", f"FreeSWITCH did not record: {reply.strip()[:80]}")
        log.info("recording_started", tenant=tenant, call_uuid=call_uuid, recording_id=recording_id, path=path,
                 reason="on_demand")
        return JSONResponse({"call_uuid": call_uuid, "action": "start", "recording_id": recording_id}, status_code=201)

    async def _stop(self, tenant: str, call_uuid: str) -> Response:
        path = await self._var(call_uuid, "hibiki_on_demand_path")
        if not path:
            return error_response(409, "not-recording", "no on-demand recording was started on this call")
        reply = await self._pool.api_for_call(call_uuid, f"uuid_record {call_uuid} stop {path}", self._timeout)
        log.info("recording_stop_asked", tenant=tenant, call_uuid=call_uuid, path=path, reply=reply.strip()[:80])
        recording_id = path.rsplit("/", 1)[-1].removesuffix(".wav")
        return JSONResponse({"call_uuid": call_uuid, "action": "stop", "recording_id": recording_id})

    def routes(self) -> list[ApiRoute]:
        return [ApiRoute("/api/v1/tenants/{tenant}/calls/{call_uuid}/recording", self.post, "POST", Operation(
            "Start or stop recording a call whose policy is on demand", (200, 201), RecordingAnswer,
            body=RecordingAction, errors=errors(403, 404, 409, 422, 503), tags=["recording"]))]
