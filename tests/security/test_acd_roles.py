"""Issue 10 item 4: the admin API's rule (``Claims.refusal``) on every RPC of AcdService, the ACD's
forwarding method and DirectoryService (a malformed request
from a token that may not make it is refused as such, before its argument is judged). Tokens of every role walk every RPC; a violation is an
RPC that succeeded for a token that may not make it, or was refused (PERMISSION_DENIED) to one
that may. Printed: RPCs x roles walked and violations (0).

Rule: service tokens for every tenant, platform admins and the tenant's ``admin`` may do
everything; its ``viewer`` reads; a token with the role ``agent`` acts on its own agent only
(the agent-desktop RPCs, its own snapshot); everything else (no role, another tenant, another
agent) is refused."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.rpc import token_metadata
from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc
from hibiki.events.v1 import agent_pb2
from support.acd import acd_with_directory

READ, WRITE, DESK, DESK_READ = "read", "write", "desk", "desk-read"   # what an RPC needs


@dataclasses.dataclass(frozen=True)
class Role:
    name: str
    claims: Callable[[str], Claims]
    may: frozenset[str]          # the kinds of RPC it may make (on agent a1)


ROLES = [
    Role("service", lambda t: Claims("callcontrol", "service"), frozenset({READ, WRITE, DESK, DESK_READ})),
    Role("platform-admin", lambda t: Claims("root", "user", "*", ("platform-admin",)),
         frozenset({READ, WRITE, DESK, DESK_READ})),
    Role("admin", lambda t: Claims("kanri", "user", t, ("admin",)), frozenset({READ, WRITE, DESK, DESK_READ})),
    Role("viewer", lambda t: Claims("miru", "user", t, ("viewer",)), frozenset({READ, DESK_READ})),
    Role("agent a1 (itself)", lambda t: Claims("a1", "user", t, ("agent",)), frozenset({DESK, DESK_READ})),
    Role("agent a2 (on a1)", lambda t: Claims("a2", "user", t, ("agent",)), frozenset()),
    Role("no role", lambda t: Claims("dareka", "user", t, ()), frozenset()),
    Role("agent and viewer a2", lambda t: Claims("a2", "user", t, ("agent", "viewer")), frozenset({READ, DESK_READ})),
    Role("other tenant's admin", lambda t: Claims("yoso", "user", "elsewhere", ("admin",)), frozenset()),
    Role("other tenant's agent a1", lambda t: Claims("a1", "user", "elsewhere", ("agent",)), frozenset()),
    Role("tenant-scoped service", lambda t: Claims("svc", "service", t), frozenset()),
]
Attempt = Callable[[Any, Any, tuple[tuple[str, str], ...]], Awaitable[Any]]


def acd_rpcs(tenant: str) -> dict[str, tuple[str, Attempt]]:
    def call() -> str:
        return f"c-{uuid.uuid4().hex[:8]}"
    return {
        "AcdService/Enqueue": (WRITE, lambda s, ch, md: s.Enqueue(acd_pb2.EnqueueRequest(
            tenant=tenant, call_uuid=call(), queue_id="q"), metadata=md)),
        "AcdService/Enqueue (malformed)": (WRITE, lambda s, ch, md: s.Enqueue(acd_pb2.EnqueueRequest(
            tenant=tenant, call_uuid=call(), queue_id="q", skills=["x:0"]), metadata=md)),
        "AcdService/Cancel": (WRITE, lambda s, ch, md: s.Cancel(acd_pb2.CancelRequest(tenant=tenant, call_uuid="none"),
                                                                 metadata=md)),
        "AcdService/ReportOffer": (WRITE, lambda s, ch, md: s.ReportOffer(acd_pb2.ReportOfferRequest(
            tenant=tenant, call_uuid="none", agent_id="a1", outcome=acd_pb2.OFFER_OUTCOME_RINGING), metadata=md)),
        "AcdService/EndCall": (WRITE, lambda s, ch, md: s.EndCall(acd_pb2.EndCallRequest(
            tenant=tenant, call_uuid="none"), metadata=md)),
        "AcdService/AgentLogin": (DESK, lambda s, ch, md: s.AgentLogin(acd_pb2.AgentLoginRequest(
            tenant=tenant, agent_id="a1", device="seat-1"), metadata=md)),
        "AcdService/SetAgentState": (DESK, lambda s, ch, md: s.SetAgentState(acd_pb2.SetAgentStateRequest(
            tenant=tenant, agent_id="a1", state=agent_pb2.AGENT_STATE_NOT_READY), metadata=md)),
        "AcdService/SaveDisposition": (DESK, lambda s, ch, md: s.SaveDisposition(acd_pb2.SaveDispositionRequest(
            tenant=tenant, agent_id="a1", call_uuid="none", case_type="1"), metadata=md)),
        "AcdService/AgentLogout": (DESK, lambda s, ch, md: s.AgentLogout(acd_pb2.AgentLogoutRequest(
            tenant=tenant, agent_id="a1"), metadata=md)),
        "AcdService/GetAgentSnapshot": (DESK_READ, lambda s, ch, md: s.GetAgentSnapshot(
            acd_pb2.GetAgentSnapshotRequest(tenant=tenant, agent_id="a1"), metadata=md)),
        "AcdService/GetQueueSnapshot": (READ, lambda s, ch, md: s.GetQueueSnapshot(acd_pb2.GetQueueSnapshotRequest(
            tenant=tenant, queue_id="q"), metadata=md)),
        "AcdService/GetCall": (READ, lambda s, ch, md: s.GetCall(acd_pb2.GetCallRequest(
            tenant=tenant, call_uuid="none"), metadata=md)),
        "AcdService/StreamAssignments": (READ, lambda s, ch, md: _stream(s, tenant, md)),
        "Peer/Execute login": (DESK, lambda s, ch, md: _peer(ch, md, tenant, "login",
                                                              {"agent_id": "a1", "device": "seat-2"})),
        "Peer/Execute enqueue": (WRITE, lambda s, ch, md: _peer(ch, md, tenant, "enqueue",
                                                                 {"call_id": call(), "queue_id": "q"})),
        "Peer/Execute remove_agent": (WRITE, lambda s, ch, md: _peer(ch, md, tenant, "remove_agent",
                                                                      {"agent_id": "ghost"})),
        "Peer/Execute queue_stats": (READ, lambda s, ch, md: _peer(ch, md, tenant, "queue_stats", {"queue_id": "q"})),
    }


def directory_rpcs(tenant: str) -> dict[str, tuple[str, Attempt]]:
    return {
        "DirectoryService/GetUser": (READ, lambda s, ch, md: s.GetUser(directory_pb2.GetUserRequest(
            tenant=tenant, user_id="seat-1"), metadata=md)),
        "DirectoryService/ResolveNumber": (READ, lambda s, ch, md: s.ResolveNumber(directory_pb2.ResolveNumberRequest(
            tenant=tenant, number="2001"), metadata=md)),
        "DirectoryService/GetTenantVersion": (READ, lambda s, ch, md: s.GetTenantVersion(
            directory_pb2.GetTenantVersionRequest(tenant=tenant), metadata=md)),
        "DirectoryService/GetIvr": (READ, lambda s, ch, md: s.GetIvr(directory_pb2.GetIvrRequest(
            tenant=tenant, ivr_id="none"), metadata=md)),
        "DirectoryService/ResolveDevice": (READ, lambda s, ch, md: s.ResolveDevice(directory_pb2.ResolveDeviceRequest(
            tenant=tenant, device="seat-1"), metadata=md)),
    }


async def _stream(stub: Any, tenant: str, md: Any) -> None:
    """Subscribed (initial metadata) and not ended: allowed; ended with a status: that status."""
    stream = stub.StreamAssignments(acd_pb2.StreamAssignmentsRequest(tenant=tenant), metadata=md)
    try:
        await asyncio.wait_for(stream.initial_metadata(), 10)
        await asyncio.sleep(0.05)
        if stream.done():
            code = await stream.code()
            if code != grpc.StatusCode.OK:
                raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), await stream.details())
    finally:
        stream.cancel()


async def _peer(channel: Any, md: Any, tenant: str, op: str, args: dict[str, Any]) -> bytes:
    execute = channel.unary_unary("/hibiki.acd.internal.Peer/Execute")
    reply: bytes = await execute(json.dumps({"tenant": tenant, "op": op, "args": args}).encode(), metadata=md,
                                 timeout=10)
    return reply


async def test_every_role_on_every_rpc(tmp_path: Path, nats_server: Any, nats_client: Any,
                                       authority: TokenAuthority) -> None:
    tenant = f"rl{uuid.uuid4().hex[:10]}"
    violations: list[str] = []
    walked = 0
    async with acd_with_directory(tmp_path, nats_server, nats_client, authority, tenant) as (acd, directory), \
            grpc.aio.insecure_channel(f"127.0.0.1:{acd.grpc_port}") as acd_channel, \
            grpc.aio.insecure_channel(directory) as directory_channel:
        services = [(acd_pb2_grpc.AcdServiceStub(acd_channel), acd_channel, acd_rpcs(tenant)),
                    (directory_pb2_grpc.DirectoryServiceStub(directory_channel), directory_channel,
                     directory_rpcs(tenant))]
        for role in ROLES:
            md = token_metadata(authority.issue(role.claims(tenant)))
            for stub, channel, rpcs in services:
                for name, (kind, attempt) in rpcs.items():
                    walked += 1
                    try:
                        await attempt(stub, channel, md)
                        refused, outcome = False, "OK"
                    except grpc.aio.AioRpcError as exc:
                        assert exc.code() != grpc.StatusCode.UNAUTHENTICATED, (role.name, name)
                        refused, outcome = exc.code() == grpc.StatusCode.PERMISSION_DENIED, exc.code().name
                    if refused == (kind in role.may):
                        violations.append(f"{role.name} {name}: {outcome} (needs {kind})")
    print(f"\nrole x RPC: {len(ROLES)} roles x {walked // len(ROLES)} RPCs = {walked} calls, "
          f"violations: {len(violations)}")
    for line in violations:
        print("  " + line)
    assert walked == len(ROLES) * 22 and violations == []
