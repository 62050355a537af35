"""The events analytics reads, from subject and protobuf payload to a raw event it can store.

Subjects are ``hibiki.<tenant>.<domain>.<event>``; ``kind`` is ``<domain>.<event>``. Each raw event
has a ``key``: the call it belongs to (``call_id``: the originating channel's UUID) or, for an
agent's state change, ``agent:<agent_id>``. Unknown kinds are not stored.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from hibiki.events.v1 import acd_pb2, agent_pb2, call_pb2, recording_pb2

KINDS: dict[str, type[Message]] = {
    "call.started": call_pb2.CallStarted,
    "call.ivr_entered": call_pb2.IvrEntered,
    "call.menu_choice": call_pb2.MenuChoice,
    "call.queue_entered": call_pb2.QueueEntered,
    "call.answered": call_pb2.CallAnswered,
    "call.transferred": call_pb2.CallTransferred,
    "call.abandoned": call_pb2.CallAbandoned,
    "call.ended": call_pb2.CallEnded,
    "acd.queued": acd_pb2.CallQueued,
    "acd.requeued": acd_pb2.CallRequeued,
    "acd.offered": acd_pb2.CallOffer,
    "acd.offer_missed": acd_pb2.OfferEnded,
    "acd.offer_released": acd_pb2.OfferEnded,
    "acd.answered": acd_pb2.QueueCallAnswered,
    "acd.overflowed": acd_pb2.CallOverflowed,
    "acd.left": acd_pb2.CallLeftQueue,
    "acd.ended": acd_pb2.QueueCallEnded,
    "agent.state_changed": agent_pb2.AgentStateChanged,
    "agent.wrap_up_expired": acd_pb2.WrapUpExpired,
    "agent.disposition_saved": agent_pb2.DispositionSaved,
    "recording.started": recording_pb2.RecordingStarted,
    "recording.stored": recording_pb2.RecordingStored,
}
AGENT_KEY_PREFIX = "agent:"
MAX_ID = 200


class InvalidEvent(ValueError):
    """An event that cannot be stored; the message says why."""


class IgnoredEvent(Exception):
    """A kind analytics does not read."""


@dataclass(frozen=True)
class RawEvent:
    tenant: str
    key: str
    event_id: str
    kind: str
    subject: str
    call_uuid: str
    occurred_at: datetime
    received_at: datetime
    payload: bytes
    # the payload as decoded by ``decode`` (not parsed again when folded); None: parsed on demand
    decoded: Message | None = field(default=None, compare=False, repr=False)

    def message(self) -> Message:
        if self.decoded is not None:
            return self.decoded
        return KINDS[self.kind].FromString(self.payload)

    @property
    def payload_b64(self) -> str:
        return base64.b64encode(self.payload).decode("ascii")


def timestamp(value: Timestamp) -> datetime | None:
    """A protobuf Timestamp as an aware UTC datetime; None when unset. (A raw event's
    ``occurred_at`` is this to the millisecond, the precision of the events table.)"""
    seconds, nanos = value.seconds, value.nanos
    if not seconds and not nanos:
        return None
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def _timestamp_ms(value: Timestamp) -> datetime | None:
    """``timestamp`` to the millisecond (as the events table keeps it), in one step."""
    seconds, nanos = value.seconds, value.nanos
    if not seconds and not nanos:
        return None
    return _EPOCH + timedelta(seconds=seconds, milliseconds=nanos // 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_CONTROL = re.compile("[\x00-\x1f]")


def _checked(name: str, value: str) -> str:
    if not value or len(value) > MAX_ID or _CONTROL.search(value) is not None:
        raise InvalidEvent(f"{name} is empty, too long or has control characters")
    return value


def decode(subject: str, payload: bytes, received_at: datetime) -> RawEvent:
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != "hibiki":
        raise InvalidEvent(f"not a hibiki event subject: {subject[:120]!r}")
    kind = f"{parts[2]}.{parts[3]}"
    message_type = KINDS.get(kind)
    if message_type is None:
        raise IgnoredEvent(kind)
    try:
        message = message_type.FromString(payload)
    except (DecodeError, ValueError) as exc:
        raise InvalidEvent(f"{kind}: not a {message_type.__name__}: {exc}") from None
    meta = message.meta  # type: ignore[attr-defined]
    event_id = _checked("meta.id", meta.id)
    tenant = _checked("meta.tenant", meta.tenant)
    if tenant != parts[1]:
        raise InvalidEvent(f"meta.tenant {tenant!r} is not the subject's tenant {parts[1]!r}")
    occurred_at = _timestamp_ms(meta.occurred_at) \
        or received_at.replace(microsecond=received_at.microsecond // 1000 * 1000)   # as stored
    if kind == "agent.state_changed":
        key = AGENT_KEY_PREFIX + _checked("agent_id", message.agent_id)  # type: ignore[attr-defined]
    elif kind == "call.ended":
        key = _checked("call_id", message.call_id or meta.call_uuid)  # type: ignore[attr-defined]
    else:
        key = _checked("meta.call_uuid", meta.call_uuid)
    return RawEvent(tenant=tenant, key=key, event_id=event_id, kind=kind, subject=subject,
                    call_uuid=meta.call_uuid, occurred_at=occurred_at, received_at=received_at, payload=payload,
                    decoded=message)
