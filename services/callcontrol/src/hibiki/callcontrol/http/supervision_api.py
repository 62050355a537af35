"""Supervision of an agent's call (CC-06): listen, whisper, barge with FreeSWITCH ``eavesdrop``.

    POST   /api/v1/tenants/{tenant}/calls/{call_uuid}/supervision       {"mode": ..., "device": ...}
    PUT    /api/v1/tenants/{tenant}/calls/{call_uuid}/supervision/{id}  {"mode": ...}
    DELETE /api/v1/tenants/{tenant}/calls/{call_uuid}/supervision/{id}

``call_uuid`` is the agent's leg (the channel that rings the agent's device), or a queue call as
the ACD names it (the caller's leg): then the leg it is bridged to that rang an agent
(``hibiki_agent``), and the answer's ``call_uuid`` is that leg. POST rings the
supervisor's ``device`` of that tenant (``user/<device>@<domain>``, the domain the agent's leg was
rung at (``dialed_domain``, else ``hibiki_domain``), after
FreeSWITCH's ``user_exists`` asked the directory for it: never a raw dial string) with
``originate ... &eavesdrop(<call_uuid>)`` (201 while the device rings: the request does not wait for
the answer), offering the agent leg's codec (``read_codec``: eavesdrop mixes at that leg's rate); the
supervisor's leg is the supervision ``id``.
Modes, as eavesdrop (switch_ivr_async.c) mixes the supervisor into the agent's leg, measured on
FreeSWITCH 1.10.12 (tests/freeswitch/test_supervision.py and test_supervisor_page.py: the tone each
phone hears, the eavesdrop on the agent's own leg):

    listen   nobody hears the supervisor                     DTMF 0 (no mux)
    whisper  the agent hears the supervisor, the caller not  DTMF 2 (ED_MUX_WRITE; start: eavesdrop_whisper_bleg)
    barge    both hear the supervisor                        DTMF 3 (ED_MUX_READ | ED_MUX_WRITE; start: both)

(DTMF 1, ED_MUX_READ alone, mixes into what the agent's leg reads, which goes to the caller: the
caller would hear the supervisor and the agent not: not offered.) PUT
queues the digit on the supervisor's leg (``uuid_recv_dtmf``) as if the phone had sent it; DELETE
hangs that leg up.
Who: the tenant's ``supervisor`` or ``admin`` (resource ``supervision`` of ``hibiki.common.roles``);
another tenant's call or supervision is "not found". Every start, switch and stop is an entry of
the tenant's hash-chained audit trail at the directory (``http.audit_trail``: action
``supervision.start|switch|stop``, actor the token's subject, resource_id the call, ``after`` the
mode, device and supervision id) and an audit log line (``supervision_audit``). A start or switch
the trail cannot record is refused (503 ``audit-unavailable``), nothing asked of FreeSWITCH.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.callcontrol.esl.errors import NodeError
from hibiki.callcontrol.http.audit_trail import AuditUnavailable, DirectoryAudit
from hibiki.callcontrol.esl.nodes import NodePool
from hibiki.common import dialstring
from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims
from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors

log = get_logger("hibiki.callcontrol.supervision_api")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TENANT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
Mode = Literal["listen", "whisper", "barge"]
DIGIT: dict[str, str] = {"listen": "0", "whisper": "2", "barge": "3"}
# eavesdrop's start flags on the agent's leg: whisper_aleg = ED_MUX_READ (into what the leg reads from
# the agent's phone: the caller hears), whisper_bleg = ED_MUX_WRITE (into what it sends the agent: the
# agent hears), as measured
START: dict[str, tuple[str, str]] = {"listen": ("false", "false"), "whisper": ("false", "true"),
                                     "barge": ("true", "true")}
RING_SECONDS = 30
# eavesdrop mixes the supervisor's audio into the agent's leg at that leg's rate: the supervisor's leg
# is offered the agent leg's codec (a browser would otherwise take opus at 48 kHz against a PCMU
# call and hear nothing: measured); only these names are ever put in the dial string
CODECS = frozenset({"PCMU", "PCMA", "G722", "opus"})


class SupervisionStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Mode = Field(description="listen, whisper (the agent hears the supervisor) or barge (both do)")
    device: str = Field(description="the supervisor's device (SIP username) of this tenant", max_length=64)


class SupervisionSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Mode


class SupervisionAnswer(BaseModel):
    supervision_id: str = Field(description="the supervisor's leg (its channel UUID)")
    call_uuid: str
    mode: str


def _invalid(exc: ValidationError) -> Response:
    loc = exc.errors()[0]["loc"]
    name = str(loc[0]) if loc else "body"
    return error_response(422, f"invalid-{name}", f"{name}: {exc.errors()[0]['msg']}", field=name)


class SupervisionApi:
    def __init__(self, pool: NodePool, audit: DirectoryAudit, timeout: float = 3.0) -> None:
        self._pool, self._audit_trail, self._timeout = pool, audit, timeout
        self._ringing: set[asyncio.Task[None]] = set()

    async def _ring(self, node: str, command: str, tenant: str, call_uuid: str, supervision_id: str) -> None:
        """The originate returns once the supervisor answered (or did not): the request does not wait."""
        try:
            reply = await self._pool.bgapi_on(node, command, RING_SECONDS + 10.0)
        except NodeError as exc:
            reply = f"-ERR {exc}"
        if not reply.startswith("+OK"):
            log.warning("supervision_not_answered", tenant=tenant, call_uuid=call_uuid,
                        supervision_id=supervision_id, reply=reply.strip()[:80])

    async def _var(self, call_uuid: str, name: str) -> str:
        reply = (await self._pool.api_for_call(call_uuid, f"uuid_getvar {call_uuid} {name}", self._timeout)).strip()
        return "" if reply.startswith("-ERR") or reply == "_undef_" else reply

    def _check(self, request: Request) -> tuple[str, str, Claims, Response | None]:
        claims: Claims = request.scope["hibiki.claims"]
        tenant, call_uuid = request.path_params["tenant"], request.path_params["call_uuid"].lower()
        why = claims.refusal(tenant, True, role_rule.SUPERVISION)
        if why is not None:
            return tenant, call_uuid, claims, error_response(403, "forbidden", why)
        if not UUID.fullmatch(call_uuid):
            return tenant, call_uuid, claims, error_response(422, "invalid-call_uuid", "call_uuid must be a channel "
                                                             "UUID", field="call_uuid")
        if not TENANT.fullmatch(tenant):
            return tenant, call_uuid, claims, error_response(404, "call-not-found", "no such call of this tenant",
                                                             field="call_uuid")
        return tenant, call_uuid, claims, None

    async def _audit(self, request: Request, action: str, tenant: str, call_uuid: str, claims: Claims,
                     **fields: str) -> Response | None:
        """Write the entry to the tenant's audit trail; a 503 answer when it could not be."""
        log.info("supervision_audit", action=action, tenant=tenant, call_uuid=call_uuid,
                 supervisor=claims.subject, **fields)
        try:
            await self._audit_trail.append(tenant, claims, f"supervision.{action}", call_uuid, dict(fields),
                                           request.client.host if request.client else "")
        except AuditUnavailable as exc:
            log.error("supervision_audit_lost", action=action, tenant=tenant, call_uuid=call_uuid,
                      supervisor=claims.subject, reason=str(exc))
            return error_response(503, "audit-unavailable", "the audit trail cannot record this supervision now",
                                  field="audit")
        return None

    async def _agent_leg(self, call_uuid: str) -> str:
        """``call_uuid`` when it is an agent's leg or not a queue call; the bridged agent leg of a
        queue call the ACD named by its caller's leg."""
        if await self._var(call_uuid, "hibiki_agent"):
            return call_uuid
        for name in ("bridge_uuid", "signal_bond"):
            partner = (await self._var(call_uuid, name)).lower()
            if UUID.fullmatch(partner) and await self._var(partner, "hibiki_agent"):
                return partner
        return call_uuid

    async def start(self, request: Request) -> Response:
        tenant, call_uuid, claims, refused = self._check(request)
        if refused is not None:
            return refused
        try:
            body = SupervisionStart.model_validate(await request.json())
        except ValidationError as exc:
            return _invalid(exc)
        except ValueError:
            return error_response(422, "invalid-json", "the body is not JSON", field="body")
        if not dialstring.DEVICE.fullmatch(body.device):
            return error_response(422, "invalid-device", "device must be a SIP username", field="device")
        try:
            if await self._var(call_uuid, "hibiki_tenant") != tenant:
                return error_response(404, "call-not-found", "no such call of this tenant", field="call_uuid")
            call_uuid = await self._agent_leg(call_uuid)
            if await self._var(call_uuid, "hibiki_tenant") != tenant:
                return error_response(404, "call-not-found", "no such call of this tenant", field="call_uuid")
            if await self._var(call_uuid, "hibiki_supervision_of"):
                return error_response(409, "is-supervision", "this call is itself a supervision", field="call_uuid")
            # the agent's leg was rung as user/<device>@<domain>: FreeSWITCH keeps that domain in dialed_domain
            domain = await self._var(call_uuid, "dialed_domain") or await self._var(call_uuid, "hibiki_domain")
            if not domain or not dialstring.DOMAIN.fullmatch(domain):
                return error_response(409, "no-domain", "this call has no tenant domain", field="call_uuid")
            exists = await self._pool.api_for_call(call_uuid, f"user_exists id {body.device} {domain}", self._timeout)
            if exists.strip() != "true":
                return error_response(404, "device-not-found", "no such device of this tenant", field="device")
            supervision_id = str(uuid.uuid4())
            aleg, bleg = START[body.mode]
            codec = await self._var(call_uuid, "read_codec")
            leg = dialstring.user_leg(body.device, domain, {
                **({"absolute_codec_string": codec} if codec in CODECS else {}),
                "origination_uuid": supervision_id, "hibiki_tenant": tenant, "hibiki_supervision_of": call_uuid,
                "hibiki_supervisor": claims.subject if dialstring.TOKEN.fullmatch(claims.subject) else "unknown",
                "eavesdrop_enable_dtmf": "true", "eavesdrop_whisper_aleg": aleg, "eavesdrop_whisper_bleg": bleg,
                "originate_timeout": RING_SECONDS, "hangup_after_bridge": "true"})
            node = self._pool.node_of(call_uuid) or await self._pool.locate(call_uuid)
            if node is None:
                return error_response(404, "call-not-found", "no such call of this tenant", field="call_uuid")
        except dialstring.UnsafeValue as exc:
            return error_response(422, "invalid-device", str(exc), field="device")
        except NodeError as exc:
            log.warning("supervision_failed", tenant=tenant, call_uuid=call_uuid, error=str(exc))
            return error_response(404, "call-not-found", "no such call of this tenant", field="call_uuid")
        lost = await self._audit(request, "start", tenant, call_uuid, claims, device=body.device, mode=body.mode,
                                 supervision_id=supervision_id)
        if lost is not None:
            return lost
        task = asyncio.create_task(self._ring(node, f"originate {leg} &eavesdrop({call_uuid})", tenant, call_uuid,
                                              supervision_id))
        self._ringing.add(task)
        task.add_done_callback(self._ringing.discard)
        return JSONResponse({"supervision_id": supervision_id, "call_uuid": call_uuid, "mode": body.mode},
                            status_code=201)

    async def _own(self, tenant: str, call_uuid: str, supervision_id: str) -> bool:
        return (UUID.fullmatch(supervision_id) is not None
                and await self._var(supervision_id, "hibiki_tenant") == tenant
                and await self._var(supervision_id, "hibiki_supervision_of") == call_uuid)

    async def switch(self, request: Request) -> Response:
        tenant, call_uuid, claims, refused = self._check(request)
        if refused is not None:
            return refused
        supervision_id = request.path_params["supervision_id"].lower()
        try:
            mode = SupervisionSwitch.model_validate(await request.json()).mode
        except ValidationError as exc:
            return _invalid(exc)
        except ValueError:
            return error_response(422, "invalid-json", "the body is not JSON", field="body")
        try:
            if not await self._own(tenant, call_uuid, supervision_id):
                return error_response(404, "supervision-not-found", "no such supervision of this call",
                                      field="supervision_id")
            lost = await self._audit(request, "switch", tenant, call_uuid, claims, mode=mode,
                                     supervision_id=supervision_id)
            if lost is not None:
                return lost
            reply = await self._pool.api_for_call(supervision_id, f"uuid_recv_dtmf {supervision_id} {DIGIT[mode]}",
                                                  self._timeout)
        except NodeError:
            return error_response(404, "supervision-not-found", "no such supervision of this call",
                                  field="supervision_id")
        if not reply.startswith("+OK"):
            return error_response(409, "not-switched", f"FreeSWITCH did not switch: {reply.strip()[:80]}")
        return JSONResponse({"supervision_id": supervision_id, "call_uuid": call_uuid, "mode": mode})

    async def stop(self, request: Request) -> Response:
        tenant, call_uuid, claims, refused = self._check(request)
        if refused is not None:
            return refused
        supervision_id = request.path_params["supervision_id"].lower()
        try:
            if not await self._own(tenant, call_uuid, supervision_id):
                return error_response(404, "supervision-not-found", "no such supervision of this call",
                                      field="supervision_id")
            await self._pool.api_for_call(supervision_id, f"uuid_kill {supervision_id}", self._timeout)
        except NodeError:
            return error_response(404, "supervision-not-found", "no such supervision of this call",
                                  field="supervision_id")
        await self._audit(request, "stop", tenant, call_uuid, claims, supervision_id=supervision_id)
        return Response(status_code=204)     # hung up either way: ending a supervision is never refused

    def routes(self) -> list[ApiRoute]:
        base = "/api/v1/tenants/{tenant}/calls/{call_uuid}/supervision"
        return [
            ApiRoute(base, self.start, "POST", Operation(
                "Ring a supervisor's device and listen in on an agent's call", (201,), SupervisionAnswer,
                body=SupervisionStart, errors=errors(403, 404, 409, 422, 503), tags=["supervision"])),
            ApiRoute(base + "/{supervision_id}", self.switch, "PUT", Operation(
                "Switch a supervision between listen, whisper and barge", (200,), SupervisionAnswer,
                body=SupervisionSwitch, errors=errors(403, 404, 409, 422, 503), tags=["supervision"])),
            ApiRoute(base + "/{supervision_id}", self.stop, "DELETE", Operation(
                "End a supervision (hang the supervisor's leg up)", (204,), None,
                errors=errors(403, 404, 422), tags=["supervision"])),
        ]
