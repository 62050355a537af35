"""The recording service's outgoing events, one method each, on hibiki.<tenant>.recording.<event>.

Event ids of RecordingStored and RecordingDeleted are derived from the recording id, so a retried
step publishes once (JetStream drops the duplicate ``Nats-Msg-Id``)."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from hibiki.common import bus
from hibiki.events.v1 import meta_pb2, recording_pb2
from hibiki.recording.index.recordings import Recording

SOURCE = f"recording@{socket.gethostname()}"
_NAMESPACE = uuid.UUID("5b0f7c1e-4c1a-4b7e-9a43-72656373746f")


def derived_id(recording_id: str, what: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{recording_id}/{what}"))


def _stamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at.astimezone(UTC))
    return stamp


def _meta(tenant: str, event_id: str, call_uuid: str = "") -> meta_pb2.EventMeta:
    return meta_pb2.EventMeta(id=event_id, tenant=tenant, occurred_at=_stamp(datetime.now(UTC)), source=SOURCE,
                              call_uuid=call_uuid)


class Notifier:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def _send(self, tenant: str, event: str, message: Message, event_id: str) -> None:
        await bus.publish(self._js, bus.subject(tenant, "recording", event), message.SerializeToString(), event_id)

    async def stored(self, r: Recording) -> None:
        event_id = derived_id(r.recording_id, "stored")
        await self._send(r.tenant, "stored", recording_pb2.RecordingStored(
            meta=_meta(r.tenant, event_id, r.leg_uuid), recording_id=r.recording_id, duration_ms=r.duration_ms,
            size_bytes=r.size_bytes, codec=r.codec, delete_after=_stamp(r.delete_after), sha256=r.sha256), event_id)

    async def deleted(self, tenant: str, recording_id: str, reason: str, event_id: str) -> None:
        await self._send(tenant, "deleted", recording_pb2.RecordingDeleted(
            meta=_meta(tenant, event_id), recording_id=recording_id, reason=reason), event_id)

    async def accessed(self, tenant: str, recording_id: str, user: str, action: str, event_id: str) -> None:
        await self._send(tenant, "accessed", recording_pb2.RecordingAccessed(
            meta=_meta(tenant, event_id), recording_id=recording_id, user_id=user, action=action), event_id)
