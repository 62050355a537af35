"""Pure parts of the service: expected wait, queue order on restore, the offer grouping."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hibiki.acd.domain import Acd, AgentProfile, Strategy
from hibiki.acd.domain.model import QueueConfig
from hibiki.acd.nats.events import EventMapper
from hibiki.acd.rpc.convert import skills_from
from hibiki.acd.runtime.configure import dependency_order, restore
from hibiki.acd.runtime.estimate import HandleTimes, expected_wait_seconds
from hibiki.acd.runtime.mirror import TenantConfig
from hibiki.acd.runtime.views import Lookup


@given(st.integers(0, 500), st.integers(0, 500), st.floats(0, 3600), st.integers(0, 50))
def test_expected_wait_grows_with_the_position(a: int, b: int, mean: float, agents: int) -> None:
    low, high = sorted((a, b))
    assert expected_wait_seconds(low, mean, agents) <= expected_wait_seconds(high, mean, agents)
    assert expected_wait_seconds(0, mean, agents) == 0.0


def test_expected_wait_and_the_moving_mean() -> None:
    handle = HandleTimes()
    assert expected_wait_seconds(3, handle.mean("q"), 0) == 360.0
    assert expected_wait_seconds(3, handle.mean("q"), 2) == 180.0
    handle.observe("q", 20.0)
    assert handle.mean("q") == 100.0 and handle.mean("other") == 120.0


def test_queues_are_configured_after_their_overflow_targets() -> None:
    queues: dict[str, Any] = {"a": {"overflow": {"queue_id": "c"}}, "b": {}, "c": {"overflow": {"queue_id": "b"}},
                              "d": {"overflow": {"queue_id": "missing"}}}
    order = dependency_order(queues)
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order.index("b") < order.index("c") < order.index("a")
    config = TenantConfig(queues={k: {**v, "overflow": None if k == "d" else
                                      (None if not v else {**v["overflow"], "after_seconds": 10})}
                                  for k, v in queues.items()},
                          agents={"x": {"queues": ["a"], "skills": {}}})
    acd, events = restore("t", "Asia/Tokyo", None, config, 0.0)
    assert sorted(acd.queue_ids()) == ["a", "b", "c", "d"] and events == []
    assert acd.agent("x").serving == ("a",)


def test_restore_removes_what_the_configuration_no_longer_has() -> None:
    acd = Acd("t")
    acd.configure_queue(QueueConfig("old"), 0.0)
    acd.configure_agent(AgentProfile("gone", {}, frozenset({"old"})), 0.0)
    again, _ = restore("t", "Asia/Tokyo", acd.to_state(), TenantConfig(queues={"new": {}}), 1.0)
    assert again.queue_ids() == ["new"] and again.agents() == []


def test_restore_logs_out_an_agent_whose_stored_device_cannot_be_dialled() -> None:
    """A state written before devices were checked (issue 10): such an agent is never rung again."""
    acd = Acd("t")
    acd.configure_queue(QueueConfig("q"), 0.0)
    for agent in ("good", "bad"):
        acd.configure_agent(AgentProfile(agent, {}, frozenset({"q"})), 0.0)
    acd.login("good", "2001", 1.0, ready=True)
    acd.login("bad", "2002", 1.0, ready=True)
    state = acd.to_state()
    _replace_device(state, "2002", "nobody@x,[execute_on_answer=log CRIT X]user/2003@x")
    config = TenantConfig(queues={"q": {}}, agents={a: {"queues": ["q"], "skills": {}} for a in ("good", "bad")})
    again, events = restore("t", "Asia/Tokyo", state, config, 2.0)
    assert again.agent("good").state.value == "ready" and again.agent("bad").state.value == "logged_out"
    assert any(getattr(e, "agent_id", "") == "bad" for e in events)


def _replace_device(value: Any, old: str, new: str) -> None:
    """Every ``old`` string in the nested state becomes ``new`` (a device written by an old version)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in list(items):
        if item == old:
            value[key] = new
        else:
            _replace_device(item, old, new)


