"""The ACD's own deadlines fire in the running service, from its timer task (no polling):
an offer nobody answers, and the maximum wait."""

from __future__ import annotations

import time
from typing import Any

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from hibiki.events.v1 import agent_pb2
from support.servers import running


async def test_an_unanswered_offer_is_missed_and_the_call_requeued(make_config: Any, clients: Any, tenant: str,
                                                                  events: Any) -> None:
    config = make_config(offer_grace_seconds=0.2)
    async with running(main, config):
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/q", {"offer_timeout_seconds": 0.5, "missed_offer_limit": 1})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a1", {"queues": ["q"]})
        await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="d1", ready=True),
                                metadata=c.metadata)
        started = time.monotonic()
        await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="q"), metadata=c.metadata)
        assert (await events.next("acd.offered")).ring_seconds == 1
        missed = await events.next("acd.offer_missed")
        elapsed = time.monotonic() - started
        assert missed.agent_id == "a1" and missed.reason == "no answer" and missed.meta.call_uuid == "c1"
        assert 0.6 <= elapsed < 3.0          # the offer timeout plus the grace, not a polling interval
        assert (await events.next("acd.requeued")).queue_id == "q"
        paused = await events.next("agent.state_changed", lambda m: m.current == agent_pb2.AGENT_STATE_NOT_READY)
        assert paused.agent_id == "a1"
        status = await c.stub.GetCall(acd_pb2.GetCallRequest(tenant=tenant, call_uuid="c1"), metadata=c.metadata)
        assert status.state == acd_pb2.QUEUED_CALL_STATE_WAITING and status.position == 1


async def test_the_maximum_wait_sends_the_caller_to_its_destination(make_config: Any, clients: Any, tenant: str,
                                                                    events: Any) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/q",
                    {"max_wait": {"seconds": 0.5, "destination": "voicemail:100"}})
        started = time.monotonic()
        reply = await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c9", queue_id="q"),
                                     metadata=c.metadata)
        assert reply.position == 1
        left = await events.next("acd.left")
        assert time.monotonic() - started < 3.0
        assert (left.meta.call_uuid, left.queue_id, left.reason, left.destination) == \
            ("c9", "q", "max_wait", "voicemail:100")
        assert left.wait_ms >= 500
        stats = (await c.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()
        assert stats["waiting"] == [] and stats["timed_out"] == 1 and stats["entered"] == 1
