"""Scripted calls as the events callcontrol and the ACD publish (protobuf, with subjects), for the
analytics tests: each builder method adds the events of one step at a time offset (seconds)
from the call's start."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from hibiki.events.v1 import acd_pb2, agent_pb2, call_pb2, meta_pb2, recording_pb2

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


@dataclass(frozen=True)
class Published:
    subject: str
    message: Message

    @property
    def event_id(self) -> str:
        return str(self.message.meta.id)  # type: ignore[attr-defined]

    def payload(self) -> bytes:
        return self.message.SerializeToString()


@dataclass
class Call:
    tenant: str
    start: datetime = T0
    call_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    events: list[Published] = field(default_factory=list)

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def meta(self, seconds: float, call_uuid: str | None = None) -> meta_pb2.EventMeta:
        return meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=self.tenant, occurred_at=ts(self.at(seconds)),
                                  source="tests", call_uuid=call_uuid or self.call_id, node="fs1")

    def add(self, domain: str, event: str, message: Message) -> Call:
        self.events.append(Published(f"hibiki.{self.tenant}.{domain}.{event}", message))
        return self

    def started(self, direction: int = call_pb2.CALL_DIRECTION_INBOUND, caller: str = "0312345678",
                destination: str = "0462511111") -> Call:
        return self.add("call", "started", call_pb2.CallStarted(
            meta=self.meta(0), direction=direction, caller_number=caller, destination_number=destination))

    def ivr(self, seconds: float, menu_id: str = "main", digits: str = "1") -> Call:
        self.add("call", "ivr_entered", call_pb2.IvrEntered(meta=self.meta(seconds - 0.5), ivr_id=menu_id))
        step = call_pb2.IvrStep(menu_id=menu_id, digits=digits)
        return self.add("call", "menu_choice", call_pb2.MenuChoice(meta=self.meta(seconds), step=step, path=[step]))

    def queued(self, seconds: float, queue: str, path: tuple[tuple[str, str], ...] = (("main", "1"),)) -> Call:
        steps = [call_pb2.IvrStep(menu_id=m, digits=d) for m, d in path]
        self.add("call", "queue_entered", call_pb2.QueueEntered(meta=self.meta(seconds), queue_id=queue,
                                                                ivr_path=steps))
        return self.add("acd", "queued", acd_pb2.CallQueued(meta=self.meta(seconds + 0.01), queue_id=queue))

    def overflowed(self, seconds: float, from_queue: str, to_queue: str, wait_ms: int) -> Call:
        return self.add("acd", "overflowed", acd_pb2.CallOverflowed(
            meta=self.meta(seconds), from_queue=from_queue, to_queue=to_queue, wait_ms=wait_ms))

    def agent_answered(self, seconds: float, queue: str, agent: str, wait_ms: int) -> Call:
        return self.add("acd", "answered", acd_pb2.QueueCallAnswered(
            meta=self.meta(seconds), queue_id=queue, agent_id=agent, wait_ms=wait_ms))

    def left_queue(self, seconds: float, queue: str, wait_ms: int, reason: str = "abandoned") -> Call:
        return self.add("acd", "left", acd_pb2.CallLeftQueue(
            meta=self.meta(seconds), queue_id=queue, reason=reason, wait_ms=wait_ms))

    def ivr_transfer(self, seconds: float, destination: str) -> Call:
        return self.add("call", "transferred", call_pb2.CallTransferred(
            meta=self.meta(seconds), from_party="ivr:main", to_destination=destination))

    def answered(self, seconds: float, leg_uuid: str, by: str) -> Call:
        """callcontrol's call.answered of a channel (keyed by that channel, not the call)."""
        return self.add("call", "answered", call_pb2.CallAnswered(meta=self.meta(seconds, leg_uuid), answered_by=by))

    def disposition(self, seconds: float, agent: str, case_type: str, queue: str = "") -> Call:
        return self.add("agent", "disposition_saved", agent_pb2.DispositionSaved(
            meta=self.meta(seconds), agent_id=agent, queue_id=queue, case_type=case_type))

    def recording_stored(self, seconds: float, recording_id: str, leg_uuid: str | None = None) -> Call:
        return self.add("recording", "stored", recording_pb2.RecordingStored(
            meta=self.meta(seconds, leg_uuid), recording_id=recording_id))

    def leg(self, *, end: float, leg_uuid: str | None = None, b: bool = False, answer: float | None = None,
            start: float = 0.0, progress: float | None = None, bridged: float | None = None,
            direction: int = call_pb2.CALL_DIRECTION_INBOUND, cause: str = "NORMAL_CLEARING", sip_code: int = 0,
            hint: int = call_pb2.CALL_RESULT_HINT_UNSPECIFIED, **fields: object) -> str:
        """A leg's call.ended; returns the leg's uuid (the call id for the A-leg)."""
        uuid_ = leg_uuid or (str(uuid.uuid4()) if b else self.call_id)
        message = call_pb2.CallEnded(
            meta=self.meta(end, uuid_), hangup_cause=cause, started_at=ts(self.at(start)), ended_at=ts(self.at(end)),
            call_id=self.call_id, leg=call_pb2.CALL_LEG_B if b else call_pb2.CALL_LEG_A, direction=direction,
            sip_code=sip_code, result_hint=hint, **fields)  # type: ignore[arg-type]
        for name, offset in (("answered_at", answer), ("progress_at", progress), ("bridged_at", bridged)):
            if offset is not None:
                getattr(message, name).CopyFrom(ts(self.at(offset)))
        self.add("call", "ended", message)
        return uuid_