def test_ring_all_offers_become_one_message() -> None:
    acd = Acd("t")
    acd.configure_queue(QueueConfig("q", strategy=Strategy.RING_ALL, offer_timeout_seconds=7.5), 0.0)
    for agent in ("a", "b"):
        acd.configure_agent(AgentProfile(agent, {}, frozenset({"q"})), 0.0)
        acd.login(agent, f"d{agent}", 0.0, ready=True)
    events = acd.enqueue("c", "q", 1.0, caller="0123")
    out = EventMapper("t", "acd@test").map(events, 1.0, Lookup(acd, HandleTimes(), 1.0))
    subjects = [o.subject for o in out]
    assert subjects.count("hibiki.t.acd.offered") == 1
    assert subjects[:2] == ["hibiki.t.acd.queued", "hibiki.t.acd.offered"]
    offer: Any = out[1].message
    assert [t.agent_id for t in offer.targets] == ["a", "b"] and offer.ring_seconds == 8
    assert offer.caller_number == "0123" and offer.meta.call_uuid == "c" and offer.meta.tenant == "t"
    assert len({o.event_id for o in out}) == len(out)


def test_skills_in_requests() -> None:
    assert skills_from(["water", "english:3"]) == {"water": 1, "english": 3}
    assert skills_from(["water:100"]) == {"water": 100}
    for bad in (":2", "x:y", "x:0", "x:101", "x:１", "x:1e30", "x" * 65, "wa\x00ter"):
        try:
            skills_from([bad])
        except ValueError:
            continue
        raise AssertionError(bad)
    try:
        skills_from([f"s{i}" for i in range(101)])
    except ValueError:
        pass
    else:
        raise AssertionError("101 skills")


def test_snapshots_are_compressed_and_read_back_either_way() -> None:
    import json

    from hibiki.acd.domain import Acd, AgentProfile, QueueConfig
    from hibiki.acd.runtime.buckets import decode_state, encode_state

    acd = Acd("t")
    acd.configure_queue(QueueConfig("q"), 1e9)
    for i in range(300):
        acd.configure_agent(AgentProfile(f"a{i}", {"s": 1}, frozenset({"q"})), 1e9)
        acd.login(f"a{i}", f"d{i}", 1e9)
    state = acd.to_state()
    payload = encode_state(state)
    assert decode_state(payload) == json.loads(json.dumps(state))
    assert len(payload) * 5 < len(json.dumps(state))
    assert decode_state(json.dumps(state).encode()) == json.loads(json.dumps(state))     # the first format
    assert decode_state(b"") is None and decode_state(None) is None


def test_the_journal_writes_a_snapshot_when_a_change_record_would_be_large() -> None:
    """A change touching many records at once (here 2,000 agents logging in) is written as a
    compressed snapshot, never as a plain JSON record near NATS's 1 MB limit; read back the same."""
    import json

    from hibiki.acd.domain import Acd, AgentProfile, QueueConfig
    from hibiki.acd.runtime.buckets import decode_state
    from hibiki.acd.runtime.journal import DELTA_LIMIT, Journal, replay

    acd = Acd("t")
    acd.configure_queue(QueueConfig("q"), 1e9)
    for i in range(2000):
        acd.configure_agent(AgentProfile(f"a{i}", {"s": 1}, frozenset({"q"})), 1e9)
    journal, written = Journal(), []
    for _ in range(2):
        written.append(journal.payload(acd.to_state(), len(written) + 1))
        journal.written()
    acd.enqueue("c1", "q", 1e9)
    written.append(journal.payload(acd.to_state(), len(written) + 1))
    journal.written()
    for i in range(2000):
        acd.login(f"a{i}", f"d{i}", 1e9)
    written.append(journal.payload(acd.to_state(), len(written) + 1))
    journal.written()
    kinds = ["change" if (decode_state(p) or {}).get("delta") else "snapshot" for p in written]
    assert kinds == ["snapshot", "change", "change", "snapshot"], kinds
    assert all(len(p) <= DELTA_LIMIT for p in written[1:3]) and len(written[3]) < 1024 * 1024
    assert replay(written) == json.loads(json.dumps(acd.to_state()))
