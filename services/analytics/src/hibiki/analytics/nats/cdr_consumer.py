"""The durable consumer that writes ``hibiki.*.cdr.created`` events into ClickHouse.

Acknowledged only after the row is stored; the store deduplicates by event id, so a
redelivery after a crash or restart neither loses nor doubles a record.
"""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext

from hibiki.analytics.cdr import InvalidCdr, from_event
from hibiki.analytics.storage.base import CdrStore
from hibiki.common.bus import DurableConsumer
from hibiki.common.logging import get_logger

SUBJECT = "hibiki.*.cdr.created"
DURABLE = "analytics-cdr"
log = get_logger("hibiki.analytics.cdr_consumer")


class CdrConsumer:
    def __init__(self, js: JetStreamContext, store: CdrStore, durable: str = DURABLE) -> None:
        self._store = store
        self._consumer = DurableConsumer(js, durable, SUBJECT, self.handle)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def handle(self, subject: str, payload: bytes) -> None:
        try:
            row = from_event(payload)
        except InvalidCdr as exc:
            # A record we can never store is logged and acknowledged, not retried forever.
            log.error("cdr_rejected", subject=subject, reason=str(exc))
            return
        await asyncio.to_thread(self._store.insert, [row])
        log.debug("cdr_stored", tenant=row.tenant, call_uuid=row.call_uuid, event_id=row.event_id)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._consumer.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            await self._task
