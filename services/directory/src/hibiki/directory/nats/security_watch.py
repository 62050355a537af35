"""Applying blocks other replicas decided (``hibiki.*.security.address_blocked``)."""

from __future__ import annotations

import time

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from hibiki.common.logging import get_logger
from hibiki.directory.guard import AuthGuard
from hibiki.events.v1 import security_pb2

SUBJECT = "hibiki.*.security.address_blocked"
log = get_logger("hibiki.directory.security_watch")


class SecurityWatch:
    def __init__(self, nc: Client, guard: AuthGuard) -> None:
        self._nc, self._guard = nc, guard
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(SUBJECT, cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = security_pb2.AddressBlocked.FromString(msg.data)
        except Exception as exc:
            log.warning("address_blocked_unreadable", subject=msg.subject, error=str(exc))
            return
        remaining = event.until.seconds - time.time()
        if event.address and remaining > 0:
            self._guard.block(event.address, remaining)
