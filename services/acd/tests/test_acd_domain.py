"""The ACD domain by example: strategies, agent states, wrap-up, misses, timers, seats, snapshots."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hibiki.acd.domain import (
    Acd,
    AgentBusy,
    AgentProfile,
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallExists,
    CallLeft,
    CallOverflowed,
    CallState,
    DeviceInUse,
    DispositionRequired,
    DispositionSaved,
    Enqueued,
    Event,
    InvalidArgument,
    InvalidState,
    LeaveReason,
    MaxWait,
    NoSuchOffer,
    Offered,
    OfferMissed,
    OfferReleased,
    Overflow,
    QueueConfig,
    Requeued,
    RoutingProfile,
    Strategy,
    TimeBand,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
    WrapUpExpired,
)

T0 = datetime(2026, 4, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()


def offers(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.call_id, e.agent_id) for e in events if isinstance(e, Offered)]


def machine(*queues: QueueConfig, agents: dict[str, dict[str, int]] | None = None,
            member: dict[str, set[str]] | None = None) -> Acd:
    acd = Acd("kanazawa")
    for config in queues:
        acd.configure_queue(config, T0)
    for agent_id, skills in (agents or {}).items():
        queue_ids = (member or {}).get(agent_id, {q.id for q in queues})
        acd.configure_agent(AgentProfile(agent_id, skills, frozenset(queue_ids)), T0)
    return acd


def ready(acd: Acd, *agent_ids: str, at: float = T0) -> None:
    """Log in and make ready one second apart, in the order given (the first is the longest idle)."""
    for i, agent_id in enumerate(agent_ids):
        acd.login(agent_id, f"seat-{agent_id}", at + i, ready=True)


def serve(acd: Acd, call_id: str, agent_id: str, now: float, case_type: str = "inquiry") -> list[Event]:
    acd.answer(call_id, agent_id, now)
    acd.call_ended(call_id, now + 1)
    return acd.save_disposition(agent_id, call_id, case_type, now + 2)


# -- strategies -------------------------------------------------------------------------------

def test_longest_idle_agent_first_and_back_of_the_line_after_a_call() -> None:
    acd = machine(QueueConfig("water"), agents={"ann": {}, "bob": {}, "cho": {}})
    ready(acd, "bob", "ann", "cho")
    assert offers(acd.enqueue("c1", "water", T0 + 10)) == [("c1", "bob")]
    assert offers(acd.enqueue("c2", "water", T0 + 11)) == [("c2", "ann")]
    serve(acd, "c1", "bob", T0 + 12)
    assert offers(acd.enqueue("c3", "water", T0 + 20)) == [("c3", "cho")]
    assert offers(acd.enqueue("c4", "water", T0 + 21)) == [("c4", "bob")]


def test_skills_strategy_takes_the_highest_level_then_the_longest_idle() -> None:
    acd = machine(QueueConfig("tax", Strategy.SKILLS, {"tax": 1}),
                  agents={"ann": {"tax": 1}, "bob": {"tax": 3}, "cho": {"tax": 3}, "dan": {}})
    ready(acd, "ann", "cho", "bob", "dan")
    assert acd.agent("dan").serving == ()
    assert offers(acd.enqueue("c1", "tax", T0 + 10)) == [("c1", "cho")]
    assert offers(acd.enqueue("c2", "tax", T0 + 11)) == [("c2", "bob")]
    assert offers(acd.enqueue("c3", "tax", T0 + 12)) == [("c3", "ann")]
    assert offers(acd.enqueue("c4", "tax", T0 + 13)) == []


def test_fewest_calls_strategy() -> None:
    acd = machine(QueueConfig("q", Strategy.FEWEST_CALLS), agents={"ann": {}, "bob": {}})
    ready(acd, "ann", "bob")
    assert offers(acd.enqueue("c1", "q", T0 + 10)) == [("c1", "ann")]
    serve(acd, "c1", "ann", T0 + 11)             # ann ready again at T0 + 13, one call handled
    assert offers(acd.enqueue("c2", "q", T0 + 20)) == [("c2", "bob")]
    serve(acd, "c2", "bob", T0 + 21)
    serve_again = acd.enqueue("c3", "q", T0 + 30)
    assert offers(serve_again) == [("c3", "ann")]  # one call each: then the longest idle


def test_a_call_asking_for_more_skills_waits_for_an_agent_who_has_them() -> None:
    acd = machine(QueueConfig("q", skills={"ja": 1}), agents={"ann": {"ja": 1}, "bob": {"ja": 1, "en": 2}})
    ready(acd, "ann")
    assert offers(acd.enqueue("c1", "q", T0 + 10, skills={"en": 1})) == []
    assert offers(acd.enqueue("c2", "q", T0 + 11)) == [("c2", "ann")]
    assert acd.position("c1") == 1
    events = acd.login("bob", "seat-9", T0 + 12, ready=True)
    assert offers(events) == [("c1", "bob")]


def test_ring_all_offers_every_ready_agent_and_the_first_answer_wins() -> None:
    acd = machine(QueueConfig("all", Strategy.RING_ALL), QueueConfig("other"),
                  agents={"ann": {}, "bob": {}, "cho": {}},
                  member={"ann": {"all"}, "bob": {"all", "other"}, "cho": {"all"}})
    ready(acd, "ann", "bob", "cho")
    events = acd.enqueue("c1", "all", T0 + 10)
    assert sorted(offers(events)) == [("c1", "ann"), ("c1", "bob"), ("c1", "cho")]
    assert all(e.ring_all for e in events if isinstance(e, Offered))
    assert acd.enqueue("c2", "other", T0 + 11)[1:] == []        # bob is ringing: c2 waits
    events = acd.answer("c1", "cho", T0 + 12)
    assert [e for e in events if isinstance(e, OfferReleased)] == [
        OfferReleased("c1", "ann", "answered elsewhere"), OfferReleased("c1", "bob", "answered elsewhere")]
    assert ("c2", "bob") in offers(events)                       # released, and matched in the same reply
    assert acd.agent("ann").state is AgentState.READY and acd.agent("ann").idle_since == T0
    with pytest.raises(NoSuchOffer):
        acd.answer("c1", "ann", T0 + 13)


def test_queue_priority_then_call_priority_then_arrival() -> None:
    acd = machine(QueueConfig("low"), QueueConfig("high", priority=5), agents={"ann": {}})
    for call_id, queue, priority, at in (("c1", "low", 0, 1), ("c2", "low", 2, 2), ("c3", "high", 0, 3),
                                         ("c4", "low", 2, 4)):
        acd.enqueue(call_id, queue, T0 + at, priority=priority)
    assert [acd.position(c) for c in ("c1", "c2", "c4")] == [3, 1, 2]
    served: list[str] = []
    for i in range(4):
        events = acd.login("ann", "seat", T0 + 10, ready=True) if i == 0 else \
            serve(acd, served[-1], "ann", T0 + 10 * (i + 1))
        served.append(offers(events)[0][0])
    assert served == ["c3", "c2", "c4", "c1"]


# -- offers that fail ---------------------------------------------------------------------------

def test_a_missed_offer_puts_the_call_back_in_its_place_and_the_agent_at_the_back() -> None:
    acd = machine(QueueConfig("q", offer_timeout_seconds=15, missed_offer_limit=2), agents={"ann": {}, "bob": {}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 10)
    acd.enqueue("c2", "q", T0 + 11)
    assert acd.next_deadline() == T0 + 25
    assert acd.tick(T0 + 24.9) == []
    events = acd.tick(T0 + 30)
    assert events[0] == OfferMissed("c1", "ann", "no answer")
    assert Requeued("c1", "q") in events
    assert offers(events) == [("c1", "ann")]             # c1 before c2, ann the only one ready
    assert acd.agent("ann").idle_since == T0 + 25
    assert acd.call("c1").attempts == 2
    events = acd.reject("c1", "ann", T0 + 31)           # the second miss in a row: not ready
    assert AgentStateChanged("ann", AgentState.RESERVED, AgentState.NOT_READY, "missed offers", "seat-ann", "") \
        in events
    assert acd.position("c1") == 1 and acd.position("c2") == 2
    events = acd.login("bob", "seat-bob", T0 + 32, ready=True)
    assert offers(events) == [("c1", "bob")]
    events = acd.set_ready("ann", T0 + 33)
    assert offers(events) == [("c2", "ann")] and acd.agent("ann").missed_offers == 0


def test_misses_count_only_in_a_row() -> None:
    acd = machine(QueueConfig("q", missed_offer_limit=2), agents={"ann": {}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 1)
    acd.reject("c1", "ann", T0 + 2)                      # offered again at once: ann is the only one
    serve(acd, "c1", "ann", T0 + 3)
    acd.enqueue("c2", "q", T0 + 10)
    acd.reject("c2", "ann", T0 + 11)
    assert acd.agent("ann").state is AgentState.RESERVED and acd.agent("ann").missed_offers == 1


def test_a_caller_who_hangs_up_while_ringing_releases_the_agent_without_blame() -> None:
    acd = machine(QueueConfig("q"), agents={"ann": {}, "bob": {}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 10)
    acd.ringing("c1", "ann", T0 + 10.2)
    acd.enqueue("c2", "q", T0 + 11)
    events = acd.call_ended("c1", T0 + 12)
    assert events[:2] == [OfferReleased("c1", "ann", "caller left"),
                          CallLeft("c1", "q", LeaveReason.ABANDONED, "", 2.0)]
    assert offers(events) == [("c2", "ann")]
    assert acd.agent("ann").missed_offers == 0 and acd.agent("ann").idle_since == T0


def test_pausing_or_logging_out_while_ringing_hands_the_call_on() -> None:
    acd = machine(QueueConfig("q"), agents={"ann": {}, "bob": {}})
    ready(acd, "ann", "bob")
    acd.enqueue("c1", "q", T0 + 10)
    acd.enqueue("c2", "q", T0 + 10)
    events = acd.set_break("ann", "toilet", T0 + 11)
    assert events[0] == OfferReleased("c1", "ann", "agent unavailable")
    assert acd.agent("ann").state is AgentState.BREAK and acd.position("c1") == 1
    events = acd.logout("bob", T0 + 12)
    assert OfferReleased("c2", "bob", "agent logged out") in events
    assert acd.agent("bob").state is AgentState.LOGGED_OUT and acd.agent("bob").device == ""
    assert offers(acd.set_ready("ann", T0 + 13)) == [("c1", "ann")]


# -- wrap-up ------------------------------------------------------------------------------------

def test_after_call_work_blocks_offers_until_the_disposition_is_saved() -> None:
    acd = machine(QueueConfig("q"), agents={"ann": {}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 1)
    acd.answer("c1", "ann", T0 + 2)
    events = acd.call_ended("c1", T0 + 60)
    assert events[0] == CallEnded("c1", "q", "ann", 58.0)
    assert acd.agent("ann").state is AgentState.AFTER_CALL_WORK
    assert offers(acd.enqueue("c2", "q", T0 + 61)) == []
    with pytest.raises(DispositionRequired):
        acd.set_ready("ann", T0 + 62)
    acd.set_break("ann", "phone the caller back", T0 + 63)
    with pytest.raises(DispositionRequired):
        acd.set_ready("ann", T0 + 64)
    assert acd.tick(T0 + 3600) == []                      # no limit: only the disposition ends it
    events = acd.save_disposition("ann", "c1", "water leak", T0 + 3601, "sent a plumber")
    assert events == [DispositionSaved("ann", "c1", "q", "water leak", "sent a plumber")]
    assert acd.agent("ann").state is AgentState.BREAK
    assert offers(acd.set_ready("ann", T0 + 3602)) == [("c2", "ann")]


def test_saving_the_disposition_offers_the_next_call_in_the_same_reply() -> None:
    acd = machine(QueueConfig("q"), agents={"ann": {}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 1)
    acd.answer("c1", "ann", T0 + 2)
    acd.call_ended("c1", T0 + 3)
    acd.enqueue("c2", "q", T0 + 4)
    events = acd.save_disposition("ann", "c1", "inquiry", T0 + 5)
    assert [type(e) for e in events] == [DispositionSaved, AgentStateChanged, Offered, AgentStateChanged]
    with pytest.raises(UnknownCall):
        acd.save_disposition("ann", "c1", "inquiry", T0 + 6)
    with pytest.raises(InvalidArgument):
        acd.save_disposition("ann", "c1", "", T0 + 6)


def test_a_wrap_up_limit_lets_the_agent_take_calls_and_save_the_disposition_later() -> None:
    acd = machine(QueueConfig("q", wrap_up_limit_seconds=30), agents={"ann": {}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 1)
    acd.answer("c1", "ann", T0 + 2)
    acd.call_ended("c1", T0 + 10)
    acd.enqueue("c2", "q", T0 + 11)
    assert acd.next_deadline() == T0 + 40
    assert acd.tick(T0 + 39) == []
    events = acd.tick(T0 + 45)
    assert events[0] == WrapUpExpired("ann", "c1", "q")
    assert events[1] == AgentStateChanged("ann", AgentState.AFTER_CALL_WORK, AgentState.READY, "wrap-up limit",
                                          "seat-ann", "")
    assert offers(events) == [("c2", "ann")]
    assert acd.agent("ann").undisposed == ("c1",)
    assert acd.save_disposition("ann", "c1", "late", T0 + 50) == [DispositionSaved("ann", "c1", "q", "late", "")]


def test_a_zero_wrap_up_limit_means_ready_at_once() -> None:
    acd = machine(QueueConfig("q", wrap_up_limit_seconds=0), agents={"ann": {}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 1)
    acd.answer("c1", "ann", T0 + 2)
    acd.enqueue("c2", "q", T0 + 3)
    events = acd.call_ended("c1", T0 + 4)
    assert offers(events) == [("c2", "ann")]


# -- overflow and maximum wait ------------------------------------------------------------------

def test_overflow_moves_the_call_after_n_seconds_and_keeps_its_arrival() -> None:
    acd = machine(QueueConfig("night"), QueueConfig("day", overflow=Overflow("night", 30)),
                  agents={"ann": {}, "bob": {}}, member={"ann": {"night"}, "bob": {"night"}})
    ready(acd, "ann")
    acd.enqueue("n1", "night", T0 + 5)
    acd.answer("n1", "ann", T0 + 6)
    acd.enqueue("d1", "day", T0 + 10)                                 # nobody serves day
    acd.enqueue("n2", "night", T0 + 20)
    assert acd.next_deadline() == T0 + 40
    events = acd.tick(T0 + 41)
    assert events == [CallOverflowed("d1", "day", "night", 30.0)]
    assert acd.call("d1").queue_id == "night" and acd.call("d1").entered_at == T0 + 40
    assert acd.position("d1") == 1                                    # arrived before n2
    assert offers(acd.login("bob", "seat-b", T0 + 42, ready=True)) == [("d1", "bob")]
    stats = acd.queue_stats("day", T0 + 43)
    assert (stats.entered, stats.overflowed, stats.service_level) == (1, 1, 0.0)


def test_maximum_wait_sends_the_caller_to_its_destination_on_time() -> None:
    acd = machine(QueueConfig("q", max_wait=MaxWait(120, "voicemail:100")))
    acd.enqueue("c1", "q", T0)
    assert acd.tick(T0 + 119.999) == []
    assert acd.tick(T0 + 500) == [CallLeft("c1", "q", LeaveReason.MAX_WAIT, "voicemail:100", 120.0)]
    assert acd.next_deadline() is None and acd.calls() == []


def test_a_deadline_passing_while_the_call_rings_applies_if_the_offer_fails() -> None:
    acd = machine(QueueConfig("b"), QueueConfig("a", overflow=Overflow("b", 10), max_wait=MaxWait(20, "hangup"),
                                                 offer_timeout_seconds=25),
                  agents={"ann": {}}, member={"ann": {"a"}})
    ready(acd, "ann")
    acd.enqueue("c1", "a", T0 + 5)
    assert acd.tick(T0 + 16) == []                     # overflow due at T0 + 15: the call rings ann
    events = acd.reject("c1", "ann", T0 + 17)
    assert CallOverflowed("c1", "a", "b", 12.0) in events and offers(events) == []
    acd.enqueue("c2", "a", T0 + 18)                      # ann: ready again, offered c2
    events = acd.tick(T0 + 60)                           # c2's offer times out after both deadlines
    assert events[0] == OfferMissed("c2", "ann", "no answer")
    assert CallOverflowed("c2", "a", "b", 25.0) in events   # the earlier of overflow (T0+28), max wait (T0+38)


# -- agents, seats, devices ---------------------------------------------------------------------

def test_agents_log_in_on_any_seat_and_a_forgotten_login_is_taken_over() -> None:
    acd = machine(QueueConfig("q"), agents={"ann": {}, "bob": {}, "cho": {}})
    assert acd.login("ann", "seat-1", T0)[0] == AgentStateChanged(
        "ann", AgentState.LOGGED_OUT, AgentState.NOT_READY, "logged in", "seat-1", "")
    events = acd.login("bob", "seat-1", T0 + 1, ready=True)            # ann forgot to log out
    assert events[0] == AgentStateChanged("ann", AgentState.NOT_READY, AgentState.LOGGED_OUT,
                                          "seat taken by bob", "seat-1", "")
    assert acd.agent("bob").state is AgentState.READY
    acd.enqueue("c1", "q", T0 + 2)
    with pytest.raises(DeviceInUse):
        acd.login("cho", "seat-1", T0 + 3)
    with pytest.raises(AgentBusy):
        acd.login("bob", "softphone-bob", T0 + 3)
    acd.answer("c1", "bob", T0 + 4)
    with pytest.raises(AgentBusy):
        acd.logout("bob", T0 + 5)
    acd.call_ended("c1", T0 + 6)
    events = acd.login("bob", "softphone-bob", T0 + 7)                 # moves device during wrap-up
    assert events == [AgentStateChanged("bob", AgentState.AFTER_CALL_WORK, AgentState.AFTER_CALL_WORK,
                                        "device changed", "softphone-bob", "c1")]
    acd.login("cho", "seat-1", T0 + 8, ready=True)
    assert acd.agent("cho").device == "seat-1"
    assert acd.login("cho", "seat-1", T0 + 9) == []


def test_commands_that_do_not_apply_are_refused_and_change_nothing() -> None:
    acd = machine(QueueConfig("q"), agents={"ann": {}})
    before = acd.to_state()
    with pytest.raises(UnknownAgent):
        acd.login("zoe", "seat", T0)
    with pytest.raises(UnknownQueue):
        acd.enqueue("c1", "nope", T0)
    with pytest.raises(InvalidState):
        acd.set_ready("ann", T0)
    with pytest.raises(InvalidArgument):
        acd.set_break("ann", "", T0)
    with pytest.raises(InvalidArgument):
        acd.set_state("ann", AgentState.TALKING, T0)
    with pytest.raises(UnknownCall):
        acd.answer("c9", "ann", T0)
    assert acd.to_state() == before
    acd.enqueue("c1", "q", T0)
    with pytest.raises(CallExists):
        acd.enqueue("c1", "q", T0)
    with pytest.raises(InvalidArgument):
        acd.cancel("c1", T0, LeaveReason.MAX_WAIT)
    with pytest.raises(InvalidState):
        acd.remove_queue("q")
    with pytest.raises(UnknownQueue):
        acd.configure_queue(QueueConfig("x", overflow=Overflow("missing", 5)), T0)


@pytest.mark.parametrize("bad", [
    dict(id=""), dict(skills={"x": 0}), dict(skills={"": 1}), dict(overflow=Overflow("q", 10)),
    dict(overflow=Overflow("other", 0)), dict(max_wait=MaxWait(10, "")), dict(offer_timeout_seconds=0),
    dict(wrap_up_limit_seconds=-1), dict(missed_offer_limit=0), dict(service_level_seconds=float("nan")),
])
def test_a_queue_that_cannot_work_is_refused(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"id": "q", **bad}
    with pytest.raises(InvalidArgument):
        QueueConfig(**fields)  # type: ignore[arg-type]


# -- configuration changes ----------------------------------------------------------------------

def test_configuration_changes_take_effect_at_once() -> None:
    acd = machine(QueueConfig("q", skills={"en": 2}), agents={"ann": {"en": 1}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 1)
    events = acd.configure_queue(QueueConfig("q", skills={"en": 1}), T0 + 2)    # looser: ann now serves
    assert offers(events) == [("c1", "ann")]
    acd.reject("c1", "ann", T0 + 3)
    acd.set_not_ready("ann", T0 + 4)
    acd.configure_queue(QueueConfig("q", skills={"en": 1}, max_wait=MaxWait(30, "hangup")), T0 + 5)
    assert acd.call("c1").max_wait_at == T0 + 31                               # from its entry
    acd.configure_queue(QueueConfig("r"), T0 + 6)
    acd.set_ready("ann", T0 + 7)                                               # takes c1 back
    acd.enqueue("r1", "r", T0 + 8)
    events = acd.configure_agent(AgentProfile("ann", {"en": 1}, frozenset({"q", "r"})), T0 + 9)
    assert events == []                                                        # ringing: nothing to do
    acd.answer("c1", "ann", T0 + 10)
    acd.call_ended("c1", T0 + 11)
    assert offers(acd.save_disposition("ann", "c1", "x", T0 + 12)) == [("r1", "ann")]


# -- routing profiles ---------------------------------------------------------------------------

def test_a_routing_profile_changes_strategy_and_priority_in_its_time_band() -> None:
    lunch = RoutingProfile("lunch", bands=(TimeBand(datetime(2026, 1, 1, 12).time(),
                                                     datetime(2026, 1, 1, 13).time()),), strategy=Strategy.RING_ALL,
                           priority=9)
    acd = machine(QueueConfig("q", profiles=(lunch,)), QueueConfig("other", priority=5),
                  agents={"ann": {}, "bob": {}})
    ready(acd, "ann", "bob")
    noon = T0 + 2 * 3600
    assert acd.queue_stats("q", noon - 1).profile is None
    stats = acd.queue_stats("q", noon)
    assert (stats.profile, stats.strategy, stats.priority) == ("lunch", Strategy.RING_ALL, 9)
    assert sorted(offers(acd.enqueue("c1", "q", noon + 5))) == [("c1", "ann"), ("c1", "bob")]
    acd.answer("c1", "ann", noon + 6)
    acd.enqueue("o1", "other", noon + 7)                 # bob takes it
    acd.enqueue("o2", "other", noon + 8)
    acd.enqueue("c2", "q", noon + 9)
    acd.call_ended("c1", noon + 10)
    assert offers(acd.save_disposition("ann", "c1", "x", noon + 11)) == [("c2", "ann")]   # lunch: q first
    assert acd.queue_stats("q", noon + 3600).strategy is Strategy.LONGEST_IDLE


# -- snapshots and persistence ------------------------------------------------------------------

def test_queue_stats_and_service_level() -> None:
    acd = machine(QueueConfig("q", service_level_seconds=15), agents={"ann": {}, "bob": {}})
    ready(acd, "ann")
    acd.enqueue("c1", "q", T0 + 10)
    acd.answer("c1", "ann", T0 + 12)                   # in target
    acd.enqueue("c2", "q", T0 + 20, caller="0762201111")
    acd.enqueue("c3", "q", T0 + 21)
    acd.cancel("c3", T0 + 25)                           # short abandon: not counted
    acd.enqueue("c4", "q", T0 + 26)
    acd.cancel("c4", T0 + 50)                           # long abandon: counted against
    stats = acd.queue_stats("q", T0 + 60)
    assert [(w.call_id, w.caller, w.waited) for w in stats.waiting] == [("c2", "0762201111", 40.0)]
    assert stats.longest_wait == 40.0
    assert (stats.agents_ready, stats.agents_busy, stats.agents_logged_in, stats.talking) == (0, 1, 1, 1)
    assert (stats.entered, stats.answered, stats.abandoned) == (4, 1, 2)
    assert stats.service_level == 0.5
    acd.reset_counters()
    stats = acd.queue_stats("q", T0 + 61)
    assert (stats.entered, stats.service_level, len(stats.waiting)) == (0, None, 1)


def test_a_restored_machine_carries_on_exactly_like_the_original() -> None:
    acd = machine(QueueConfig("b"), QueueConfig("a", Strategy.SKILLS, {"x": 1}, overflow=Overflow("b", 30),
                                                 wrap_up_limit_seconds=20),
                  agents={"ann": {"x": 2}, "bob": {"x": 1}, "cho": {"x": 3}})
    ready(acd, "ann", "bob")
    acd.enqueue("c1", "a", T0 + 10, priority=1, skills={"x": 2}, caller="090", ivr_path=["main:2", "tax:1"])
    acd.enqueue("c2", "a", T0 + 11)
    acd.answer("c1", "ann", T0 + 12)
    acd.enqueue("c3", "a", T0 + 13)
    acd.call_ended("c1", T0 + 14)
    acd.login("cho", "seat-c", T0 + 15)
    state = json.loads(json.dumps(acd.to_state()))
    twin = Acd.from_state(state)
    assert twin.to_state() == state and twin.next_deadline() == acd.next_deadline()
    assert [c.id for c in twin.calls()] == ["c2", "c3"] and twin.call("c3").state is CallState.WAITING
    commands: list[Callable[[Acd], list[Event]]] = [
        lambda m: m.tick(T0 + 40), lambda m: m.set_ready("cho", T0 + 41), lambda m: m.answer("c2", "bob", T0 + 42),
        lambda m: m.tick(T0 + 100), lambda m: m.save_disposition("ann", "c1", "x", T0 + 101),
        lambda m: m.enqueue("c4", "a", T0 + 102)]
    for command in commands:
        assert command(twin) == command(acd)
        assert twin.to_state() == acd.to_state()
    with pytest.raises(InvalidArgument):
        Acd.from_state({**state, "version": 99})


def test_assignment_is_event_driven_nothing_waits_for_a_tick() -> None:
    acd = machine(QueueConfig("q"), agents={"ann": {}})
    assert acd.next_deadline() is None
    events = acd.enqueue("c1", "q", T0)
    assert events == [Enqueued("c1", "q", 0)] and acd.next_deadline() is None   # no timer at all
    events = acd.login("ann", "seat", T0 + 1, ready=True)
    assert offers(events) == [("c1", "ann")]
    assert [type(e) for e in acd.answer("c1", "ann", T0 + 2)] == [CallAnswered, AgentStateChanged]
