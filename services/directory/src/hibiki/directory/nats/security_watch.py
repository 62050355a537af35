"""What the directory replicas tell each other about password guessing:

- ``hibiki.*.security.address_blocked`` and ``hibiki.*.security.block_lifted`` (events): blocks
  decided and lifted, applied by every replica (a replica hears its own too: applying one twice
  changes nothing);
- ``hibiki-internal.directory.auth_failure`` (core NATS, outside the events stream): every failure
  a replica counted, counted by the others too (``AuthGuard.failure(..., remote=True)``)."""

from __future__ import annotations

import asyncio
import uuid

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from hibiki.common.logging import get_logger
from hibiki.directory.guard import AuthGuard, Block, Failure
from hibiki.events.v1 import security_pb2

BLOCKED = "hibiki.*.security.address_blocked"
LIFTED = "hibiki.*.security.block_lifted"
FAILURES = "hibiki-internal.directory.auth_failure"
log = get_logger("hibiki.directory.security_watch")


class SecurityWatch:
    def __init__(self, nc: Client, guard: AuthGuard) -> None:
        self._nc, self._guard = nc, guard
        self._subs: list[Subscription] = []
        self._replica = uuid.uuid4().hex
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._subs = [await self._nc.subscribe(BLOCKED, cb=self._on_blocked),
                      await self._nc.subscribe(LIFTED, cb=self._on_lifted),
                      await self._nc.subscribe(FAILURES, cb=self._on_failure)]
        self._guard.on_failure = self.share

    def share(self, failure: Failure) -> None:
        """Tell the other replicas about a failure counted here (the guard calls this)."""
        message = security_pb2.AuthFailure(replica=self._replica, address=failure.address, username=failure.username,
                                           user=failure.user, domain=failure.domain, tenant=failure.tenant,
                                           trusted=failure.trusted)
        task = asyncio.get_running_loop().create_task(self._send(message.SerializeToString()))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, payload: bytes) -> None:
        try:
            await self._nc.publish(FAILURES, payload)
        except Exception as exc:   # the others count a little less; this replica still blocks
            log.warning("auth_failure_not_shared", error=str(exc))

    async def _on_failure(self, msg: Msg) -> None:
        try:
            failure = security_pb2.AuthFailure.FromString(msg.data)
        except Exception as exc:
            log.warning("auth_failure_unreadable", error=str(exc))
            return
        if failure.replica == self._replica or not failure.address:
            return
        if self._guard.refusal(failure.address, failure.username, failure.trusted) is None:
            self._guard.failure(failure.address, failure.username, failure.user, failure.domain,
                                failure.tenant or "platform", failure.trusted, remote=True)

    async def stop(self) -> None:
        self._guard.on_failure = None
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
