"""``hibiki.acd.v1.AcdService``: each method turns the request into an operation (``runtime.ops``),
checks the token may run it (``access``: the admin API's roles, an agent only on itself),
resolves a login's device through the directory (``rpc.devices``) and sends it through the
owner routing; the reply is built from the operation's JSON result. StreamAssignments is served
by any replica from the ``acd.offered`` events on NATS. Status codes: ``rpc.status``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from nats.aio.client import Client

from hibiki.acd import access
from hibiki.acd.domain import AcdError
from hibiki.acd.rpc.convert import agent_snapshot, call_status, enqueue_args, queue_snapshot
from hibiki.acd.rpc.devices import DirectoryDevices, DirectoryUnavailable, admitted
from hibiki.acd.rpc.status import abort_with
from hibiki.acd.runtime.buckets import valid_id
from hibiki.acd.runtime.replica import NotOwner
from hibiki.acd.runtime.router import Router
from hibiki.acd.runtime.tenant import TenantLost
from hibiki.acd.runtime.views import Json
from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common import bus
from hibiki.common.auth import InvalidToken, TokenAuthority
from hibiki.common.logging import get_logger
from hibiki.events.v1 import acd_pb2 as events_pb2
from hibiki.events.v1 import agent_pb2

log = get_logger("hibiki.acd.rpc")
Context = Any   # grpc.aio.ServicerContext (grpc has no type information)
OUTCOMES = {acd_pb2.OFFER_OUTCOME_RINGING: "ringing", acd_pb2.OFFER_OUTCOME_ANSWERED: "answered",
            acd_pb2.OFFER_OUTCOME_REJECTED: "rejected", acd_pb2.OFFER_OUTCOME_NO_ANSWER: "no_answer"}
CHOSEN = {agent_pb2.AGENT_STATE_READY: "ready", agent_pb2.AGENT_STATE_BREAK: "break",
          agent_pb2.AGENT_STATE_NOT_READY: "not_ready", agent_pb2.AGENT_STATE_LOGGED_OUT: "logged_out"}
CANCEL_REASONS = {"": "abandoned", "abandoned": "abandoned", "cancelled": "cancelled", "node_lost": "node_lost"}


class AcdService(acd_pb2_grpc.AcdServiceServicer):
    def __init__(self, router: Router, authority: TokenAuthority, nc: Client, devices: DirectoryDevices) -> None:
        self._router, self._authority, self._nc, self._devices = router, authority, nc, devices

    async def _authorize(self, tenant: str, op: str, args: Json, context: Context) -> str | None:
        header = dict(context.invocation_metadata() or ()).get("authorization")
        header = header if isinstance(header, str) else None
        try:
            claims = self._authority.verify_header(header)
        except InvalidToken as exc:   # the interceptor lets no such call through; be safe anyway
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise
        if not valid_id(tenant):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the request needs a tenant id "
                                "(1-64 letters, digits, '-' or '_')")
        refused = access.refusal(claims, tenant, op, args)
        if refused is not None:
            log.info("rpc_refused", tenant=tenant, op=op, subject=claims.subject, reason=refused)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{refused} (tenant {tenant!r}, {op})")
        return header

    async def _run(self, tenant: str, op: str, args: Json, context: Context, problem: str = "") -> Json:
        """Authorize, then refuse a malformed request (``problem``: nothing is said about a request
        to a caller who may not make it), then run the operation on the tenant's owner."""
        authorization = await self._authorize(tenant, op, args, context)
        if problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        try:
            args = await admitted(self._devices, tenant, op, args)
            return await self._router.run(tenant, op, args, authorization)
        except DirectoryUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except AcdError as exc:
            log.info("acd_refused", tenant=tenant, op=op, error_id=exc.error_id, reason=exc.message)
            await abort_with(context, exc)
        except (NotOwner, TenantLost) as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        raise AssertionError("unreachable")   # pragma: no cover (abort raises)

    async def Enqueue(self, request: acd_pb2.EnqueueRequest, context: Context) -> acd_pb2.EnqueueResponse:  # noqa: N802
        try:
            args, problem = enqueue_args(request), ""
        except ValueError as exc:
            args, problem = {}, str(exc)
        result = await self._run(request.tenant, "enqueue", args, context, problem)
        return acd_pb2.EnqueueResponse(position=result["position"], expected_wait_ms=result["expected_wait_ms"])

    async def Cancel(self, request: acd_pb2.CancelRequest, context: Context) -> acd_pb2.CancelResponse:  # noqa: N802
        reason = CANCEL_REASONS.get(request.reason)
        problem = "" if reason else f"a cancel reason is abandoned, cancelled or node_lost, not {request.reason[:80]!r}"
        await self._run(request.tenant, "cancel", {"call_id": request.call_uuid, "reason": reason}, context, problem)
        return acd_pb2.CancelResponse()

    async def AgentLogin(self, request: acd_pb2.AgentLoginRequest, context: Context) -> acd_pb2.AgentSnapshot:  # noqa: N802
        return agent_snapshot(await self._run(request.tenant, "login", {
            "agent_id": request.agent_id, "device": request.device, "ready": request.ready}, context))

    async def AgentLogout(self, request: acd_pb2.AgentLogoutRequest, context: Context) -> acd_pb2.AgentSnapshot:  # noqa: N802
        return agent_snapshot(await self._run(request.tenant, "logout", {"agent_id": request.agent_id}, context))

    async def SetAgentState(self, request: acd_pb2.SetAgentStateRequest,  # noqa: N802
                            context: Context) -> acd_pb2.AgentSnapshot:
        state = CHOSEN.get(request.state)
        problem = "" if state else "an agent chooses READY, BREAK (with a reason), NOT_READY or LOGGED_OUT"
        return agent_snapshot(await self._run(request.tenant, "set_state", {
            "agent_id": request.agent_id, "state": state, "reason": request.reason}, context, problem))

    async def SaveDisposition(self, request: acd_pb2.SaveDispositionRequest,  # noqa: N802
                              context: Context) -> acd_pb2.AgentSnapshot:
        return agent_snapshot(await self._run(request.tenant, "save_disposition", {
            "agent_id": request.agent_id, "call_id": request.call_uuid, "case_type": request.case_type,
            "note": request.note}, context))

    async def GetQueueSnapshot(self, request: acd_pb2.GetQueueSnapshotRequest,  # noqa: N802
                               context: Context) -> acd_pb2.QueueSnapshot:
        return queue_snapshot(await self._run(request.tenant, "queue_stats", {"queue_id": request.queue_id}, context))

    async def GetAgentSnapshot(self, request: acd_pb2.GetAgentSnapshotRequest,  # noqa: N802
                               context: Context) -> acd_pb2.AgentSnapshot:
        return agent_snapshot(await self._run(request.tenant, "agent", {"agent_id": request.agent_id,
                                                                        "device": request.device}, context))

    async def ReportOffer(self, request: acd_pb2.ReportOfferRequest,  # noqa: N802
                          context: Context) -> acd_pb2.ReportOfferResponse:
        outcome = OUTCOMES.get(request.outcome)
        problem = "" if outcome else "an offer outcome is RINGING, ANSWERED, REJECTED or NO_ANSWER"
        await self._run(request.tenant, "report_offer", {
            "call_id": request.call_uuid, "agent_id": request.agent_id, "outcome": outcome}, context, problem)
        return acd_pb2.ReportOfferResponse()

    async def EndCall(self, request: acd_pb2.EndCallRequest, context: Context) -> acd_pb2.EndCallResponse:  # noqa: N802
        result = await self._run(request.tenant, "end_call", {"call_id": request.call_uuid}, context)
        return acd_pb2.EndCallResponse(agent_id=result["agent_id"], talk_ms=result["talk_ms"])

    async def GetCall(self, request: acd_pb2.GetCallRequest, context: Context) -> acd_pb2.CallStatus:  # noqa: N802
        return call_status(await self._run(request.tenant, "call", {"call_id": request.call_uuid}, context))

    async def StreamAssignments(self, request: acd_pb2.StreamAssignmentsRequest,  # noqa: N802
                                context: Context) -> AsyncIterator[acd_pb2.Assignment]:
        """Every target of every CallOffer published for the tenant, until the client goes away."""
        await self._authorize(request.tenant, "stream_assignments", {}, context)
        offers: asyncio.Queue[bytes] = asyncio.Queue()

        async def received(msg: Any) -> None:
            offers.put_nowait(msg.data)

        sub = await self._nc.subscribe(bus.subject(request.tenant, "acd", "offered"), cb=received)
        try:
            await self._nc.flush()
            await context.send_initial_metadata(())
            while True:
                offer = events_pb2.CallOffer.FromString(await offers.get())
                for target in offer.targets:
                    yield acd_pb2.Assignment(
                        call_uuid=offer.meta.call_uuid, queue_id=offer.queue_id, agent_id=target.agent_id,
                        device=target.device, attempt=offer.attempt, ring_seconds=offer.ring_seconds,
                        ring_all=len(offer.targets) > 1, caller_number=offer.caller_number,
                        ivr_path=list(offer.ivr_path))
        finally:
            await sub.unsubscribe()
