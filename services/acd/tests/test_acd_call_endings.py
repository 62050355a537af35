"""Calls FreeSWITCH ended (``call.ended`` from callcontrol's inbound sockets) close what
callcontrol could not report: a talking agent goes to after-call work, a waiting call is
abandoned, and a call the ACD no longer has changes nothing."""

from __future__ import annotations

from typing import Any

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from hibiki.common import bus
from hibiki.events.v1 import agent_pb2, call_pb2, meta_pb2
from support.servers import running


async def hung_up(nats_client: Any, tenant: str, call_uuid: str) -> None:
    ended = call_pb2.CallEnded(meta=meta_pb2.EventMeta(id=f"end-{call_uuid}", tenant=tenant, call_uuid=call_uuid),
                               hangup_cause="NORMAL_CLEARING")
    await nats_client.publish(bus.subject(tenant, "call", "ended"), ended.SerializeToString())


async def test_calls_ended_in_freeswitch_close_what_callcontrol_did_not_report(
        make_config: Any, clients: Any, tenant: str, events: Any, nats_client: Any) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/water", {})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a1", {"skills": {}, "queues": ["water"]})
        await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="seat-1", ready=True),
                                metadata=c.metadata)
        await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="talking", queue_id="water"),
                             metadata=c.metadata)
        await c.stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="talking", agent_id="a1",
                                                            outcome=acd_pb2.OFFER_OUTCOME_ANSWERED), metadata=c.metadata)
        await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="waiting", queue_id="water"),
                             metadata=c.metadata)

        await hung_up(nats_client, tenant, "talking")       # callcontrol restarted: no EndCall came
        ended = await events.next("acd.ended")
        agent = await c.stub.GetAgentSnapshot(acd_pb2.GetAgentSnapshotRequest(tenant=tenant, agent_id="a1"),
                                              metadata=c.metadata)
        await hung_up(nats_client, tenant, "waiting")
        left = await events.next("acd.left")
        await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="later", queue_id="water"),
                             metadata=c.metadata)
        await hung_up(nats_client, tenant, "talking")       # again, and one the ACD never had: nothing
        await hung_up(nats_client, tenant, "unknown")
        await hung_up(nats_client, tenant, "later")         # handled after those (one subscription, in order)
        await events.next("acd.left", lambda m: m.meta.call_uuid == "later")
        snapshot = await c.stub.GetQueueSnapshot(acd_pb2.GetQueueSnapshotRequest(tenant=tenant, queue_id="water"),
                                                 metadata=c.metadata)
    assert ended.meta.call_uuid == "talking" and ended.agent_id == "a1"
    assert agent.state == agent_pb2.AGENT_STATE_AFTER_CALL_WORK and agent.call_uuid == "talking"
    assert left.meta.call_uuid == "waiting" and left.reason == "abandoned"
    assert not snapshot.waiting and len(events.of("acd.ended")) == 1 and len(events.of("acd.left")) == 2
