"""The wallboard's counters (hibiki.analytics.wallboard.model): hand-counted days, and hypothesis
properties over any sequence of the ACD's events: the outcomes add up to the calls offered, rates
stay within [0, 1], a replayed or duplicated event changes nothing, a restored board plus the live
events equals the board that saw everything, and an agent is where its newest event put it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.analytics.wallboard import model as m
from hibiki.analytics.wallboard.hub import snapshot

TOKYO = ZoneInfo("Asia/Tokyo")
NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=TOKYO).timestamp()


def test_a_hand_counted_morning() -> None:
    board = m.Board("t")
    board.configure({"water": 20.0, "night": 15.0}, {"a1": ("water",), "a2": ("water", "night"), "a3": ("night",)})
    t = NOON
    board.apply(m.AgentChanged("a1", m.AgentState.READY, t - 100, ("water",)))
    board.apply(m.AgentChanged("a2", m.AgentState.READY, t - 100, ("water", "night")))
    # c1 answered after 10 s (in target), talks 60 s, 30 s of after-call work
    board.apply(m.Entered("c1", "water", t))
    board.apply(m.AgentChanged("a1", m.AgentState.TALKING, t + 10, ("water",), "c1"))
    board.apply(m.Answered("c1", "water", "a1", 10.0, t + 10))
    board.apply(m.Ended("c1", "water", "a1", 60.0, t + 70))
    board.apply(m.AgentChanged("a1", m.AgentState.AFTER_CALL_WORK, t + 70, ("water",), "c1"))
    board.apply(m.AgentChanged("a1", m.AgentState.READY, t + 100, ("water",)))
    # c2 answered after 25 s (over water's 20 s), talks 30 s, no after-call work seen yet
    board.apply(m.Entered("c2", "water", t + 1))
    board.apply(m.Answered("c2", "water", "a2", 25.0, t + 26))
    board.apply(m.Ended("c2", "water", "a2", 30.0, t + 56))
    # c3 abandoned after 5 s (within target: left out of the service level), c4 after 40 s
    board.apply(m.Entered("c3", "water", t + 2))
    board.apply(m.Left("c3", "water", "abandoned", 5.0, t + 7))
    board.apply(m.Entered("c4", "water", t + 3))
    board.apply(m.Left("c4", "water", "abandoned", 40.0, t + 43))
    # c5 overflows from water to night after 30 s and is still waiting there
    board.apply(m.Entered("c5", "water", t + 4))
    board.apply(m.Left("c5", "water", "overflowed", 30.0, t + 34))
    board.apply(m.Entered("c5", "night", t + 34))
    now = t + 120
    water, night, tenant = board.figures(now, "water"), board.figures(now, "night"), board.figures(now)
    assert (water.offered, water.answered, water.abandoned, water.overflowed, water.waiting) == (5, 2, 2, 1, 0)
    assert water.answered_in_target == 1
    # service level: 1 in target / (2 answered + 2 abandoned - 1 short abandon + 1 overflowed)
    assert water.service_level == 1 / 4
    assert water.answer_rate == 2 / 5
    assert water.average_handle_seconds == ((60 + 30) + 30) / 2
    assert (night.offered, night.waiting, night.longest_wait(now)) == (1, 1, 120 - 34)
    # the tenant counts c5 once, as waiting in night, on the day it first entered
    assert (tenant.offered, tenant.answered, tenant.abandoned, tenant.waiting, tenant.overflowed) == (5, 2, 2, 1, 0)
    assert tenant.answer_rate == 2 / 4 and tenant.service_level == 1 / 3
    assert board.agent_counts("night")["ready"] == 1 and board.agent_counts() == {
        "logged_out": 1, "ready": 2, "ringing": 0, "talking": 0, "after_call_work": 0, "break": 0, "not_ready": 0}
    assert [q["queue"] for q in snapshot(board, now)["queues"]] == ["night", "water"]


def test_yesterdays_calls_do_not_count_and_are_forgotten_but_a_waiting_call_stays() -> None:
    board = m.Board("t")
    midnight = dt.datetime(2026, 12, 7, 0, 0, tzinfo=TOKYO).timestamp()
    board.apply(m.Entered("old", "q", midnight - 60))
    board.apply(m.Answered("old", "q", "a", 5.0, midnight - 55))
    board.apply(m.Entered("late", "q", midnight - 30))          # still waiting after midnight
    board.apply(m.Entered("new", "q", midnight + 60))
    now = midnight + 120
    figures = board.figures(now, "q")
    assert (figures.offered, figures.answered, figures.waiting) == (1, 0, 2)
    assert figures.longest_wait(now) == 150
    board.prune(now)
    assert {call_id for _, call_id in board.calls} == {"late", "new"}


QUEUES = ("q1", "q2", "q3")
CALLS = tuple(f"c{i}" for i in range(6))
AGENTS = ("a1", "a2", "a3")


@st.composite
def events(draw: st.DrawFn) -> list[m.Event]:
    """Plausible and implausible sequences alike: any order, any duplicates, unknown calls."""
    out: list[m.Event] = []
    for _ in range(draw(st.integers(0, 40))):
        at = NOON + draw(st.floats(0, 3600, allow_nan=False))
        call, queue = draw(st.sampled_from(CALLS)), draw(st.sampled_from(QUEUES))
        wait = draw(st.floats(0, 120, allow_nan=False))
        kind = draw(st.integers(0, 5))
        if kind == 0:
            out.append(m.Entered(call, queue, at))
        elif kind == 1:
            out.append(m.Answered(call, queue, draw(st.sampled_from(AGENTS)), wait, at))
        elif kind == 2:
            out.append(m.Left(call, queue, draw(st.sampled_from(["abandoned", "max_wait", "cancelled", "node_lost",
                                                                   "overflowed", "??"])), wait, at))
        elif kind == 3:
            out.append(m.Ended(call, queue, draw(st.sampled_from(AGENTS)), draw(st.floats(0, 600)), at))
        else:
            out.append(m.AgentChanged(draw(st.sampled_from(AGENTS)), draw(st.sampled_from(list(m.AgentState))), at,
                                      (queue,), call))
    return out


def board_of(sequence: list[m.Event]) -> m.Board:
    board = m.Board("t")
    board.configure({"q1": 10.0, "q2": 20.0}, {"a1": ("q1",), "a2": ("q1", "q2"), "a3": ("q3",)})
    for event in sequence:
        board.apply(event)
    return board


def everything(board: m.Board, now: float) -> list[m.CallFigures]:
    return [board.figures(now), *(board.figures(now, q) for q in QUEUES)]


@settings(max_examples=150, deadline=None)
@given(events())
def test_outcomes_add_up_and_rates_stay_in_range(sequence: list[m.Event]) -> None:
    board = board_of(sequence)
    now = NOON + 4000
    for f in everything(board, now):
        assert f.offered == f.answered + f.abandoned + f.timed_out + f.cancelled + f.node_lost + f.overflowed \
            + f.waiting
        assert 0 <= f.answered_in_target <= f.answered and 0 <= f.abandoned_in_target <= f.abandoned
        for rate in (f.answer_rate, f.service_level):
            assert rate is None or 0.0 <= rate <= 1.0
        assert f.longest_wait(now) >= 0 and (f.waiting == 0) == (f.oldest_waiting_since is None)
        assert f.average_handle_seconds is None or f.average_handle_seconds >= 0
    assert board.figures_by_queue(now) == {q: board.figures(now, q) for q in board.queues}
    tenant = board.figures(now)
    assert tenant.offered == len({call_id for _, call_id in board.calls})
    assert tenant.offered <= sum(board.figures(now, q).offered for q in QUEUES)
    assert sum(board.agent_counts().values()) == len(board.agents)


@settings(max_examples=150, deadline=None)
@given(events(), st.data())
def test_a_redelivered_event_changes_nothing(sequence: list[m.Event], data: st.DataObject) -> None:
    """JetStream may deliver an event again (after a reconnection, or twice in a row)."""
    once = board_of(sequence)
    repeated: list[m.Event] = []
    for event in sequence:
        repeated.append(event)
        if data.draw(st.booleans()):
            repeated.append(event)
    twice = board_of(repeated)
    now = NOON + 4000
    assert everything(once, now) == everything(twice, now)
    assert once.agent_counts() == twice.agent_counts()


@settings(max_examples=100, deadline=None)
@given(events(), st.integers(0, 40))
def test_a_restored_board_plus_the_events_after_equals_the_live_one(sequence: list[m.Event], cut: int) -> None:
    """A restart: the finished calls come back from the store, the waiting ones and the agents
    from the ACD; the events that arrive while it restores are applied again afterwards."""
    live = board_of(sequence)
    before = board_of(sequence[:cut])
    restored = m.Board("t")
    restored.configure({"q1": 10.0, "q2": 20.0}, {"a1": ("q1",), "a2": ("q1", "q2"), "a3": ("q3",)})
    for call in before.calls.values():
        restored.restore_call(dataclasses.replace(call))
    for agent in before.agents.values():
        restored.restore_agent(agent.id, agent.state, agent.since, agent.acw_call)
        restored.agents[agent.id].queues = agent.queues
        restored.agents[agent.id].acw_since = agent.acw_since
    for event in sequence[max(0, cut - 3):]:          # overlap: a few events both restored and seen live
        restored.apply(event)
    now = NOON + 4000
    assert everything(live, now) == everything(restored, now)
    assert live.agent_counts() == restored.agent_counts()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(m.AgentState)), st.floats(0, 1000, allow_nan=False)), min_size=1,
                max_size=20))
def test_an_agent_is_where_its_newest_event_put_it(changes: list[tuple[m.AgentState, float]]) -> None:
    board = m.Board("t")
    for state, at in changes:
        board.apply(m.AgentChanged("a1", state, NOON + at, ("q1",)))
    newest = max(NOON + at for _, at in changes)
    assert board.agents["a1"].state in {state for state, at in changes if NOON + at == newest}
