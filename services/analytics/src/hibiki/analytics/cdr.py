"""A call detail record as analytics stores it: one flat row per CDR event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hibiki.events.v1 import call_pb2, cdr_pb2

_DIRECTIONS = {
    call_pb2.CALL_DIRECTION_INBOUND: "inbound",
    call_pb2.CALL_DIRECTION_OUTBOUND: "outbound",
    call_pb2.CALL_DIRECTION_INTERNAL: "internal",
}


@dataclass(frozen=True)
class CdrRow:
    event_id: str
    tenant: str
    call_uuid: str
    direction: str
    caller_number: str
    destination_number: str
    queue_id: str
    agent_id: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    wait_ms: int
    talk_ms: int
    hangup_cause: str
    abandoned: bool
    case_type: str
    ivr_path: tuple[str, ...]
    recording_id: str


class InvalidCdr(ValueError):
    """A CDR event that cannot be stored (the message says which field)."""


def _ts(value: object) -> datetime | None:
    seconds = getattr(value, "seconds", 0)
    nanos = getattr(value, "nanos", 0)
    if not seconds and not nanos:
        return None
    return datetime.fromtimestamp(seconds + nanos / 1e9, tz=UTC)


def from_event(payload: bytes) -> CdrRow:
    try:
        event = cdr_pb2.CallDetailRecord.FromString(payload)
    except Exception as exc:
        raise InvalidCdr(f"not a CallDetailRecord: {exc}") from None
    if not event.meta.id:
        raise InvalidCdr("meta.id is empty")
    if not event.meta.tenant:
        raise InvalidCdr("meta.tenant is empty")
    started, ended = _ts(event.started_at), _ts(event.ended_at)
    if started is None or ended is None:
        raise InvalidCdr("started_at and ended_at are required")
    return CdrRow(
        event_id=event.meta.id, tenant=event.meta.tenant, call_uuid=event.meta.call_uuid,
        direction=_DIRECTIONS.get(event.direction, "unknown"),
        caller_number=event.caller_number, destination_number=event.destination_number,
        queue_id=event.queue_id, agent_id=event.agent_id,
        started_at=started, answered_at=_ts(event.answered_at), ended_at=ended,
        wait_ms=event.wait_ms, talk_ms=event.talk_ms, hangup_cause=event.hangup_cause,
        abandoned=event.abandoned, case_type=event.case_type,
        ivr_path=tuple(f"{s.menu_id}:{s.digits}" for s in event.ivr_path), recording_id=event.recording_id,
    )
