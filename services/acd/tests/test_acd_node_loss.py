"""Calls whose FreeSWITCH node is lost (issue 16): they leave their queue as ``node_lost``, their
offers are released (no agent blamed), and an offer of a call on a silent node that fails is not
a missed offer."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.acd.domain import (
    Acd,
    AgentProfile,
    AgentState,
    CallEnded,
    CallLeft,
    Event,
    InvalidArgument,
    LeaveReason,
    MaxWait,
    Offered,
    OfferMissed,
    OfferReleased,
    QueueConfig,
    Strategy,
)

T0 = 1_775_000_000.0


def machine(strategy: Strategy = Strategy.LONGEST_IDLE, **queue: object) -> Acd:
    acd = Acd("toshima")
    acd.configure_queue(QueueConfig("q", strategy=strategy, **queue), T0)  # type: ignore[arg-type]
    for agent_id in ("ann", "bob"):
        acd.configure_agent(AgentProfile(agent_id, {}, frozenset({"q"})), T0)
    return acd


def kinds(events: list[Event], kind: type) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def test_a_waiting_call_on_a_lost_node_leaves_as_node_lost_and_others_stay() -> None:
    acd = machine(max_wait=MaxWait(600, "voicemail:2100"))
    acd.enqueue("c1", "q", T0, node="fs-dc1")
    acd.enqueue("c2", "q", T0 + 1, node="fs-dc2")
    acd.enqueue("c3", "q", T0 + 2)                        # an older callcontrol: no node
    assert acd.call_nodes() == {"fs-dc1", "fs-dc2"}
    events = acd.nodes_lost(["fs-dc1"], T0 + 20)
    left = kinds(events, CallLeft)
    assert [(e.call_id, e.reason, e.destination) for e in left] == [("c1", LeaveReason.NODE_LOST, "")]
    assert left[0].waited == pytest.approx(20)
    assert [c.id for c in acd.calls()] == ["c2", "c3"]
    stats = acd.queue_stats("q", T0 + 20)
    assert [w.call_id for w in stats.waiting] == ["c2", "c3"] and stats.waiting[0].node == "fs-dc2"
    assert (stats.node_lost, stats.abandoned, stats.cancelled, stats.timed_out) == (1, 0, 0, 0)
    assert stats.service_level is None                  # a lost call does not count against the target
    assert acd.nodes_lost(["fs-dc1"], T0 + 21) == []    # once


def test_an_offered_call_on_a_lost_node_releases_its_agents_unblamed_and_they_take_the_next() -> None:
    acd = machine(Strategy.RING_ALL, missed_offer_limit=1)
    acd.login("ann", "2001", T0, ready=True)
    acd.login("bob", "2002", T0 + 1, ready=True)
    offered = acd.enqueue("c1", "q", T0 + 5, node="fs-dc1")
    assert {e.agent_id for e in kinds(offered, Offered)} == {"ann", "bob"}
    acd.ringing("c1", "ann", T0 + 6)
    acd.enqueue("c2", "q", T0 + 7, node="fs-dc2")         # waits: both agents are reserved
    events = acd.nodes_lost({"fs-dc1"}, T0 + 15)
    assert not kinds(events, OfferMissed)
    assert sorted((e.agent_id, e.reason) for e in kinds(events, OfferReleased)) == [
        ("ann", "node lost"), ("bob", "node lost")]
    assert [(e.call_id, e.reason) for e in kinds(events, CallLeft)] == [("c1", LeaveReason.NODE_LOST)]
    assert [e.call_id for e in kinds(events, Offered)] == ["c2"]          # matched again at once
    assert all(acd.agent(a).missed_offers == 0 for a in ("ann", "bob"))


def test_a_talking_call_on_a_lost_node_ends_and_its_agent_wraps_up() -> None:
    acd = machine()
    acd.login("ann", "2001", T0, ready=True)
    acd.enqueue("c1", "q", T0 + 1, node="fs-dc1")
    acd.answer("c1", "ann", T0 + 2)
    events = acd.nodes_lost(["fs-dc1"], T0 + 32)
    assert [(e.call_id, e.agent_id) for e in kinds(events, CallEnded)] == [("c1", "ann")]
    assert acd.agent("ann").state is AgentState.AFTER_CALL_WORK


@pytest.mark.parametrize("how", ["rejected", "timeout"])
def test_an_offer_that_fails_while_the_calls_node_is_silent_is_released_not_missed(how: str) -> None:
    acd = machine(missed_offer_limit=1, offer_timeout_seconds=15)
    silent: set[str] = set()
    acd.silent_nodes = silent
    acd.login("ann", "2001", T0, ready=True)
    acd.login("bob", "2002", T0 + 1, ready=True)
    acd.enqueue("c1", "q", T0 + 2, node="fs-dc1")      # to ann, the longest idle
    silent.add("fs-dc1")
    events = acd.reject("c1", "ann", T0 + 3) if how == "rejected" else acd.tick(T0 + 2 + 15 + 1)
    assert not kinds(events, OfferMissed)
    assert [(e.agent_id, e.reason) for e in kinds(events, OfferReleased)] == [("ann", "node not reachable")]
    assert acd.agent("ann").state is AgentState.READY and acd.agent("ann").missed_offers == 0
    # the call is back at its place, held: offered to nobody while its node is silent
    assert not kinds(events, Offered) and [c.call_id for c in acd.queue_stats("q", T0 + 20).waiting] == ["c1"]
    assert not kinds(acd.enqueue("c0", "q", T0 + 21, node="fs-dc1"), Offered)   # nor a new one there
    assert acd.nodes_heard(["fs-dc2"], T0 + 22) == []
    silent.clear()                                      # heard again: the held calls are matched, in order
    offered = kinds(acd.nodes_heard(["fs-dc1"], T0 + 23), Offered)
    assert [(e.call_id, e.agent_id) for e in offered] == [("c1", "ann"), ("c0", "bob")]
    missed = acd.reject("c1", "ann", T0 + 30)           # and a failed offer is a miss again
    assert [e.agent_id for e in kinds(missed, OfferMissed)] == ["ann"]
    assert acd.agent("ann").state is AgentState.NOT_READY


def test_a_ready_agent_skips_a_held_call_for_the_next_one_on_a_node_heard_from() -> None:
    acd = machine()
    acd.silent_nodes = {"fs-dc1"}
    acd.enqueue("c1", "q", T0, node="fs-dc1")
    acd.enqueue("c2", "q", T0 + 1, node="fs-dc2", priority=0)
    acd.enqueue("c3", "q", T0 + 2)
    events = acd.login("ann", "2001", T0 + 3, ready=True)
    assert [(e.call_id, e.agent_id) for e in kinds(events, Offered)] == [("c2", "ann")]
    events = acd.login("bob", "2002", T0 + 4, ready=True)
    assert [(e.call_id, e.agent_id) for e in kinds(events, Offered)] == [("c3", "bob")]
    assert [w.call_id for w in acd.queue_stats("q", T0 + 5).waiting] == ["c1"]


def test_the_node_is_kept_in_the_snapshot_and_an_old_snapshot_has_none() -> None:
    acd = machine()
    acd.enqueue("c1", "q", T0, node="fs-dc1")
    state = json.loads(json.dumps(acd.to_state()))
    twin = Acd.from_state(state)
    assert twin.call("c1").node == "fs-dc1"
    assert [e.call_id for e in kinds(twin.nodes_lost(["fs-dc1"], T0 + 1), CallLeft)] == ["c1"]
    for call in state["calls"]:
        del call["node"]                                # written before the field existed
    assert Acd.from_state(state).call("c1").node == ""


def test_callcontrol_that_lost_the_node_cancels_as_node_lost_blaming_no_agent_and_max_wait_stays_the_acds() -> None:
    acd = machine()
    acd.login("ann", "201", T0, ready=True)
    acd.enqueue("c1", "q", T0, node="fs-dc1")           # offered to ann at once
    acd.enqueue("c2", "q", T0, node="fs-dc1")
    with pytest.raises(InvalidArgument):
        acd.cancel("c2", T0 + 1, LeaveReason.MAX_WAIT)
    events = acd.cancel("c1", T0 + 2, LeaveReason.NODE_LOST)
    assert [(e.call_id, e.reason) for e in kinds(events, CallLeft)] == [("c1", LeaveReason.NODE_LOST)]
    assert [(e.call_id, e.agent_id) for e in kinds(events, OfferReleased)] == [("c1", "ann")]
    assert not kinds(events, OfferMissed)
    assert [(e.call_id, e.agent_id) for e in kinds(events, Offered)] == [("c2", "ann")]   # ann takes the next
    stats = acd.queue_stats("q", T0 + 3)
    assert (stats.node_lost, stats.cancelled, stats.abandoned) == (1, 0, 0)
    assert next(a for a in acd.agents() if a.id == "ann").missed_offers == 0
    with pytest.raises(InvalidArgument):
        acd.enqueue("c3", "q", T0, node="x" * 129)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fs-a", "fs-b", ""]), st.integers(0, 2)), min_size=1, max_size=12),
       st.lists(st.sampled_from(["ann", "bob", "cho"]), max_size=3, unique=True),
       st.sampled_from([Strategy.LONGEST_IDLE, Strategy.RING_ALL]))
def test_losing_a_node_takes_exactly_its_calls_and_blames_no_agent(calls: list[tuple[str, int]], logged_in: list[str],
                                                                   strategy: Strategy) -> None:
    acd = Acd("toshima")
    acd.configure_queue(QueueConfig("q", strategy=strategy, missed_offer_limit=1), T0)
    for agent_id in ("ann", "bob", "cho"):
        acd.configure_agent(AgentProfile(agent_id, {}, frozenset({"q"})), T0)
    for n, agent_id in enumerate(logged_in):
        acd.login(agent_id, f"20{n}", T0 + n, ready=True)
    for n, (node, priority) in enumerate(calls):
        acd.enqueue(f"c{n}", "q", T0 + 10 + n, node=node, priority=priority)
    before = {c.id: c.node for c in acd.calls()}
    missed = {a.id: a.missed_offers for a in acd.agents()}
    events = acd.nodes_lost(["fs-a"], T0 + 60)
    after = {c.id: c.node for c in acd.calls()}
    assert after == {call_id: node for call_id, node in before.items() if node != "fs-a"}
    assert {e.call_id for e in kinds(events, CallLeft)} == {i for i, node in before.items() if node == "fs-a"}
    assert not kinds(events, OfferMissed)
    assert {a.id: a.missed_offers for a in acd.agents()} == missed
    for agent in acd.agents():                          # nobody reserved for a call that is gone
        assert not agent.call_id or agent.call_id in after