def agent_state(tenant: str, agent_id: str, at: datetime, current: agent_pb2.AgentState.ValueType,
                call_id: str = "",
                previous: agent_pb2.AgentState.ValueType = agent_pb2.AGENT_STATE_UNSPECIFIED) -> Published:
    message = agent_pb2.AgentStateChanged(
        meta=meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=tenant, occurred_at=ts(at), source="tests",
                                call_uuid=call_id),
        agent_id=agent_id, previous=previous, current=current, call_uuid=call_id, queue_ids=["water"], device="701")
    return Published(f"hibiki.{tenant}.agent.state_changed", message)


@dataclass
class Day:
    """A scripted day of one tenant's calls and what a person counts in it."""

    events: list[Published] = field(default_factory=list)
    results: dict[str, int] = field(default_factory=dict)     # result -> calls (test calls excluded)
    test_calls: int = 0
    calls: int = 0
    wait_ms: int = 0              # total queue wait of the counted calls
    talk_ms: int = 0              # total talk of the counted answered calls
    acw_ms: int = 0


def scripted_day(tenant: str, repeat: int = 1, start: datetime = T0) -> Day:
    """``repeat`` times: 3 queued calls answered (one overflowed), 2 abandoned in queue, 1 abandoned
    in the IVR, 1 to voicemail, 1 busy extension, 1 outbound call answered, 1 test call (answered)."""
    day = Day()
    minute = 0

    def next_call() -> Call:
        nonlocal minute
        minute += 3
        return Call(tenant, start=start + timedelta(minutes=minute))

    def count(call: Call, result: str, wait: int = 0, talk: int = 0) -> None:
        day.events.extend(call.events)
        day.calls += 1
        day.results[result] = day.results.get(result, 0) + 1
        day.wait_ms, day.talk_ms = day.wait_ms + wait, day.talk_ms + talk

    for _ in range(repeat):
        for n, overflow in enumerate((False, False, True)):
            agent = f"a{n}"
            call = next_call().started()
            call.ivr(2).queued(4, "water")
            wait = 6_000
            if overflow:
                call.overflowed(24, "water", "general", 20_000).agent_answered(30, "general", agent, 6_000)
                wait, answer = 26_000, 30.0
            else:
                call.agent_answered(10, "water", agent, 6_000)
                answer = 10.0
            call.leg(b=True, start=answer - 4, progress=answer - 3.5, answer=answer, end=answer + 90, agent_id=agent)
            call.leg(answer=1, end=answer + 90, did="0462511111")
            day.events.extend([agent_state(tenant, agent, call.at(answer), agent_pb2.AGENT_STATE_TALKING, call.call_id),
                               agent_state(tenant, agent, call.at(answer + 90), agent_pb2.AGENT_STATE_AFTER_CALL_WORK,
                                           call.call_id),
                               agent_state(tenant, agent, call.at(answer + 120), agent_pb2.AGENT_STATE_READY)])
            day.acw_ms += 30_000
            count(call, "answered", wait, 90_000)
        for _ in range(2):
            call = next_call().started()
            call.ivr(2).queued(4, "water").left_queue(49, "water", 45_000).leg(answer=1, end=49)
            count(call, "abandoned_queue", 45_000)
        call = next_call().started()
        call.ivr(2, "main", "").leg(answer=1, end=8)
        count(call, "abandoned_ivr")
        call = next_call().started()
        call.leg(b=True, start=1, progress=1.2, end=21, cause="NO_ANSWER", sip_code=480)
        call.leg(answer=21, end=60, hint=call_pb2.CALL_RESULT_HINT_VOICEMAIL)
        count(call, "voicemail")
        call = next_call().started(direction=call_pb2.CALL_DIRECTION_INTERNAL, caller="2001", destination="2002")
        call.leg(b=True, start=0.2, end=1, cause="USER_BUSY", sip_code=486, direction=call_pb2.CALL_DIRECTION_INTERNAL)
        call.leg(end=1, cause="USER_BUSY", direction=call_pb2.CALL_DIRECTION_INTERNAL, user="2001")
        count(call, "busy")
        call = next_call().started(direction=call_pb2.CALL_DIRECTION_OUTBOUND, caller="2001",
                                   destination="0312345678")
        call.leg(b=True, start=0.3, progress=1, answer=8, end=68, direction=call_pb2.CALL_DIRECTION_OUTBOUND)
        call.leg(answer=8, end=68, direction=call_pb2.CALL_DIRECTION_OUTBOUND, user="2001")
        count(call, "answered", 0, 60_000)
        test = next_call().started()
        test.leg(b=True, start=1, answer=3, end=30, test_mode=True, user="2001")
        test.leg(answer=1, end=30, test_mode=True)
        day.events.extend(test.events)
        day.test_calls += 1
    return day
