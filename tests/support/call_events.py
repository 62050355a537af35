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


def agent_state(tenant: str, agent_id: str, at: datetime, current: int, call_id: str = "",
                previous: int = 0) -> Published:
    message = agent_pb2.AgentStateChanged(
        meta=meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=tenant, occurred_at=ts(at), source="tests",
                                call_uuid=call_id),
        agent_id=agent_id, previous=previous, current=current, call_uuid=call_id, queue_ids=["water"], device="701")
    return Published(f"hibiki.{tenant}.agent.state_changed", message)
