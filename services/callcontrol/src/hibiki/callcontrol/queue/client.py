"""The ACD as callcontrol uses it: ``hibiki.acd.v1.AcdService`` over gRPC (asyncio).

Requests carry callcontrol's service token and a deadline. ``AcdUnavailable`` means the ACD
could not be asked (down, restarting, slow): the caller keeps waiting and callcontrol asks
again; ``AcdRefused`` means it answered no (an unknown queue, an offer no longer current).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.callcontrol.ivr.instructions import Step
from hibiki.callcontrol.ivr.notifier import ivr_steps
from hibiki.callcontrol.ivr.source import ServiceToken
from hibiki.common.logging import get_logger
from hibiki.common.rpc import token_metadata
from hibiki.events.v1 import agent_pb2

log = get_logger("hibiki.callcontrol.acd")
_UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
                grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.RESOURCE_EXHAUSTED)


class AcdUnavailable(Exception):
    """The ACD could not answer (``acd-unavailable``)."""

    error_id = "acd-unavailable"


class AcdRefused(Exception):
    """The ACD answered with an error: ``code`` is the gRPC status name (NOT_FOUND, ...)."""

    error_id = "acd-refused"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AcdClient:
    """A component (start/stop on the service's event loop)."""

    def __init__(self, address: str, token: ServiceToken, timeout: float = 2.0) -> None:
        self.address = address
        self._token, self._timeout = token, timeout
        self._channel: Any = None
        self._stub: Any = None

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.address)
        self._stub = acd_pb2_grpc.AcdServiceStub(self._channel)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    async def enqueue(self, tenant: str, call_uuid: str, queue_id: str, *, caller: str = "", priority: int = 0,
                      skills: Sequence[str] = (), path: Sequence[Step] = (), node: str = "") -> acd_pb2.EnqueueResponse:
        """Enter the queue. Asking again for a call already in (a retry after a lost reply) is
        not an error: the call keeps its place. ``node``: the FreeSWITCH node of the caller's
        channel (the ACD drops the call as node_lost when no callcontrol reaches it any more)."""
        request = acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call_uuid, queue_id=queue_id,
                                         caller_number=caller, priority=priority, skills=list(skills),
                                         ivr_path=ivr_steps(path), node=node)
        try:
            reply: acd_pb2.EnqueueResponse = await self._call("Enqueue", request)
        except AcdRefused as refused:
            if refused.code != "ALREADY_EXISTS":
                raise
            status = await self.get_call(tenant, call_uuid)
            return acd_pb2.EnqueueResponse(position=status.position, expected_wait_ms=status.expected_wait_ms)
        return reply

    async def cancel(self, tenant: str, call_uuid: str, reason: str = "abandoned") -> None:
        await self._call("Cancel", acd_pb2.CancelRequest(tenant=tenant, call_uuid=call_uuid, reason=reason))

    async def report(self, tenant: str, call_uuid: str, agent_id: str, outcome: acd_pb2.OfferOutcome.ValueType) -> None:
        await self._call("ReportOffer", acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid=call_uuid,
                                                                   agent_id=agent_id, outcome=outcome))

    async def end_call(self, tenant: str, call_uuid: str) -> acd_pb2.EndCallResponse:
        reply: acd_pb2.EndCallResponse = await self._call("EndCall", acd_pb2.EndCallRequest(
            tenant=tenant, call_uuid=call_uuid))
        return reply

    async def get_call(self, tenant: str, call_uuid: str) -> acd_pb2.CallStatus:
        reply: acd_pb2.CallStatus = await self._call("GetCall", acd_pb2.GetCallRequest(tenant=tenant,
                                                                                     call_uuid=call_uuid))
        return reply

    # ---- agents (feature codes from phones: hibiki.callcontrol.agent) ----
    async def agent_login(self, tenant: str, agent_id: str, device: str, ready: bool) -> acd_pb2.AgentSnapshot:
        reply: acd_pb2.AgentSnapshot = await self._call("AgentLogin", acd_pb2.AgentLoginRequest(
            tenant=tenant, agent_id=agent_id, device=device, ready=ready))
        return reply

    async def agent_logout(self, tenant: str, agent_id: str) -> acd_pb2.AgentSnapshot:
        reply: acd_pb2.AgentSnapshot = await self._call("AgentLogout", acd_pb2.AgentLogoutRequest(
            tenant=tenant, agent_id=agent_id))
        return reply

    async def set_agent_state(self, tenant: str, agent_id: str, state: agent_pb2.AgentState.ValueType,
                              reason: str = "") -> acd_pb2.AgentSnapshot:
        reply: acd_pb2.AgentSnapshot = await self._call("SetAgentState", acd_pb2.SetAgentStateRequest(
            tenant=tenant, agent_id=agent_id, state=state, reason=reason))
        return reply

    async def save_disposition(self, tenant: str, agent_id: str, call_uuid: str,
                               case_type: str) -> acd_pb2.AgentSnapshot:
        reply: acd_pb2.AgentSnapshot = await self._call("SaveDisposition", acd_pb2.SaveDispositionRequest(
            tenant=tenant, agent_id=agent_id, call_uuid=call_uuid, case_type=case_type))
        return reply

    async def agent_on_device(self, tenant: str, device: str) -> acd_pb2.AgentSnapshot:
        """The agent logged in on ``device`` (NOT_FOUND: nobody)."""
        reply: acd_pb2.AgentSnapshot = await self._call("GetAgentSnapshot", acd_pb2.GetAgentSnapshotRequest(
            tenant=tenant, device=device))
        return reply

    async def _call(self, method: str, request: Any) -> Any:
        if self._stub is None:
            raise AcdUnavailable(f"{method}: the ACD client is not started")
        try:
            return await getattr(self._stub, method)(request, metadata=token_metadata(self._token.current()),
                                                     timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            what = f"{method} at {self.address}: {code.name} {exc.details() or ''}".rstrip()
            if code in _UNAVAILABLE:
                raise AcdUnavailable(what) from None
            raise AcdRefused(code.name, what) from None


async def agent_on_device(acd: AcdClient, tenant: str, device: str) -> str:
    """The id of the agent logged in on ``device``; "" when nobody is, or the ACD cannot say (a
    recording is then indexed without the agent rather than held back)."""
    try:
        return str((await acd.agent_on_device(tenant, device)).agent_id)
    except AcdRefused:
        return ""
    except AcdUnavailable as exc:
        log.warning("agent_lookup_unavailable", tenant=tenant, device=device, reason=str(exc))
        return ""
