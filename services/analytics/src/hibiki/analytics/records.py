"""Folding a call's events into its call record and leg records, and an agent's state changes
into intervals (pure: no I/O). The rules are in services/analytics/README.md (SCHEMA)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hibiki.analytics.events import RawEvent, timestamp
from hibiki.events.v1 import acd_pb2, agent_pb2, call_pb2, recording_pb2

DIRECTIONS = {
    call_pb2.CALL_DIRECTION_INBOUND: "inbound", call_pb2.CALL_DIRECTION_OUTBOUND: "outbound",
    call_pb2.CALL_DIRECTION_INTERNAL: "internal",
}
HINTS = {
    call_pb2.CALL_RESULT_HINT_VOICEMAIL: "voicemail", call_pb2.CALL_RESULT_HINT_REFUSED: "refused",
    call_pb2.CALL_RESULT_HINT_TRANSFERRED: "transferred",
}
STATES = {
    agent_pb2.AGENT_STATE_LOGGED_OUT: "logged_out", agent_pb2.AGENT_STATE_READY: "ready",
    agent_pb2.AGENT_STATE_RESERVED: "reserved", agent_pb2.AGENT_STATE_RINGING: "ringing",
    agent_pb2.AGENT_STATE_TALKING: "talking", agent_pb2.AGENT_STATE_AFTER_CALL_WORK: "after_call_work",
    agent_pb2.AGENT_STATE_BREAK: "break", agent_pb2.AGENT_STATE_NOT_READY: "not_ready",
}
BUSY_CAUSES = {"USER_BUSY"}
BUSY_CODES = {486, 600}
NO_ANSWER_CAUSES = {"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT"}
NO_ANSWER_CODES = {408, 480, 487}


@dataclass(frozen=True)
class LegRecord:
    tenant: str
    call_id: str
    leg_uuid: str
    leg: str
    direction: str
    caller_number: str
    caller_name: str
    callee_number: str
    did: str
    user_id: str
    agent_id: str
    queue_id: str
    start_time: datetime
    ring_time: datetime | None
    answer_time: datetime | None
    bridge_time: datetime | None
    end_time: datetime
    talk_ms: int
    hold_ms: int
    result: str
    hangup_cause: str
    sip_code: int
    transfer_target: str
    recording_id: str
    test_mode: bool
    node: str


@dataclass(frozen=True)
class CallRecord:
    tenant: str
    call_id: str
    direction: str
    caller_number: str
    caller_name: str
    callee_number: str
    did: str
    user_id: str
    agent_id: str
    answered_by: str
    start_time: datetime
    ring_time: datetime | None
    answer_time: datetime | None
    end_time: datetime
    ring_ms: int
    wait_ms: int
    talk_ms: int
    hold_ms: int
    acw_ms: int
    ivr_path: tuple[str, ...]
    queue_id: str
    queues: tuple[str, ...]
    overflowed: bool
    result: str
    hangup_cause: str
    sip_code: int
    disposition: str
    transfer_target: str
    recording_id: str
    test_mode: bool
    legs: int
    node: str


@dataclass(frozen=True)
class AgentInterval:
    tenant: str
    agent_id: str
    start_time: datetime
    event_id: str
    state: str
    reason: str
    end_time: datetime | None
    duration_ms: int
    call_id: str
    queue_ids: tuple[str, ...]
    device: str


def ms_between(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None or end < start:
        return 0
    return round((end - start).total_seconds() * 1000)


def _leg(tenant: str, call_id: str, ended: call_pb2.CallEnded) -> LegRecord:
    start = timestamp(ended.started_at)
    end = timestamp(ended.ended_at) or timestamp(ended.meta.occurred_at)
    end = end or start
    start = start or end
    assert start is not None and end is not None   # occurred_at is always set by decode's caller
    answer, bridge = timestamp(ended.answered_at), timestamp(ended.bridged_at)
    leg_uuid = ended.meta.call_uuid
    is_a = ended.leg == call_pb2.CALL_LEG_A or (ended.leg == call_pb2.CALL_LEG_UNSPECIFIED and leg_uuid == call_id)
    return LegRecord(
        tenant=tenant, call_id=call_id, leg_uuid=leg_uuid, leg="a" if is_a else "b",
        direction=DIRECTIONS.get(ended.direction, "unknown"), caller_number=ended.caller_number,
        caller_name=ended.caller_name, callee_number=ended.destination_number, did=ended.did, user_id=ended.user,
        agent_id=ended.agent_id, queue_id=ended.queue_id, start_time=start, ring_time=timestamp(ended.progress_at),
        answer_time=answer, bridge_time=bridge, end_time=end, talk_ms=ms_between(answer or bridge, end),
        hold_ms=max(0, ended.hold_ms), result=HINTS.get(ended.result_hint, ""), hangup_cause=ended.hangup_cause,
        sip_code=max(0, ended.sip_code), transfer_target=ended.transfer_target, recording_id=ended.recording_id,
        test_mode=ended.test_mode, node=ended.meta.node)


@dataclass
class _Facts:
    """What the non-leg events of one call say, gathered in time order."""

    started: call_pb2.CallStarted | None = None
    answered_by: dict[str, str] = field(default_factory=dict)     # leg uuid -> answered_by
    ivr_entered: bool = False
    ivr_path: tuple[str, ...] = ()
    queues: list[str] = field(default_factory=list)
    overflow_wait_ms: int = 0
    overflowed: bool = False
    queue_end_wait_ms: int | None = None
    first_queued_at: datetime | None = None
    queue_left_at: datetime | None = None
    abandoned_in_queue: bool = False
    node_lost: bool = False          # its last queue let it go as node_lost (its FreeSWITCH node was lost)
    acd_agent: str = ""
    acd_answered_at: datetime | None = None
    acd_talk_ms: int | None = None
    ivr_transfers: set[str] = field(default_factory=set)
    person_transfer: str = ""
    disposition: str = ""
    recording_stored: str = ""
    recording_started: str = ""

    def add_queue(self, queue_id: str, at: datetime) -> None:
        if queue_id and (not self.queues or self.queues[-1] != queue_id):
            self.queues.append(queue_id)
        if self.first_queued_at is None:
            self.first_queued_at = at

    def fold(self, event: RawEvent) -> None:  # noqa: C901 (one arm per kind)
        message = event.message()
        at = event.occurred_at
        if isinstance(message, call_pb2.CallStarted):
            self.started = message
        elif isinstance(message, call_pb2.CallAnswered):
            self.answered_by[event.call_uuid] = message.answered_by
        elif isinstance(message, call_pb2.IvrEntered):
            self.ivr_entered = True
        elif isinstance(message, call_pb2.MenuChoice):
            self.ivr_entered = True
            self._path(message.path)
        elif isinstance(message, call_pb2.QueueEntered):
            self._path(message.ivr_path)
            self.add_queue(message.queue_id, at)
        elif isinstance(message, acd_pb2.CallQueued):
            self.add_queue(message.queue_id, at)
            self.node_lost = False       # queued again (callcontrol's fallback route): that queue's outcome counts
        elif isinstance(message, acd_pb2.CallOverflowed):
            self.overflowed = True
            self.overflow_wait_ms += max(0, message.wait_ms)
            self.add_queue(message.to_queue, at)
        elif isinstance(message, acd_pb2.QueueCallAnswered):
            self.acd_agent, self.acd_answered_at = message.agent_id, at
            self.queue_end_wait_ms = max(0, message.wait_ms)
            self.node_lost = False
        elif isinstance(message, acd_pb2.CallLeftQueue):
            self.queue_end_wait_ms, self.queue_left_at = max(0, message.wait_ms), at
            self.abandoned_in_queue = message.reason == "abandoned"
            self.node_lost = message.reason == "node_lost"
        elif isinstance(message, call_pb2.CallAbandoned):
            self._path(message.ivr_path)
            if message.queue_id:
                self.abandoned_in_queue = True
                self.add_queue(message.queue_id, at)
                if self.queue_end_wait_ms is None:
                    self.queue_end_wait_ms, self.queue_left_at = max(0, message.wait_ms), at
        elif isinstance(message, acd_pb2.QueueCallEnded):
            self.acd_talk_ms = max(0, message.talk_ms)
        elif isinstance(message, call_pb2.CallTransferred):
            if message.from_party.startswith("ivr:"):
                self.ivr_transfers.add(message.to_destination)
            else:
                self.person_transfer = message.to_destination
        elif isinstance(message, agent_pb2.DispositionSaved):
            self.disposition = message.case_type
        elif isinstance(message, recording_pb2.RecordingStored):
            self.recording_stored = message.recording_id
        elif isinstance(message, recording_pb2.RecordingStarted):
            self.recording_started = self.recording_started or message.recording_id

    def _path(self, steps: Iterable[call_pb2.IvrStep]) -> None:
        path = tuple(f"{s.menu_id}:{s.digits}" for s in steps)
        if len(path) >= len(self.ivr_path):
            self.ivr_path = path


def fold_call(tenant: str, call_id: str, events: Sequence[RawEvent],
              acw_ms: dict[str, int] | None = None) -> tuple[CallRecord | None, list[LegRecord]]:
    """The call record (None until the originating leg has ended) and one record per ended leg.

    ``events`` are the call's raw events, duplicates allowed; ``acw_ms`` is the after-call work of
    agents on this call (agent id -> ms), from their state intervals."""
    unique = {e.event_id: e for e in events}
    ordered = sorted(unique.values(), key=lambda e: (e.occurred_at, e.event_id))
    facts = _Facts()
    legs: dict[str, LegRecord] = {}
    for event in ordered:
        if event.kind == "call.ended":
            leg = _leg(tenant, call_id, event.message())  # type: ignore[arg-type]
            legs[leg.leg_uuid] = leg
        else:
            facts.fold(event)
    leg_list = sorted(legs.values(), key=lambda leg: (leg.start_time, leg.leg_uuid))
    a_legs = [leg for leg in leg_list if leg.leg == "a"]
    if not a_legs:
        return None, leg_list
    return _call(tenant, call_id, a_legs[0], leg_list, facts, acw_ms or {}), leg_list


def _call(tenant: str, call_id: str, a: LegRecord, legs: list[LegRecord], facts: _Facts,
          acw_ms: dict[str, int]) -> CallRecord:
    b_legs = [leg for leg in legs if leg.leg == "b"]
    if not facts.queues:            # no ACD event came: the queue the switch's legs name
        for leg in [a, *b_legs]:
            facts.add_queue(leg.queue_id, leg.start_time)
    answered_legs = sorted((leg for leg in b_legs if leg.answer_time or leg.bridge_time),
                           key=lambda leg: leg.answer_time or leg.bridge_time or leg.start_time)
    agent_legs = [leg for leg in answered_legs if facts.acd_agent and leg.agent_id == facts.acd_agent]
    candidates = agent_legs or answered_legs
    person = candidates[0] if candidates else None
    answer_time = (person.answer_time or person.bridge_time) if person else facts.acd_answered_at
    rings = [leg.ring_time for leg in legs if leg.ring_time]
    ring_time = min(rings) if rings else None
    talk_end = person.end_time if person else a.end_time
    talk_ms = ms_between(answer_time, talk_end) if answer_time else 0
    if answer_time and person is None and facts.acd_talk_ms is not None:
        talk_ms = facts.acd_talk_ms
    wait_ms = 0
    if facts.queues:
        if facts.queue_end_wait_ms is not None:
            wait_ms = facts.overflow_wait_ms + facts.queue_end_wait_ms
        else:
            wait_ms = ms_between(facts.first_queued_at, answer_time or a.end_time)
    started = facts.started
    direction = a.direction
    if direction == "unknown" and started is not None:
        direction = DIRECTIONS.get(started.direction, "unknown")
    agent_id = facts.acd_agent or (person.agent_id if person else "")
    transfer_target = _transfer(legs, facts)
    recording_id = facts.recording_stored or next(
        (leg.recording_id for leg in legs if leg.recording_id), "") or facts.recording_started
    return CallRecord(
        tenant=tenant, call_id=call_id, direction=direction,
        caller_number=a.caller_number or (started.caller_number if started else ""),
        caller_name=a.caller_name or (started.caller_name if started else ""),
        callee_number=a.callee_number or (started.destination_number if started else ""), did=a.did,
        user_id=(person.user_id if person and person.user_id else "") or (a.user_id if direction != "inbound" else ""),
        agent_id=agent_id,
        answered_by=(facts.answered_by.get(person.leg_uuid, "") if person else "") or agent_id
        or (person.user_id if person else ""),
        start_time=a.start_time, ring_time=ring_time, answer_time=answer_time, end_time=a.end_time,
        ring_ms=ms_between(ring_time, answer_time or a.end_time) if ring_time else 0,
        wait_ms=wait_ms, talk_ms=talk_ms, hold_ms=max([leg.hold_ms for leg in legs] or [0]),
        acw_ms=acw_ms.get(agent_id, 0) if agent_id else 0,
        ivr_path=facts.ivr_path, queue_id=facts.queues[-1] if facts.queues else "", queues=tuple(facts.queues),
        overflowed=facts.overflowed, result=_result(a, legs, facts, answer_time is not None, transfer_target),
        hangup_cause=a.hangup_cause, sip_code=a.sip_code, disposition=facts.disposition,
        transfer_target=transfer_target, recording_id=recording_id, test_mode=any(leg.test_mode for leg in legs),
        legs=len(legs), node=a.node)


def _transfer(legs: list[LegRecord], facts: _Facts) -> str:
    if facts.person_transfer:
        return facts.person_transfer
    for leg in legs:
        if leg.result == "transferred" and leg.transfer_target not in facts.ivr_transfers:
            return leg.transfer_target or "?"
    return ""


def _result(a: LegRecord, legs: list[LegRecord], facts: _Facts, answered: bool, transfer_target: str) -> str:
    hints = {leg.result for leg in legs}
    if "refused" in hints:
        return "refused"
    if answered and transfer_target:
        return "transferred"
    if "voicemail" in hints:
        return "voicemail"
    if answered:
        return "answered"
    if facts.queues and facts.node_lost:
        return "node_lost"
    if facts.queues:
        return "abandoned_queue"
    if facts.ivr_entered or facts.ivr_path:
        return "abandoned_ivr"
    causes = {leg.hangup_cause for leg in legs}
    codes = {leg.sip_code for leg in legs}
    if causes & BUSY_CAUSES or codes & BUSY_CODES:
        return "busy"
    if causes & NO_ANSWER_CAUSES or codes & NO_ANSWER_CODES or any(leg.ring_time for leg in legs):
        return "no_answer"
    return "failed"


def fold_agent(tenant: str, agent_id: str, events: Sequence[RawEvent]) -> list[AgentInterval]:
    """One interval per state change of one agent, each ended by the next (the last one open)."""
    unique = {e.event_id: e for e in events if e.kind == "agent.state_changed"}
    ordered = sorted(unique.values(), key=lambda e: (e.occurred_at, e.event_id))
    out = []
    for index, event in enumerate(ordered):
        message: agent_pb2.AgentStateChanged = event.message()  # type: ignore[assignment]
        end = ordered[index + 1].occurred_at if index + 1 < len(ordered) else None
        out.append(AgentInterval(
            tenant=tenant, agent_id=agent_id, start_time=event.occurred_at, event_id=event.event_id,
            state=STATES.get(message.current, "unknown"), reason=message.reason, end_time=end,
            duration_ms=ms_between(event.occurred_at, end), call_id=message.call_uuid or event.call_uuid,
            queue_ids=tuple(message.queue_ids), device=message.device))
    return out
