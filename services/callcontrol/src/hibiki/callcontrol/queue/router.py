"""The ACD's decisions, from NATS to the queued call they concern.

The ACD publishes every decision on ``hibiki.<tenant>.acd.<event>``; this component
subscribes (plain NATS: only live calls care, and a call that missed an offer gets it again
after the offer's safety timer) to ``offered`` (ring these agents), ``left`` (the maximum
wait passed: send the caller where the queue says) and ``overflowed`` (now in another queue),
and hands each to the call registered under ``meta.call_uuid``, if it is one of this
replica's calls. A call registers *before* it enqueues: the offer can come in the same
instant as the reply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message

from hibiki.common.logging import get_logger
from hibiki.events.v1 import acd_pb2

log = get_logger("hibiki.callcontrol.queue")
Deliver = Callable[[str, Message], None]
MESSAGES: dict[str, type[Message]] = {"offered": acd_pb2.CallOffer, "left": acd_pb2.CallLeftQueue,
                                      "overflowed": acd_pb2.CallOverflowed}


class AcdDecisions:
    """A component on the service's event loop; ``register``/``unregister`` from any thread."""

    def __init__(self, nc: Any) -> None:
        self._nc = nc
        self._calls: dict[str, Deliver] = {}
        self._lock = threading.Lock()
        self._subs: list[Any] = []
        self.delivered = 0

    async def start(self) -> None:
        for event in MESSAGES:
            self._subs.append(await self._nc.subscribe(f"hibiki.*.acd.{event}", cb=self._handle))
        await self._nc.flush()

    async def stop(self) -> None:
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:   # the connection is closing anyway
                pass
        self._subs.clear()

    def register(self, call_uuid: str, deliver: Deliver) -> None:
        with self._lock:
            self._calls[call_uuid] = deliver

    def unregister(self, call_uuid: str) -> None:
        with self._lock:
            self._calls.pop(call_uuid, None)

    async def _handle(self, msg: Any) -> None:
        event = msg.subject.rsplit(".", 1)[-1]
        kind = MESSAGES.get(event)
        if kind is None:
            return
        try:
            message = kind.FromString(msg.data)
        except DecodeError:
            log.error("acd_decision_unreadable", subject=msg.subject, size=len(msg.data))
            return
        call_uuid = message.meta.call_uuid  # type: ignore[attr-defined]
        with self._lock:
            deliver = self._calls.get(call_uuid)
        if deliver is None:
            return                   # another replica's call, or one that has gone
        self.delivered += 1
        deliver(event, message)
