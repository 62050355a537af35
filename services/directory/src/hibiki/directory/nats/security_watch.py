"""Applying what other replicas decided about blocks: ``hibiki.*.security.address_blocked``
and ``hibiki.*.security.block_lifted`` (a replica hears its own announcements too: applying
one twice changes nothing)."""

from __future__ import annotations

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from hibiki.common.logging import get_logger
from hibiki.directory.guard import AuthGuard, Block
from hibiki.events.v1 import security_pb2

BLOCKED = "hibiki.*.security.address_blocked"
LIFTED = "hibiki.*.security.block_lifted"
log = get_logger("hibiki.directory.security_watch")


class SecurityWatch:
    def __init__(self, nc: Client, guard: AuthGuard) -> None:
        self._nc, self._guard = nc, guard
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        self._subs = [await self._nc.subscribe(BLOCKED, cb=self._on_blocked),
                      await self._nc.subscribe(LIFTED, cb=self._on_lifted)]

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()

    async def _on_blocked(self, msg: Msg) -> None:
        try:
            event = security_pb2.AddressBlocked.FromString(msg.data)
        except Exception as exc:
            log.warning("address_blocked_unreadable", subject=msg.subject, error=str(exc))
            return
        until = event.until.ToNanoseconds() / 1e9
        if event.address and until > self._guard.clock():
            self._guard.apply(Block(event.address, event.username, until, event.failures, event.last_user,
                                    event.last_domain, event.meta.tenant or "platform"))

    async def _on_lifted(self, msg: Msg) -> None:
        try:
            event = security_pb2.BlockLifted.FromString(msg.data)
        except Exception as exc:
            log.warning("block_lifted_unreadable", subject=msg.subject, error=str(exc))
            return
        if self._guard.lift(event.address, event.username) is not None:
            log.info("block_lifted", tenant=event.meta.tenant, address=event.address,
                     username=event.username or None, lifted_by=event.lifted_by)
