"""A call's way through the running service: configuration over HTTP, calls and agents over
gRPC, the decisions on NATS (CC-01, CC-02, CC-03)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from hibiki.events.v1 import agent_pb2
from support.servers import running


async def test_offer_answer_wrap_up_disposition_then_the_next_offer(make_config: Any, clients: Any, tenant: str,
                                                                   events: Any) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/water", {"offer_timeout_seconds": 30})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a1", {"skills": {}, "queues": ["water"]})
        login = await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="seat-1",
                                                                  ready=True), metadata=c.metadata)
        assert login.state == agent_pb2.AGENT_STATE_READY and login.device == "seat-1"
        on_seat = await c.stub.GetAgentSnapshot(acd_pb2.GetAgentSnapshotRequest(tenant=tenant, device="seat-1"),
                                                metadata=c.metadata)
        assert on_seat.agent_id == "a1"       # a feature code dialled on that seat finds its agent
        with pytest.raises(grpc.aio.AioRpcError) as nobody:
            await c.stub.GetAgentSnapshot(acd_pb2.GetAgentSnapshotRequest(tenant=tenant, device="seat-9"),
                                          metadata=c.metadata)
        assert nobody.value.code() == grpc.StatusCode.NOT_FOUND

        reply = await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="water",
                                                            caller_number="0762001234"), metadata=c.metadata)
        assert reply.position == 0            # offered at once
        queued = await events.next("acd.queued")
        assert queued.meta.call_uuid == "c1" and queued.meta.tenant == tenant and queued.position == 0
        assert queued.meta.source.startswith("acd@") and queued.meta.id
        offer = await events.next("acd.offered")
        assert [(t.agent_id, t.device) for t in offer.targets] == [("a1", "seat-1")]
        assert offer.ring_seconds == 30 and offer.caller_number == "0762001234" and offer.attempt == 1

        # a second call waits behind the busy agent
        second = await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c2", queue_id="water"),
                                      metadata=c.metadata)
        assert second.position == 1 and second.expected_wait_ms == 120_000
        status = await c.stub.GetCall(acd_pb2.GetCallRequest(tenant=tenant, call_uuid="c2"), metadata=c.metadata)
        assert status.state == acd_pb2.QUEUED_CALL_STATE_WAITING and status.position == 1

        report = acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="c1", agent_id="a1",
                                            outcome=acd_pb2.OFFER_OUTCOME_RINGING)
        await c.stub.ReportOffer(report, metadata=c.metadata)
        report.outcome = acd_pb2.OFFER_OUTCOME_ANSWERED
        await c.stub.ReportOffer(report, metadata=c.metadata)
        answered = await events.next("acd.answered")
        assert answered.agent_id == "a1" and answered.queue_id == "water"
        talking = await c.stub.GetCall(acd_pb2.GetCallRequest(tenant=tenant, call_uuid="c1"), metadata=c.metadata)
        assert talking.state == acd_pb2.QUEUED_CALL_STATE_TALKING and talking.agent_id == "a1"

        ended = await c.stub.EndCall(acd_pb2.EndCallRequest(tenant=tenant, call_uuid="c1"), metadata=c.metadata)
        assert ended.agent_id == "a1"
        assert (await events.next("acd.ended")).agent_id == "a1"
        acw = await events.next("agent.state_changed",
                                lambda m: m.current == agent_pb2.AGENT_STATE_AFTER_CALL_WORK)
        assert acw.call_uuid == "c1" and list(acw.queue_ids) == ["water"]
        # CC-03: no offer while the disposition is pending
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await c.stub.SetAgentState(acd_pb2.SetAgentStateRequest(
                tenant=tenant, agent_id="a1", state=agent_pb2.AGENT_STATE_READY), metadata=c.metadata)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert ("acd-error-id", "disposition-required") in tuple(refused.value.trailing_metadata() or ())
        assert len(events.of("acd.offered")) == 1

        unlisted = await c.http.post(f"/api/v1/tenants/{tenant}/agents/a1/disposition",
                                     json={"call_uuid": "c1", "case_type": "billing", "note": "meter"})
        assert unlisted.status_code == 400 and unlisted.json()["error_id"] == "unknown-case-type"
        assert (await c.http.get(f"/api/v1/tenants/{tenant}/agents/a1/state")).json()["pending_disposition"] == "c1"
        menus = {"case_types": [{"id": "billing", "label": "料金"}], "not_ready_reasons": [{"id": "x", "label": "x"}],
                 "break_reasons": [{"id": "lunch", "label": "昼休憩"}]}
        assert (await c.http.put(f"/api/v1/tenants/{tenant}/desk_settings", json=menus)).status_code == 200
        saved = await c.http.post(f"/api/v1/tenants/{tenant}/agents/a1/disposition",
                                  json={"call_uuid": "c1", "case_type": "billing", "note": "meter"})
        assert saved.status_code == 200, saved.text
        disposition = await events.next("agent.disposition_saved")
        assert disposition.case_type == "billing" and disposition.meta.call_uuid == "c1"
        nxt = await events.next("acd.offered")
        assert nxt.meta.call_uuid == "c2" and [t.agent_id for t in nxt.targets] == ["a1"]
        view = (await c.http.get(f"/api/v1/tenants/{tenant}/agents/a1/state")).json()
        assert view["state"] == "reserved" and view["call_id"] == "c2"


async def test_ring_all_is_one_offer_with_every_target(make_config: Any, clients: Any, tenant: str,
                                                      events: Any) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/all", {"strategy": "ring_all"})
        for agent in ("a1", "a2", "a3"):
            await c.put(f"/api/v1/tenants/{tenant}/agents/{agent}", {"queues": ["all"]})
            await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id=agent, device=f"d-{agent}",
                                                              ready=True), metadata=c.metadata)
        stream = c.stub.StreamAssignments(acd_pb2.StreamAssignmentsRequest(tenant=tenant), metadata=c.metadata)
        await stream.initial_metadata()     # subscribed: no assignment can be missed from here
        await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="r1", queue_id="all",
                                                    caller_number="0312345678"), metadata=c.metadata)
        offer = await events.next("acd.offered")
        assert sorted((t.agent_id, t.device) for t in offer.targets) == [("a1", "d-a1"), ("a2", "d-a2"),
                                                                          ("a3", "d-a3")]
        assignments = [await stream.read() for _ in range(3)]
        assert sorted(a.agent_id for a in assignments) == ["a1", "a2", "a3"]
        assert all(a.call_uuid == "r1" and a.ring_all and a.caller_number == "0312345678" for a in assignments)
        stream.cancel()

        await c.stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="r1", agent_id="a2",
                                                            outcome=acd_pb2.OFFER_OUTCOME_ANSWERED),
                                 metadata=c.metadata)
        released = {(await events.next("acd.offer_released")).agent_id for _ in range(2)}
        assert released == {"a1", "a3"}
        assert len(events.of("acd.offered")) == 1
