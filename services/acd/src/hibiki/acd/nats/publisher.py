"""Publishes what a command decided, in order, on JetStream (the event id is the Nats-Msg-Id)."""

from __future__ import annotations

from collections.abc import Sequence

from nats.js import JetStreamContext

from hibiki.acd.nats.events import Outgoing
from hibiki.common import bus
from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.events")


class Publisher:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Every message, in order, sent without waiting for each acknowledgement in turn (a group
        commit's events would otherwise cost a NATS round trip each before the next write). A
        failure is logged (the decision stands: it is persisted)."""
        if not messages:
            return
        failures = await bus.publish_in_order(
            self._js, [(out.subject, out.message.SerializeToString(), out.event_id) for out in messages])
        for out, failure in zip(messages, failures):
            if failure is not None:
                log.error("event_publish_failed", subject=out.subject, event_id=out.event_id, error=repr(failure))
