"""The generated calls as the events callcontrol, the ACD and recording publish on NATS.

Per call, in the order they happen: ``call.started``; the IVR's ``call.ivr_entered`` and
``call.menu_choice``; ``call.queue_entered`` and ``acd.queued``; ``acd.overflowed``; ``acd.offered``,
``call.answered`` and ``acd.answered`` (or ``call.abandoned`` and ``acd.left``); ``call.transferred``;
``acd.ended``; ``agent.disposition_saved``; ``recording.stored``; one ``call.ended`` per leg (the
contract of the ``cdr`` work: call id, leg, times, hold, result hint). Each agent's
``agent.state_changed`` at the start of every interval of ``_analytics_rows.agent_intervals``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import NamedTuple

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from benchmarks._analytics_rows import AGENT_QUEUES, NODE, RETENTION, Interval, agent_intervals
from benchmarks._callcenter import Call
from hibiki.events.v1 import acd_pb2, agent_pb2, call_pb2, meta_pb2, recording_pb2

_DIRECTION = {"inbound": call_pb2.CALL_DIRECTION_INBOUND, "outbound": call_pb2.CALL_DIRECTION_OUTBOUND}
_HINT = {"voicemail": call_pb2.CALL_RESULT_HINT_VOICEMAIL, "refused": call_pb2.CALL_RESULT_HINT_REFUSED,
         "transferred": call_pb2.CALL_RESULT_HINT_TRANSFERRED}
_STATE = {"logged_out": agent_pb2.AGENT_STATE_LOGGED_OUT, "ready": agent_pb2.AGENT_STATE_READY,
          "ringing": agent_pb2.AGENT_STATE_RINGING, "talking": agent_pb2.AGENT_STATE_TALKING,
          "after_call_work": agent_pb2.AGENT_STATE_AFTER_CALL_WORK}
_SIP = {"NORMAL_CLEARING": 200, "USER_BUSY": 486, "NO_ANSWER": 480, "ORIGINATOR_CANCEL": 487}


class Event(NamedTuple):
    at: datetime
    subject: str
    payload: bytes


def _ts(value: datetime | None) -> Timestamp:
    ts = Timestamp()
    if value is not None:
        ts.FromDatetime(value)
    return ts


class _Emitter:
    def __init__(self, call: Call) -> None:
        self.call, self.n = call, 0
        self.out: list[Event] = []

    def emit(self, domain: str, name: str, at: datetime, message: Message, call_uuid: str | None = None) -> None:
        self.n += 1
        meta = message.meta  # type: ignore[attr-defined]
        meta.CopyFrom(meta_pb2.EventMeta(id=f"{self.call.call_uuid}-{self.n}", tenant=self.call.tenant,
                                         occurred_at=_ts(at), source="bench", node=NODE,
                                         call_uuid=call_uuid or self.call.call_uuid))
        self.out.append(Event(at, f"hibiki.{self.call.tenant}.{domain}.{name}", message.SerializeToString()))


def call_events(c: Call) -> list[Event]:  # noqa: C901 (one step of the call per branch)
    e = _Emitter(c)
    direction = _DIRECTION[c.direction]
    e.emit("call", "started", c.started_at, call_pb2.CallStarted(
        direction=direction, caller_number=c.caller, destination_number=c.callee, context="public"))
    path = [call_pb2.IvrStep(menu_id=m, menu_name=m, digits=d, branch="queue" if d else "") for m, d in c.ivr_path]
    ivr_end = c.started_at + timedelta(seconds=5)
    if path:
        e.emit("call", "ivr_entered", c.started_at, call_pb2.IvrEntered(ivr_id=path[0].menu_id))
        e.emit("call", "menu_choice", ivr_end, call_pb2.MenuChoice(step=path[-1], path=path))
    agent_leg = next((leg for leg in c.legs if leg.role == "agent"), None)
    if c.queues:
        answered = agent_leg is not None and agent_leg.answered_at is not None
        entered = ((agent_leg.answered_at if answered and agent_leg and agent_leg.answered_at else c.ended_at)
                   - timedelta(seconds=c.wait_s))
        first = c.queues[0]
        e.emit("call", "queue_entered", entered, call_pb2.QueueEntered(queue_id=first, priority=0, ivr_path=path))
        e.emit("acd", "queued", entered, acd_pb2.CallQueued(queue_id=first, caller_number=c.caller))
        overflow_ms = 0
        if len(c.queues) > 1:
            overflow_ms = 60_000
            e.emit("acd", "overflowed", entered + timedelta(seconds=60), acd_pb2.CallOverflowed(
                from_queue=first, to_queue=c.queues[1], wait_ms=overflow_ms))
        queue = c.queues[-1]
        if c.result == "abandoned_queue":
            wait_ms = round(c.wait_s * 1000) - overflow_ms
            e.emit("call", "abandoned", c.ended_at, call_pb2.CallAbandoned(queue_id=queue, wait_ms=wait_ms,
                                                                          ivr_path=path))
            e.emit("acd", "left", c.ended_at, acd_pb2.CallLeftQueue(queue_id=queue, reason="abandoned",
                                                                   wait_ms=wait_ms))
        elif agent_leg is not None and agent_leg.answered_at is not None and c.ring_at is not None:
            e.emit("acd", "offered", c.ring_at, acd_pb2.CallOffer(
                queue_id=queue, targets=[acd_pb2.OfferTarget(agent_id=c.agent_id, device=f"seat-{c.agent_id[-2:]}")],
                attempt=1, ring_seconds=20, caller_number=c.caller, ivr_path=[f"{m}:{d}" for m, d in c.ivr_path]))
            e.emit("call", "answered", agent_leg.answered_at, call_pb2.CallAnswered(
                answered_by=c.agent_id, queue_id=queue, wait_ms=round(c.wait_s * 1000)), call_uuid=agent_leg.leg_uuid)
            e.emit("acd", "answered", agent_leg.answered_at, acd_pb2.QueueCallAnswered(
                queue_id=queue, agent_id=c.agent_id, wait_ms=round(c.wait_s * 1000) - overflow_ms))
            if c.transfer_target:
                e.emit("call", "transferred", agent_leg.ended_at, call_pb2.CallTransferred(
                    from_party=c.agent_id, to_destination=c.transfer_target, attended=False))
            e.emit("acd", "ended", agent_leg.ended_at, acd_pb2.QueueCallEnded(
                queue_id=queue, agent_id=c.agent_id, talk_ms=round(c.talk_s * 1000)))
            e.emit("agent", "disposition_saved", agent_leg.ended_at + timedelta(seconds=c.acw_s),
                   agent_pb2.DispositionSaved(agent_id=c.agent_id, queue_id=queue, case_type=c.disposition))
    elif c.result == "abandoned_ivr":
        e.emit("call", "abandoned", c.ended_at, call_pb2.CallAbandoned(ivr_path=path))
    if c.recording_id:
        e.emit("recording", "stored", c.ended_at + timedelta(seconds=3), recording_pb2.RecordingStored(
            recording_id=c.recording_id, duration_ms=round(c.talk_s * 1000), codec="opus"))
    for i, leg in enumerate(c.legs):
        is_a = i == 0
        hint = leg.result if leg.result in ("voicemail", "refused") else (
            "transferred" if c.result == "transferred" and leg.role == "agent" else "")
        e.emit("call", "ended", leg.ended_at, call_pb2.CallEnded(
            hangup_cause=leg.hangup_cause, started_at=_ts(leg.started_at), answered_at=_ts(leg.answered_at),
            ended_at=_ts(leg.ended_at), call_id=c.call_uuid,
            leg=call_pb2.CALL_LEG_A if is_a else call_pb2.CALL_LEG_B, direction=direction,
            caller_number=c.caller, destination_number=c.callee if is_a else leg.party, did=c.did,
            user=c.agent_id if leg.role == "agent" else "",
            agent_id=c.agent_id if leg.role == "agent" and c.direction == "inbound" else "",
            queue_id=c.queues[-1] if leg.role == "agent" and c.queues else "",
            progress_at=_ts(None if is_a else leg.started_at),
            bridged_at=_ts(None if is_a else leg.answered_at),
            hold_ms=round(c.hold_s * 1000) if leg.role == "agent" else 0, sip_code=_SIP.get(leg.hangup_cause, 0),
            result_hint=_HINT.get(hint, call_pb2.CALL_RESULT_HINT_UNSPECIFIED),
            transfer_target=c.transfer_target if hint == "transferred" else "",
            test_mode=c.test_mode, recording_id=c.recording_id if leg.role == "agent" else ""),
            call_uuid=c.call_uuid if is_a else leg.leg_uuid)
    return e.out


def agent_events(calls: Iterable[Call]) -> Iterator[Event]:
    previous: dict[str, int] = {}
    for interval in agent_intervals(calls):
        yield _state_event(interval, previous.get(interval.agent_id, agent_pb2.AGENT_STATE_LOGGED_OUT))
        previous[interval.agent_id] = _STATE[interval.state]


def _state_event(i: Interval, previous: int) -> Event:
    message = agent_pb2.AgentStateChanged(
        meta=meta_pb2.EventMeta(id=i.event_id, tenant=i.tenant, occurred_at=_ts(i.start), source="bench",
                                call_uuid=i.call_id, node=NODE),
        agent_id=i.agent_id, previous=previous, current=_STATE[i.state], reason=i.reason,  # type: ignore[arg-type]
        device=f"seat-{i.agent_id[-2:]}", queue_ids=AGENT_QUEUES, call_uuid=i.call_id)
    return Event(i.start, f"hibiki.{i.tenant}.agent.state_changed", message.SerializeToString())


def day_events(calls: list[Call]) -> list[Event]:
    """Every event of one day's calls and agents, in the order they happened."""
    out = [ev for c in calls for ev in call_events(c)]
    out.extend(agent_events(calls))
    out.sort(key=lambda ev: ev.at)
    return out


EVENTS = ("tenant", "key", "event_id", "kind", "subject", "call_uuid", "occurred_at", "received_at", "payload",
          "retention_days")


def raw_event_row(ev: Event, received_at: datetime) -> tuple[object, ...]:
    """A row of ``hibiki.events`` as the pipeline stores it (its own decoder names the key)."""
    from hibiki.analytics.events import decode

    raw = decode(ev.subject, ev.payload, received_at)
    return (raw.tenant, raw.key, raw.event_id, raw.kind, raw.subject, raw.call_uuid, raw.occurred_at, received_at,
            raw.payload_b64, RETENTION)
