"""The ACD service frame: gRPC health open, tokens required, tenants checked, errors mapped."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common.auth import Claims
from hibiki.common.rpc import token_metadata
from hibiki.events.v1 import agent_pb2
from support.servers import running


async def test_grpc_and_http_frames(make_config: Any, authority: Any, service_token: str, tenant: str) -> None:
    config = make_config()
    async with running(main, config):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{config.grpc_port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            stub = acd_pb2_grpc.AcdServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="water"))
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            other = authority.issue(Claims("desk", "user", "someone-else", ("admin",)))
            with pytest.raises(grpc.aio.AioRpcError) as foreign:
                await stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="water"),
                                   metadata=token_metadata(other))
            assert foreign.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.aio.AioRpcError) as unowned:
                await stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="water"),
                                   metadata=token_metadata(service_token))
            assert unowned.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "no queues or agents configured" in (unowned.value.details() or "")
        base = f"http://127.0.0.1:{config.port}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{base}/healthz")).status_code == 200
            assert (await client.get(f"{base}/readyz")).json()["checks"] == {"nats": True, "replica": True}
            assert (await client.get(f"{base}/api/v1/info")).status_code == 401
            info = await client.get(f"{base}/api/v1/info", headers={"Authorization": f"Bearer {service_token}"})
            assert info.json()["grpc_port"] == config.grpc_port and info.json()["caller"] == "tests"
            assert info.json()["replica"] == config.replica_id


async def test_domain_errors_map_to_grpc_status_codes(make_config: Any, clients: Any, tenant: str) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/q", {})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a1", {"queues": ["q"]})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a2", {"queues": ["q"]})

        async def code(call: Any, request: Any) -> tuple[grpc.StatusCode, str]:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await call(request, metadata=c.metadata)
            ids = dict(failed.value.trailing_metadata() or ())
            return failed.value.code(), str(ids.get("acd-error-id", ""))

        s = c.stub
        assert await code(s.Enqueue, acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="nope")) == \
            (grpc.StatusCode.NOT_FOUND, "unknown-queue")
        assert await code(s.AgentLogin, acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="zz", device="d")) == \
            (grpc.StatusCode.NOT_FOUND, "unknown-agent")
        assert await code(s.EndCall, acd_pb2.EndCallRequest(tenant=tenant, call_uuid="nope")) == \
            (grpc.StatusCode.NOT_FOUND, "unknown-call")
        assert await code(s.Enqueue, acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="", queue_id="q")) == \
            (grpc.StatusCode.INVALID_ARGUMENT, "invalid-argument")
        await s.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="q"), metadata=c.metadata)
        assert await code(s.Enqueue, acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="q")) == \
            (grpc.StatusCode.ALREADY_EXISTS, "call-exists")
        assert await code(s.ReportOffer, acd_pb2.ReportOfferRequest(
            tenant=tenant, call_uuid="c1", agent_id="a1", outcome=acd_pb2.OFFER_OUTCOME_ANSWERED)) == \
            (grpc.StatusCode.FAILED_PRECONDITION, "no-such-offer")
        await s.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="d1", ready=True),
                           metadata=c.metadata)   # takes c1 at once
        await s.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="c1", agent_id="a1",
                                                       outcome=acd_pb2.OFFER_OUTCOME_ANSWERED), metadata=c.metadata)
        assert await code(s.AgentLogin, acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a2", device="d1")) == \
            (grpc.StatusCode.FAILED_PRECONDITION, "device-in-use")
        assert await code(s.AgentLogout, acd_pb2.AgentLogoutRequest(tenant=tenant, agent_id="a1")) == \
            (grpc.StatusCode.FAILED_PRECONDITION, "agent-busy")
        assert await code(s.Cancel, acd_pb2.CancelRequest(tenant=tenant, call_uuid="c1", reason="abandoned")) == \
            (grpc.StatusCode.FAILED_PRECONDITION, "invalid-state")
        assert (await code(s.Cancel, acd_pb2.CancelRequest(tenant=tenant, call_uuid="c1", reason="max wait")))[0] == \
            grpc.StatusCode.INVALID_ARGUMENT
        assert (await code(s.SetAgentState, acd_pb2.SetAgentStateRequest(
            tenant=tenant, agent_id="a2", state=agent_pb2.AGENT_STATE_TALKING)))[0] == grpc.StatusCode.INVALID_ARGUMENT
        await s.EndCall(acd_pb2.EndCallRequest(tenant=tenant, call_uuid="c1"), metadata=c.metadata)
        assert await code(s.SaveDisposition, acd_pb2.SaveDispositionRequest(
            tenant=tenant, agent_id="a1", call_uuid="other", case_type="x")) == (grpc.StatusCode.NOT_FOUND,
                                                                                 "unknown-call")
        # cancel: "" is abandoned
        await s.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c2", queue_id="q"), metadata=c.metadata)
        await s.Cancel(acd_pb2.CancelRequest(tenant=tenant, call_uuid="c2"), metadata=c.metadata)
        stats = (await c.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()
        assert stats["abandoned"] == 1 and stats["cancelled"] == 0
        snapshot = await s.GetQueueSnapshot(acd_pb2.GetQueueSnapshotRequest(tenant=tenant, queue_id="q"),
                                            metadata=c.metadata)
        assert snapshot.queue_id == "q" and list(snapshot.waiting) == [] and snapshot.agents_busy == 1
