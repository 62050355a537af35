"""Property tests of the ACD domain: random interleavings of every command, checked step by step.

A hypothesis ``RuleBasedStateMachine`` drives one ``Acd`` (three queues, six agents, five seats:
more agents than seats) with calls arriving, ringing, answered, rejected, missed, abandoned and
ended, agents logging in anywhere, pausing, saving dispositions, and time passing. A model built
only from the returned events checks, after every command:

- a call is never offered to two agents at once (ring-all: at once to several, resolved to one),
  never to an agent who is not ready at that point of the event stream, lacks the queue's or the
  call's skills, or has a disposition pending (wrap-up blocks the next offer, CC-03);
- a call is never lost: every call enqueued is exactly one of waiting, offered, talking, or gone
  with ``CallLeft``/``CallEnded``, and the machine agrees;
- the chosen agent is first by the queue's strategy (longest idle, skills, fewest calls; ring-all
  offers every ready member), the chosen call first by queue priority, call priority, arrival;
- work-conserving: no waiting call has a ready agent who may take it (no polling needed);
- the missed-offer limit puts the agent in NOT_READY; overflow, maximum wait, offer timeouts and
  the wrap-up limit fire when due, never before, and nothing due is left after ``tick``;
- a command that raises changes nothing;
- ``from_state(to_state())`` (through JSON) is an equivalent machine: from then on a twin restored
  there answers every command with the same events and the same state;
- the journal (``runtime/journal.py``): a write after every step (a change record, or a snapshot
  every ``SNAPSHOT_EVERY``), and the last ``HISTORY`` writes the key keeps, through bytes and
  JSON, read back give exactly ``to_state()`` (records and their order).
"""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import Any, Callable
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hibiki.acd.runtime.journal import HISTORY, SECTIONS, Journal, replay
from hibiki.acd.domain import (
    Acd,
    AcdError,
    AgentProfile,
    AgentState,
    AgentStateChanged,
    AgentView,
    CallAnswered,
    CallEnded,
    CallLeft,
    CallOverflowed,
    CallState,
    DispositionSaved,
    Enqueued,
    Event,
    LeaveReason,
    MaxWait,
    Offered,
    OfferMissed,
    OfferReleased,
    Overflow,
    QueueConfig,
    RoutingProfile,
    Strategy,
    TimeBand,
    WrapUpExpired,
    choose_profile,
)

TZ = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 4, 1, 8, 58, tzinfo=TZ).timestamp()     # two minutes before a routing profile starts
AGENTS = [f"agent{i}" for i in range(6)]
SEATS = [f"seat{i}" for i in range(5)]
CALL_SKILLS: list[dict[str, int]] = [{}, {}, {"z": 1}, {"x": 2}, {"y": 3}]
EPS = 1e-6


def queues(strategy_a: Strategy, strategy_b: Strategy) -> list[QueueConfig]:
    morning = RoutingProfile("morning", bands=(TimeBand(time(9, 0), time(9, 5)),), strategy=Strategy.FEWEST_CALLS,
                             priority=5)
    return [
        QueueConfig("b", strategy_b, {"y": 2}, priority=1, max_wait=MaxWait(90, "voicemail:100"),
                    offer_timeout_seconds=12, wrap_up_limit_seconds=25, missed_offer_limit=3),
        QueueConfig("a", strategy_a, {"x": 1}, overflow=Overflow("b", 45), offer_timeout_seconds=10,
                    wrap_up_limit_seconds=None, missed_offer_limit=2, profiles=(morning,)),
        QueueConfig("c", Strategy.RING_ALL, {}, priority=2, overflow=Overflow("a", 30),
                    max_wait=MaxWait(70, "hangup"), offer_timeout_seconds=8, wrap_up_limit_seconds=0,
                    missed_offer_limit=None),
    ]


