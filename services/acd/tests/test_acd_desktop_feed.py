"""The desktop feed's reading of the tenant's events (``desktop.feed.about``): any bytes on any
subject give a verdict or None, never an exception; an offer reaches exactly the agents it
targets; another agent's state change never reaches the page. And the attack: a tenant path that
would widen the feed's NATS subscription (wildcards, dots) is refused before any subscription."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hibiki.acd.app import main
from hibiki.acd.desktop.feed import about
from hibiki.events.v1 import acd_pb2, agent_pb2, meta_pb2
from support.servers import running

NAMES = st.sampled_from(["agent.state_changed", "agent.wrap_up_expired", "agent.disposition_saved", "acd.offered",
                         "acd.offer_missed", "acd.offer_released", "acd.queued", "call.ended", ""])
IDS = st.text(alphabet="abc12-_", min_size=1, max_size=6)


@given(st.text(max_size=8), NAMES, st.binary(max_size=200))
def test_any_bytes_on_any_subject_give_a_verdict(agent: str, name: str, data: bytes) -> None:
    found = about(agent, name, data)
    assert found is None or found[0] in ("agent", "offer", "offer_ended")


@given(IDS, st.lists(IDS, max_size=4), st.text(max_size=20), st.lists(st.text(max_size=10), max_size=3))
def test_an_offer_reaches_exactly_its_targets(agent: str, targets: list[str], caller: str, path: list[str]) -> None:
    offer = acd_pb2.CallOffer(meta=meta_pb2.EventMeta(call_uuid="c1"), queue_id="q", caller_number=caller,
                              ivr_path=path, targets=[acd_pb2.OfferTarget(agent_id=t, device="d") for t in targets])
    found = about(agent, "acd.offered", offer.SerializeToString())
    if agent in targets:
        assert found == ("offer", {"call_uuid": "c1", "queue_id": "q", "caller_number": caller, "ivr_path": path,
                                   "ring_seconds": 0, "attempt": 0})
    else:
        assert found is None


@given(IDS, IDS)
def test_only_the_agents_own_state_changes(agent: str, other: str) -> None:
    change = agent_pb2.AgentStateChanged(agent_id=other, current=agent_pb2.AGENT_STATE_READY).SerializeToString()
    found = about(agent, "agent.state_changed", change)
    assert (found is not None) == (agent == other)


async def test_a_tenant_that_would_widen_the_subscription_is_refused(make_config: Any, clients: Any,
                                                                    tenant: str) -> None:
    config = make_config()
    async with running(main, config):
        service = clients(config)          # a service token may act for every tenant
        for hostile in ("%3E", "*", "a.b", "t1.%3E", "%20"):
            reply = await service.http.get(f"/api/v1/tenants/{hostile}/agents/a1/events")
            assert reply.status_code in (400, 404), (hostile, reply.status_code, reply.text)
            if reply.status_code == 400:
                assert reply.json()["details"]["field"] == "tenant"
