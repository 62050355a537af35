"""The gRPC bootstrap: health is open, every other call needs a valid token."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.errors import StartupError
from hibiki.common.rpc import GrpcServer, token_metadata
from support.servers import free_port

AUTHORITY = TokenAuthority(b"k" * 40)


async def test_health_open_other_calls_need_a_token() -> None:
    server = GrpcServer(AUTHORITY, "127.0.0.1", free_port(), "test gRPC")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING

            acd = acd_pb2_grpc.AcdServiceStub(channel)
            request = acd_pb2.GetAgentSnapshotRequest(tenant="t1", agent_id="a1")
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await acd.GetAgentSnapshot(request)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "bearer token" in (refused.value.details() or "")

            forged = TokenAuthority(b"x" * 40).issue(Claims("mallory", "service"))
            with pytest.raises(grpc.aio.AioRpcError) as forged_err:
                await acd.GetAgentSnapshot(request, metadata=token_metadata(forged))
            assert forged_err.value.code() == grpc.StatusCode.UNAUTHENTICATED

            stream = acd.StreamAssignments(acd_pb2.StreamAssignmentsRequest(tenant="t1"))
            with pytest.raises(grpc.aio.AioRpcError) as stream_err:
                async for _ in stream:
                    pass
            assert stream_err.value.code() == grpc.StatusCode.UNAUTHENTICATED

            # With a valid token the call passes the check and reaches the (not yet served) method.
            good = AUTHORITY.issue(Claims("callcontrol", "service"))
            with pytest.raises(grpc.aio.AioRpcError) as passed:
                await acd.GetAgentSnapshot(request, metadata=token_metadata(good))
            assert passed.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(0)


async def test_port_in_use_is_one_clear_error() -> None:
    first = GrpcServer(AUTHORITY, "127.0.0.1", free_port(), "acd gRPC")
    await first.start()
    try:
        second = GrpcServer(AUTHORITY, "127.0.0.1", first.port, "acd gRPC")
        with pytest.raises(StartupError, match=f"acd gRPC: cannot listen on 127.0.0.1:{first.port}"):
            await second.start()
    finally:
        await first.stop(0)
