"""Folding a call's events into its record: each result, the durations a person would compute,
and the same record whatever the order or repetition of the events (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.analytics.events import KINDS, IgnoredEvent, InvalidEvent, RawEvent, decode
from hibiki.analytics.records import CallRecord, fold_agent, fold_call
from hibiki.events.v1 import agent_pb2, call_pb2
from support.call_events import T0, Call, Published, agent_state

NOW = datetime(2026, 12, 1, tzinfo=UTC)
A = agent_pb2


def raw(events: list[Published]) -> list[RawEvent]:
    return [decode(e.subject, e.payload(), NOW) for e in events]


def record(call: Call, acw: dict[str, int] | None = None) -> CallRecord:
    result, _ = fold_call(call.tenant, call.call_id, raw(call.events), acw)
    assert result is not None
    return result


def queued_call_answered() -> Call:
    """DID -> IVR (1) -> queue water, overflow to general after 20 s, agent a1 answers 8 s later,
    talks 120 s, then the agent writes a disposition."""
    call = Call("kanazawa").started()
    call.ivr(3, "main", "1").queued(5, "water").overflowed(25, "water", "general", 20_000)
    call.agent_answered(33, "general", "a1", 8_000)
    call.leg(b=True, start=26, progress=26.2, answer=33, end=153, agent_id="a1", user="701", hold_ms=4_000)
    call.leg(start=0, answer=1, end=153, did="0462511111", caller_number="0312345678", destination_number="0462511111",
             sip_code=200)
    call.disposition(170, "a1", "water-leak")
    return call


def test_a_queued_call_answered_after_overflow() -> None:
    r = record(queued_call_answered(), acw={"a1": 15_000})
    assert r.result == "answered" and r.direction == "inbound" and r.did == "0462511111"
    assert r.queues == ("water", "general") and r.queue_id == "general" and r.overflowed
    assert r.wait_ms == 28_000                      # 20 s in water + 8 s in general
    assert r.answer_time == T0.replace(second=33) and r.talk_ms == 120_000
    assert r.ring_time == T0.replace(second=26, microsecond=200_000) and r.ring_ms == 6_800
    assert r.agent_id == "a1" and r.user_id == "701" and r.hold_ms == 4_000 and r.acw_ms == 15_000
    assert r.ivr_path == ("main:1",) and r.disposition == "water-leak" and r.legs == 2 and not r.test_mode


def test_abandoned_in_queue_and_in_ivr() -> None:
    queue = Call("t").started()
    queue.ivr(2).queued(4, "water").left_queue(34, "water", 30_000).leg(answer=0.5, end=34)
    r = record(queue)
    assert (r.result, r.wait_ms, r.answer_time, r.talk_ms) == ("abandoned_queue", 30_000, None, 0)
    ivr = Call("t").started()
    ivr.ivr(2, "main", "").leg(answer=0.5, end=9)
    assert record(ivr).result == "abandoned_ivr" and record(ivr).ivr_path == ("main:",)


@pytest.mark.parametrize(("hint", "cause", "code", "expected"), [
    (call_pb2.CALL_RESULT_HINT_VOICEMAIL, "NORMAL_CLEARING", 0, "voicemail"),
    (call_pb2.CALL_RESULT_HINT_REFUSED, "CALL_REJECTED", 403, "refused"),
    (0, "USER_BUSY", 486, "busy"),
    (0, "NO_ANSWER", 480, "no_answer"),
    (0, "ORIGINATOR_CANCEL", 487, "no_answer"),
    (0, "DESTINATION_OUT_OF_ORDER", 502, "failed"),
])
def test_results_from_the_legs(hint: int, cause: str, code: int, expected: str) -> None:
    call = Call("t")
    call.leg(b=True, start=0.1, end=20, cause=cause, sip_code=code, hint=hint)
    call.leg(end=20, cause=cause, direction=call_pb2.CALL_DIRECTION_INTERNAL)
    r = record(call)
    assert r.result == expected and r.direction == "internal" and r.answer_time is None


def test_an_ivr_transfer_is_routing_a_person_transfer_is_a_transfer() -> None:
    routed = Call("t").started()
    routed.ivr(2).ivr_transfer(3, "2001")
    routed.leg(b=True, start=3, answer=10, end=70, user="2001")
    routed.leg(answer=0.5, end=70, hint=call_pb2.CALL_RESULT_HINT_TRANSFERRED, transfer_target="2001")
    r = record(routed)
    assert (r.result, r.transfer_target, r.user_id, r.talk_ms) == ("answered", "", "2001", 60_000)
    moved = Call("t").started()
    moved.leg(b=True, start=1, answer=5, end=40, user="2001", hint=call_pb2.CALL_RESULT_HINT_TRANSFERRED,
              transfer_target="2002")
    moved.leg(answer=5, end=90)
    assert (record(moved).result, record(moved).transfer_target) == ("transferred", "2002")


def test_test_calls_are_marked_and_recordings_of_a_b_leg_land_on_the_call() -> None:
    call = Call("t").started()
    b = call.leg(b=True, start=1, answer=4, end=30, test_mode=True)
    call.leg(answer=4, end=30, test_mode=True)
    call.recording_stored(31, "rec-1", leg_uuid=b)
    events = raw(call.events)
    # the ingestor keys a B-leg's recording by the call; fold sees it under the call
    events = [e if e.kind != "recording.stored" else RawEvent(**{**e.__dict__, "key": call.call_id}) for e in events]
    r, legs = fold_call("t", call.call_id, events)
    assert r is not None and r.test_mode and r.recording_id == "rec-1"
    assert {leg.leg for leg in legs} == {"a", "b"}


def test_no_call_record_before_the_originating_leg_ends() -> None:
    call = Call("t").started()
    call.queued(2, "water").leg(b=True, start=3, answer=5, end=9)
    r, legs = fold_call("t", call.call_id, raw(call.events))
    assert r is None and len(legs) == 1


def test_agent_intervals_end_at_the_next_change() -> None:
    t = T0
    events = [agent_state("t", "a1", t.replace(minute=m), state, call)
              for m, state, call in ((0, A.AGENT_STATE_READY, ""), (5, A.AGENT_STATE_TALKING, "c1"),
                                     (9, A.AGENT_STATE_AFTER_CALL_WORK, "c1"), (10, A.AGENT_STATE_READY, ""))]
    intervals = fold_agent("t", "a1", raw(events[::-1] + events[:2]))
    assert [(i.state, i.duration_ms, i.call_id) for i in intervals] == [
        ("ready", 300_000, ""), ("talking", 240_000, "c1"), ("after_call_work", 60_000, "c1"), ("ready", 0, "")]
    assert intervals[-1].end_time is None


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.lists(st.integers(min_value=0, max_value=9), max_size=6))
def test_order_and_repetition_do_not_change_the_record(rnd: object, repeats: list[int]) -> None:
    call = queued_call_answered()
    events = raw(call.events)
    expected = fold_call("kanazawa", call.call_id, events)
    shuffled = events + [events[i % len(events)] for i in repeats]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold_call("kanazawa", call.call_id, shuffled) == expected


def test_hostile_or_foreign_events_are_refused_with_a_reason() -> None:
    call = Call("t").started()
    good = call.events[0]
    with pytest.raises(InvalidEvent, match="not a CallStarted"):
        decode(good.subject, b"\xff\xff\xff", NOW)
    with pytest.raises(InvalidEvent, match="subject's tenant"):
        decode("hibiki.other.call.started", good.payload(), NOW)
    with pytest.raises(InvalidEvent, match="subject"):
        decode("nothibiki.t.call", good.payload(), NOW)
    with pytest.raises(IgnoredEvent):
        decode("hibiki.t.config.changed", b"", NOW)
    good.message.meta.call_uuid = "x\n" + "y" * 300   # type: ignore[attr-defined]
    with pytest.raises(InvalidEvent, match="meta.call_uuid"):
        decode(good.subject, good.payload(), NOW)


EVENT_KINDS = sorted(KINDS)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(EVENT_KINDS + ["config.changed", "call"]), st.binary(max_size=200))
def test_any_bytes_on_any_subject_decode_or_are_refused(kind: str, payload: bytes) -> None:
    try:
        event = decode(f"hibiki.t.{kind}", payload, NOW)
    except (InvalidEvent, IgnoredEvent):
        return
    assert event.tenant == "t" and event.event_id and event.key


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(range(12)), st.floats(min_value=0, max_value=600),
                          st.floats(min_value=0, max_value=600)), min_size=1, max_size=12))
def test_any_mix_of_steps_folds_to_a_sane_record(steps: list[tuple[int, float, float]]) -> None:
    call = Call("t").started()
    for step, at, other in steps:
        [lambda: call.ivr(at + 0.5), lambda: call.queued(at, "water"),
         lambda: call.overflowed(at, "water", "general", int(other * 1000)),
         lambda: call.agent_answered(at, "water", "a1", int(other * 1000)),
         lambda: call.left_queue(at, "water", int(other * 1000)), lambda: call.ivr_transfer(at, "2001"),
         lambda: call.disposition(at, "a1", "x"), lambda: call.recording_stored(at, "r"),
         lambda: call.leg(b=True, start=min(at, other), answer=max(at, other), end=max(at, other) + 1),
         lambda: call.leg(b=True, start=at, end=at + other, cause="USER_BUSY", sip_code=486),
         lambda: call.leg(b=True, start=at, end=at + 1, hint=call_pb2.CALL_RESULT_HINT_TRANSFERRED,
                          transfer_target="2002", answer=at + 0.5),
         lambda: call.answered(at, call.call_id, "ivr")][step]()
    call.leg(start=0, end=max(at + other for _, at, other in steps) + 2)
    record, legs = fold_call("t", call.call_id, raw(call.events))
    assert record is not None and record.legs == len(legs) >= 1
    assert record.result in {"answered", "abandoned_ivr", "abandoned_queue", "no_answer", "busy", "refused",
                             "voicemail", "transferred", "failed"}
    assert min(record.wait_ms, record.talk_ms, record.ring_ms, record.hold_ms) >= 0
    assert (record.answer_time is None) == (record.result not in ("answered", "transferred"))


def test_a_call_its_lost_node_took_out_of_the_queue_is_node_lost() -> None:
    """acd.left node_lost (the ACD found no callcontrol reaching the caller's FreeSWITCH node): its
    own result, not abandoned_queue; answered after callcontrol's fallback route, it is answered."""
    lost = Call("t").started()
    lost.ivr(2).queued(4, "water").left_queue(20, "water", 16_000, reason="node_lost").leg(answer=0.5, end=21)
    r = record(lost)
    assert (r.result, r.wait_ms, r.queue_id, r.answer_time) == ("node_lost", 16_000, "water", None)
    # the fallback route queued it again and the caller hung up there: abandoned in that queue
    again = Call("t").started()
    again.ivr(2).queued(4, "water").left_queue(20, "water", 16_000, reason="node_lost")
    again.queued(22, "general").left_queue(40, "general", 18_000).leg(answer=0.5, end=40)
    assert record(again).result == "abandoned_queue"
    # ... or an agent answered it there
    answered = Call("t").started()
    answered.ivr(2).queued(4, "water").left_queue(20, "water", 16_000, reason="node_lost")
    answered.queued(22, "general").agent_answered(30, "general", "a1", 8_000)
    answered.leg(b=True, start=29, answer=30, end=90, agent_id="a1", user="701")
    answered.leg(answer=0.5, end=90)
    assert record(answered).result == "answered"
    for reason, result in (("abandoned", "abandoned_queue"), ("max_wait", "abandoned_queue"),
                           ("cancelled", "abandoned_queue"), ("node_lost", "node_lost")):
        call = Call("t").started()
        call.queued(4, "water").left_queue(20, "water", 16_000, reason=reason).leg(answer=0.5, end=21)
        assert record(call).result == result
