"""Publishing call events on NATS from the event-socket thread (hand-off to asyncio)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from concurrent.futures import Future
from typing import Protocol

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.events.v1 import meta_pb2

log = get_logger("hibiki.callcontrol.publisher")
SOURCE = f"callcontrol@{socket.gethostname()}"


def meta(tenant: str, call_uuid: str, node: str = "") -> meta_pb2.EventMeta:
    now = Timestamp()
    now.GetCurrentTime()
    return meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=tenant, occurred_at=now, source=SOURCE,
                              call_uuid=call_uuid, node=node)


class EventSink(Protocol):
    def publish(self, tenant: str, event: str, message: Message, category: str = "call") -> object: ...


class CallEventPublisher:
    """``publish`` may be called from any thread; delivery happens on the asyncio loop."""

    def __init__(self, js: JetStreamContext, loop: asyncio.AbstractEventLoop) -> None:
        self._js, self._loop = js, loop

    def publish(self, tenant: str, event: str, message: Message, category: str = "call") -> Future[None]:
        """On ``hibiki.<tenant>.<category>.<event>`` (category ``call`` or ``recording``)."""
        event_meta: meta_pb2.EventMeta = message.meta  # type: ignore[attr-defined]
        subject = bus.subject(tenant, category, event)
        future = asyncio.run_coroutine_threadsafe(
            bus.publish(self._js, subject, message.SerializeToString(), event_meta.id), self._loop)
        future.add_done_callback(lambda f: f.exception() and log.error(
            "event_publish_failed", tenant=tenant, call_uuid=event_meta.call_uuid, subject=subject,
            error=str(f.exception())))
        return future
