"""Publishing call events on NATS from the event-socket thread (hand-off to asyncio).

``publish`` is fire and forget: nobody waits for a call event to be stored, so no
``concurrent.futures.Future`` (and its ``threading.Condition``) is made per event, and no
task per event either. Events published from another thread (the event-socket hub) are
queued, and one ``call_soon_threadsafe`` (a write to the loop's self-pipe) takes every
event queued before the loop got to it; events published on the loop itself (the inbound
channel events) join the same queue. Each batch is sent in order on the connection without
waiting for each acknowledgement before the next (JetStream stores them in that order), and
a failure is logged with the event's tenant, call UUID and subject.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections import deque
from typing import Any, NamedTuple, Protocol

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.events.v1 import meta_pb2

log = get_logger("hibiki.callcontrol.publisher")
SOURCE = f"callcontrol@{socket.gethostname()}"
ACK_TIMEOUT = 10.0    # seconds for JetStream to acknowledge one event


def meta(tenant: str, call_uuid: str, node: str = "") -> meta_pb2.EventMeta:
    now = Timestamp()
    now.GetCurrentTime()
    return meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=tenant, occurred_at=now, source=SOURCE,
                              call_uuid=call_uuid, node=node)


class EventSink(Protocol):
    def publish(self, tenant: str, event: str, message: Message, category: str = "call") -> object: ...


class _Outgoing(NamedTuple):
    tenant: str
    call_uuid: str
    subject: str
    payload: bytes
    event_id: str


class CallEventPublisher:
    """``publish`` may be called from any thread; delivery happens on the asyncio loop."""

    def __init__(self, js: JetStreamContext, loop: asyncio.AbstractEventLoop) -> None:
        self._js, self._loop = js, loop
        self._queued: deque[_Outgoing] = deque()
        self._lock = threading.Lock()
        self._drain_due = False
        self._sending: set[asyncio.Task[None]] = set()
        self.failed = 0

    def publish(self, tenant: str, event: str, message: Message, category: str = "call") -> None:
        """On ``hibiki.<tenant>.<category>.<event>`` (category ``call`` or ``recording``)."""
        event_meta: meta_pb2.EventMeta = message.meta  # type: ignore[attr-defined]
        item = _Outgoing(tenant, event_meta.call_uuid, bus.subject(tenant, category, event),
                         message.SerializeToString(), event_meta.id)
        with self._lock:
            self._queued.append(item)
            if self._drain_due:          # a drain is scheduled and has not started: it takes this one
                return
            self._drain_due = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:             # the loop is closed: the service is going away
            log.error("event_publish_failed", tenant=tenant, call_uuid=item.call_uuid, subject=item.subject,
                      error="the service is stopping")

    def _drain(self) -> None:
        with self._lock:
            self._drain_due = False
            batch, self._queued = list(self._queued), deque()
        if batch:
            task = self._loop.create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Outgoing]) -> None:
        acks: list[tuple[_Outgoing, Any]] = []
        for item in batch:
            try:
                acks.append((item, await self._js.publish_async(item.subject, item.payload,
                                                                headers={"Nats-Msg-Id": item.event_id})))
            except Exception as exc:     # not even sent (connection closed, too many pending)
                self._failed(item, exc)
        for item, ack in acks:
            try:
                async with asyncio.timeout(ACK_TIMEOUT):
                    await ack
            except Exception as exc:
                self._failed(item, exc)

    def _failed(self, item: _Outgoing, exc: BaseException) -> None:
        self.failed += 1
        log.error("event_publish_failed", tenant=item.tenant, call_uuid=item.call_uuid, subject=item.subject,
                  error=str(exc) or type(exc).__name__)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        """A component: stopped after the calls and before NATS, what was published is sent."""
        try:
            async with asyncio.timeout(ACK_TIMEOUT):
                await self.flush()
        except TimeoutError:
            log.warning("event_publish_unflushed", queued=len(self._queued), sending=len(self._sending))

    async def flush(self) -> None:
        """Wait until every event published so far was sent and acknowledged (or failed)."""
        while self._queued or self._drain_due or self._sending:
            if self._sending:
                await asyncio.gather(*self._sending, return_exceptions=True)
            else:
                await asyncio.sleep(0)