def may_take(agent: AgentProfile | AgentView, queue: QueueConfig, skills: dict[str, int]) -> bool:
    """Independent of the machine's own membership: listed, the queue's levels, the call's levels."""
    return (queue.id in agent.queues
            and all(agent.skills.get(n, 0) >= level for n, level in queue.skills.items())
            and all(agent.skills.get(n, 0) >= level for n, level in skills.items()))


class AcdMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.acd = Acd("kanazawa")
        self.twin: Acd | None = None
        self.now = START
        self.next_call = 0
        self.configs: dict[str, QueueConfig] = {}
        self.profiles: dict[str, AgentProfile] = {}
        self.call_skills: dict[str, dict[str, int]] = {}
        self.state: dict[str, AgentState] = {}          # replayed from AgentStateChanged
        self.pending: dict[str, str] = {}               # agent -> call whose disposition is pending
        self.misses: dict[str, int] = {}
        self.offers: dict[str, set[str]] = {}           # call -> agents it rings
        self.talking: dict[str, str] = {}               # call -> agent
        self.fate: dict[str, str] = {}                  # call -> waiting/offered/talking/left/ended
        self.entered: dict[str, tuple[str, float]] = {}  # call -> (queue, entry time)
        self.after_miss: dict[str, bool] = {}           # agent -> whether the limit was reached
        self.journal = Journal()
        self.written: list[bytes] = []                  # the journal's writes, as the key keeps them

    # -- driving ------------------------------------------------------------------------------

    def run(self, command: Callable[[Acd], list[Event]]) -> list[Event] | None:
        """The command on the machine (and the twin): the same events, or the same error and no change."""
        before = self.acd.to_state()
        try:
            events = command(self.acd)
        except AcdError as exc:
            assert self.acd.to_state() == before, f"{type(exc).__name__} changed the machine"
            if self.twin is not None:
                try:
                    command(self.twin)
                except AcdError as twin_exc:
                    assert type(twin_exc) is type(exc)
                else:
                    raise AssertionError("the restored twin accepted what the machine refused") from None
            return None
        if self.twin is not None:
            assert command(self.twin) == events
        self.replay(events)
        return events

    def replay(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, AgentStateChanged):
                assert self.state[event.agent_id] is event.previous, event
                self.state[event.agent_id] = event.current
                if event.agent_id in self.after_miss and event.previous in (AgentState.RESERVED, AgentState.RINGING):
                    expected = AgentState.NOT_READY if self.after_miss.pop(event.agent_id) else AgentState.READY
                    assert event.current is expected, event
                if event.current is AgentState.LOGGED_OUT:
                    self.pending.pop(event.agent_id, None)
                if event.current is AgentState.READY:
                    assert event.agent_id not in self.pending, f"{event.agent_id} ready before the disposition"
            elif isinstance(event, Enqueued):
                self.fate[event.call_id] = "waiting"
                self.entered[event.call_id] = (event.queue_id, self.now)
            elif isinstance(event, Offered):
                self.check_offer(event)
            elif isinstance(event, CallAnswered):
                assert event.agent_id in self.offers.get(event.call_id, set())
                self.offers[event.call_id].discard(event.agent_id)
                self.talking[event.call_id] = event.agent_id
                self.fate[event.call_id] = "talking"
                self.misses[event.agent_id] = 0
            elif isinstance(event, (OfferReleased, OfferMissed)):
                assert event.agent_id in self.offers.get(event.call_id, set()), event
                self.offers[event.call_id].discard(event.agent_id)
                if not self.offers[event.call_id] and self.fate[event.call_id] == "offered":
                    self.fate[event.call_id] = "waiting"
                if isinstance(event, OfferMissed):
                    self.misses[event.agent_id] = self.misses.get(event.agent_id, 0) + 1
                    limit = self.configs[self.entered[event.call_id][0]].missed_offer_limit
                    self.after_miss[event.agent_id] = limit is not None and self.misses[event.agent_id] >= limit
            elif isinstance(event, CallOverflowed):
                queue, at = self.entered[event.call_id]
                overflow = self.configs[queue].overflow
                assert queue == event.from_queue and overflow is not None and overflow.queue_id == event.to_queue
                assert event.waited >= overflow.after_seconds - EPS and at + event.waited <= self.now + EPS
                self.entered[event.call_id] = (event.to_queue, at + event.waited)
            elif isinstance(event, CallLeft):
                assert not self.offers.get(event.call_id) and self.fate[event.call_id] in ("waiting", "offered")
                queue, at = self.entered[event.call_id]
                max_wait = self.configs[queue].max_wait
                if event.reason is LeaveReason.MAX_WAIT:
                    assert max_wait is not None and event.destination == max_wait.destination
                    assert event.waited >= max_wait.seconds - EPS and at + event.waited <= self.now + EPS
                self.fate[event.call_id] = "left"
            elif isinstance(event, CallEnded):
                assert self.talking.pop(event.call_id) == event.agent_id
                self.fate[event.call_id] = "ended"
                self.pending[event.agent_id] = event.call_id
            elif isinstance(event, WrapUpExpired):
                assert self.pending.pop(event.agent_id) == event.call_id
                assert self.configs[event.queue_id].wrap_up_limit_seconds is not None
            elif isinstance(event, DispositionSaved):
                if self.pending.get(event.agent_id) == event.call_id:
                    del self.pending[event.agent_id]

    def check_offer(self, event: Offered) -> None:
        assert self.state[event.agent_id] is AgentState.READY, f"offered to {self.state[event.agent_id]} agent"
        assert event.agent_id not in self.pending, "offered during wrap-up"
        assert may_take(self.profiles[event.agent_id], self.configs[event.queue_id], self.call_skills[event.call_id]), \
            f"{event.agent_id} may not take {event.call_id}"
        assert self.entered[event.call_id][0] == event.queue_id
        ringing = self.offers.setdefault(event.call_id, set())
        assert event.agent_id not in ringing
        ringing.add(event.agent_id)
        assert len(ringing) == 1 or event.ring_all, "offered to two agents at once"
        assert all(event.agent_id not in others for c, others in self.offers.items() if c != event.call_id)
        self.fate[event.call_id] = "offered"

    # -- expectations -------------------------------------------------------------------------

    def strategy(self, queue_id: str) -> tuple[Strategy, int]:
        config = self.configs[queue_id]
        profile = choose_profile(config.profiles, datetime.fromtimestamp(self.now, TZ))
        strategy = profile.strategy if profile and profile.strategy else config.strategy
        priority = profile.priority if profile and profile.priority is not None else config.priority
        return strategy, priority

    def ready_for(self, queue_id: str, skills: dict[str, int]) -> list[AgentView]:
        config = self.configs[queue_id]
        return [a for a in self.acd.agents() if a.state is AgentState.READY and may_take(a, config, skills)]

    def agent_order(self, agent: AgentView, queue_id: str) -> tuple[Any, ...]:
        strategy, _ = self.strategy(queue_id)
        if strategy is Strategy.SKILLS:
            primary: float = -sum(agent.skills.get(n, 0) for n in self.configs[queue_id].skills)
        elif strategy is Strategy.FEWEST_CALLS:
            primary = agent.calls_handled
        else:
            primary = 0
        return (primary, agent.idle_since, agent.id)

    def best_call_for(self, agent: AgentView) -> str | None:
        waiting = [c for c in self.acd.calls()
                   if c.state is CallState.WAITING and may_take(agent, self.configs[c.queue_id], c.skills)]
        if not waiting:
            return None
        return min(waiting, key=lambda c: (-self.strategy(c.queue_id)[1], -c.priority, c.arrived_at, c.seq)).id

    def check_becoming_ready(self, agent_id: str, events: list[Event], expected: str | None) -> None:
        offers = [e for e in events if isinstance(e, Offered) and e.agent_id == agent_id]
        if expected is None:
            assert not offers
        else:
            assert offers and offers[0].call_id == expected, (offers, expected)

    # -- rules --------------------------------------------------------------------------------

    @initialize(strategy_a=st.sampled_from(list(Strategy)), strategy_b=st.sampled_from(list(Strategy)),
                skills=st.lists(st.fixed_dictionaries({"x": st.integers(0, 3), "y": st.integers(0, 3),
                                                      "z": st.integers(0, 2)}), min_size=6, max_size=6),
                memberships=st.lists(st.sets(st.sampled_from("abc")), min_size=6, max_size=6))
    def configure(self, strategy_a: Strategy, strategy_b: Strategy, skills: list[dict[str, int]],
                  memberships: list[set[str]]) -> None:
        for config in queues(strategy_a, strategy_b):
            self.configs[config.id] = config
            assert self.acd.configure_queue(config, self.now) == []
        for agent_id, levels, member in zip(AGENTS, skills, memberships, strict=True):
            levels["x"] = max(levels["x"], 1)         # queue a has most agents: orders are put to the test
            if agent_id in AGENTS[:2]:                # queue b (a wrap-up limit) has at least two
                levels["y"], member = max(levels["y"], 2), member | {"b"}
            profile = AgentProfile(agent_id, {k: v for k, v in levels.items() if v}, frozenset(member | {"a"}))
            self.profiles[agent_id] = profile
            assert self.acd.configure_agent(profile, self.now) == []
            self.state[agent_id] = AgentState.LOGGED_OUT
        for agent_id, seat in reversed(list(zip(AGENTS[:4], SEATS, strict=False))):   # longest idle: agent3
            self.run(lambda acd: acd.login(agent_id, seat, self.now, ready=True))
            self.now += 1

    @rule(queue=st.sampled_from("abc"), priority=st.integers(0, 2), skills=st.sampled_from(CALL_SKILLS))
    def enqueue(self, queue: str, priority: int, skills: dict[str, int]) -> None:
        self.next_call += 1
        call_id = f"call{self.next_call}"
        self.call_skills[call_id] = skills
        before = self.ready_for(queue, skills)          # the agents as they are just before
        events = self.run(lambda acd: acd.enqueue(call_id, queue, self.now, priority=priority, skills=skills,
                                                  caller="0762201111", ivr_path=("main:1",)))
        assert events is not None
        offered = [e.agent_id for e in events if isinstance(e, Offered)]
        strategy, _ = self.strategy(queue)
        if not before:
            assert not offered and self.acd.call(call_id).state is CallState.WAITING
        elif strategy is Strategy.RING_ALL:
            assert set(offered) == {a.id for a in before}
        else:
            assert offered == [min(before, key=lambda a: self.agent_order(a, queue)).id]

    @precondition(lambda self: bool(self.fate))
    @rule(data=st.data(), reason=st.sampled_from([LeaveReason.ABANDONED, LeaveReason.CANCELLED]),
          patient=st.integers(0, 2))
    def cancel(self, data: st.DataObject, reason: LeaveReason, patient: int) -> None:
        if patient:                                 # most callers wait: overflows and maximum waits happen
            return
        ringing_or_waiting = sorted(c for c, fate in self.fate.items() if fate in ("waiting", "offered"))
        call_id = data.draw(st.sampled_from(ringing_or_waiting or sorted(self.fate)))
        self.run(lambda acd: acd.cancel(call_id, self.now, reason))

    @precondition(lambda self: bool(self.talking))
    @rule(data=st.data(), any_call=st.booleans())
    def call_ended(self, data: st.DataObject, any_call: bool) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.fate if any_call else self.talking)))
        self.run(lambda acd: acd.call_ended(call_id, self.now))

    @rule(agent=st.sampled_from(AGENTS), seat=st.sampled_from(SEATS), ready=st.booleans())
    def login(self, agent: str, seat: str, ready: bool) -> None:
        was = self.state[agent]
        if self.run(lambda acd: acd.login(agent, seat, self.now, ready=ready)) is not None and \
                was is AgentState.LOGGED_OUT:
            self.misses[agent] = 0

    def pick_agent(self, data: st.DataObject, *states: AgentState) -> str:
        """Mostly an agent in one of ``states`` (when there is one), sometimes any agent."""
        preferred = [a for a in AGENTS if self.state[a] in states]
        mostly = bool(preferred) and data.draw(st.integers(0, 3)) > 0
        return data.draw(st.sampled_from(preferred if mostly else AGENTS))

    @rule(data=st.data())
    def logout(self, data: st.DataObject) -> None:
        agent = self.pick_agent(data, *(set(AgentState) - {AgentState.LOGGED_OUT}))
        self.run(lambda acd: acd.logout(agent, self.now))

    @rule(data=st.data())
    def set_ready(self, data: st.DataObject) -> None:
        agent = self.pick_agent(data, AgentState.BREAK, AgentState.NOT_READY, AgentState.AFTER_CALL_WORK)
        view = self.acd.agent(agent)
        expected = self.best_call_for(view)
        events = self.run(lambda acd: acd.set_ready(agent, self.now))
        if events is not None and view.state is not AgentState.READY:
            self.misses[agent] = 0
            self.check_becoming_ready(agent, events, expected)

    @rule(data=st.data(), reason=st.sampled_from(["lunch", "meeting", ""]))
    def pause(self, data: st.DataObject, reason: str) -> None:
        agent = self.pick_agent(data, AgentState.READY, AgentState.AFTER_CALL_WORK, AgentState.RESERVED,
                                AgentState.RINGING)
        if reason:
            self.run(lambda acd: acd.set_break(agent, reason, self.now))
        else:
            self.run(lambda acd: acd.set_not_ready(agent, self.now, "training"))

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data())
    def pause_during_wrap_up_then_try_ready(self, data: st.DataObject) -> None:
        """The way around CC-03 a desk might try: a break in after-call work, then ready."""
        agent = data.draw(st.sampled_from(sorted(self.pending)))
        self.run(lambda acd: acd.set_break(agent, "phone back", self.now))
        assert self.run(lambda acd: acd.set_ready(agent, self.now)) is None

    def pick_offer(self, data: st.DataObject) -> tuple[str, str]:
        pairs = sorted((c, a) for c, agents in self.offers.items() for a in agents)
        return data.draw(st.sampled_from(pairs))

    @precondition(lambda self: any(self.offers.values()))
    @rule(data=st.data())
    def ringing(self, data: st.DataObject) -> None:
        call_id, agent = self.pick_offer(data)
        self.run(lambda acd: acd.ringing(call_id, agent, self.now))

    @precondition(lambda self: any(self.offers.values()))
    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        call_id, agent = self.pick_offer(data)
        assert self.run(lambda acd: acd.answer(call_id, agent, self.now)) is not None
        assert self.talking[call_id] == agent and not self.offers[call_id]

    @precondition(lambda self: any(self.offers.values()))
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        call_id, agent = self.pick_offer(data)
        assert self.run(lambda acd: acd.reject(call_id, agent, self.now)) is not None

    @rule(data=st.data(), which=st.integers(0, 4))
    def save_disposition(self, data: st.DataObject, which: int) -> None:
        """Mostly an agent in wrap-up; else any agent, and sometimes a call they never had."""
        with_pending = [a for a in AGENTS if a in self.pending]
        agent = data.draw(st.sampled_from(with_pending)) if with_pending and which else self.pick_agent(data)
        view = self.acd.agent(agent)
        call_id = view.pending_disposition or (view.undisposed[0] if view.undisposed else "")
        if which == 0 or not call_id:
            call_id = "call0"
        expected = self.best_call_for(view)
        events = self.run(lambda acd: acd.save_disposition(agent, call_id, "water leak", self.now, "note"))
        if call_id == "call0":
            assert events is None
        elif events is not None and view.state is AgentState.AFTER_CALL_WORK and call_id == view.pending_disposition:
            self.check_becoming_ready(agent, events, expected)

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0, 8.0, 10.0, 12.0, 25.0, 40.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds
        deadline = self.acd.next_deadline()
        events = self.run(lambda acd: acd.tick(self.now))
        assert events is not None
        assert bool(events) <= (deadline is not None and deadline <= self.now)

    @rule()
    def restore(self) -> None:
        state = json.loads(json.dumps(self.acd.to_state()))
        restored = Acd.from_state(state)
        assert restored.to_state() == state
        assert restored.next_deadline() == self.acd.next_deadline()
        self.twin = restored

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not self.configs:
            return
        agents = {a.id: a for a in self.acd.agents()}
        calls = {c.id: c for c in self.acd.calls()}
        assert {a: v.state for a, v in agents.items()} == self.state
        assert {a: v.pending_disposition for a, v in agents.items() if v.pending_disposition} == self.pending
        for agent_id, view in agents.items():
            if view.state is not AgentState.LOGGED_OUT:
                assert view.missed_offers == self.misses.get(agent_id, 0)
        # never lost: each call is in exactly one place, and the machine holds exactly the live ones
        live = {c for c, fate in self.fate.items() if fate in ("waiting", "offered", "talking")}
        assert set(calls) == live
        for call_id, call in calls.items():
            assert call.state.value == self.fate[call_id]
            assert set(call.offered_to) == self.offers.get(call_id, set())
            assert call.queue_id == self.entered[call_id][0]
            if call.state is CallState.OFFERED:
                assert len(call.offered_to) == 1 or self.strategy(call.queue_id)[0] is Strategy.RING_ALL or \
                    self.configs[call.queue_id].strategy is Strategy.RING_ALL
                for agent_id in call.offered_to:
                    assert agents[agent_id].state in (AgentState.RESERVED, AgentState.RINGING)
                    assert agents[agent_id].call_id == call_id
                assert call.offer_deadline is not None and call.offer_deadline > self.now
            if call.state is CallState.TALKING:
                assert agents[call.agent_id].state is AgentState.TALKING and agents[call.agent_id].call_id == call_id
            if call.state is CallState.WAITING:
                assert not self.ready_for(call.queue_id, call.skills), f"{call_id} waits while an agent is ready"
                for deadline in (call.overflow_at, call.max_wait_at):
                    assert deadline is None or deadline > self.now, "a deadline passed without tick acting"
        for agent_id, view in agents.items():
            if view.state in (AgentState.RESERVED, AgentState.RINGING):
                call = calls[view.call_id]
                assert call.state is CallState.OFFERED and agent_id in call.offered_to
            elif view.state is AgentState.TALKING:
                assert calls[view.call_id].state is CallState.TALKING and calls[view.call_id].agent_id == agent_id
            else:
                assert not view.call_id
            if view.wrap_up_until is not None:
                assert view.wrap_up_until > self.now
        for queue_id in self.configs:             # the expected wait's count, without the whole stats
            assert self.acd.agents_logged_in(queue_id) == sum(
                1 for view in agents.values() if queue_id in view.serving and view.state is not AgentState.LOGGED_OUT)
        if self.twin is not None:
            assert self.twin.to_state() == self.acd.to_state()

    @invariant()
    def the_journal_reads_back_the_state(self) -> None:
        state = self.acd.to_state()
        self.written = (self.written + [self.journal.payload(state, len(self.written) + 1)])[-HISTORY:]
        self.journal.written()
        read = replay(list(self.written))
        assert read == json.loads(json.dumps(state))
        assert [list(read[s]) for s in SECTIONS] == [list(state[s]) for s in SECTIONS]   # the same order
        assert Acd.from_state(read).to_state() == read


AcdMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=80, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
TestAcdProperties = AcdMachine.TestCase
