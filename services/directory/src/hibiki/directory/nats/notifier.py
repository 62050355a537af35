"""What the directory announces on NATS, one method per event:
``hibiki.<tenant>.config.changed``, ``hibiki.<tenant>.security.address_blocked`` and
``hibiki.<tenant>.security.block_lifted``."""

from __future__ import annotations

import socket
import uuid

from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.directory.storage.repository import Change
from hibiki.directory.guard import Block
from hibiki.events.v1 import config_pb2, meta_pb2, security_pb2

log = get_logger("hibiki.directory.notifier")
SOURCE = f"directory@{socket.gethostname()}"


def _meta(tenant: str) -> meta_pb2.EventMeta:
    now = Timestamp()
    now.GetCurrentTime()
    return meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=tenant, occurred_at=now, source=SOURCE)


class ConfigNotifier:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def address_blocked(self, block: Block) -> None:
        until = Timestamp()
        until.FromNanoseconds(int(block.until * 1e9))
        event = security_pb2.AddressBlocked(meta=_meta(block.tenant), address=block.address, failures=block.failures,
                                            until=until, last_user=block.last_user, last_domain=block.last_domain,
                                            username=block.username)
        try:
            await bus.publish(self._js, bus.subject(block.tenant, "security", "address_blocked"),
                              event.SerializeToString(), event.meta.id)
        except Exception as exc:
            log.error("address_blocked_not_announced", tenant=block.tenant, address=block.address, error=str(exc))

    async def block_lifted(self, block: Block, lifted_by: str) -> None:
        event = security_pb2.BlockLifted(meta=_meta(block.tenant), address=block.address, username=block.username,
                                         lifted_by=lifted_by)
        try:
            await bus.publish(self._js, bus.subject(block.tenant, "security", "block_lifted"),
                              event.SerializeToString(), event.meta.id)
        except Exception as exc:
            log.error("block_lifted_not_announced", tenant=block.tenant, address=block.address, error=str(exc))

    async def changed(self, change: Change) -> None:
        event = config_pb2.ConfigurationChanged(
            meta=_meta(change.tenant), version=change.version, kind=change.kind, ids=list(change.ids))
        try:
            await bus.publish(self._js, bus.subject(change.tenant, "config", "changed"), event.SerializeToString(),
                              event.meta.id)
        except Exception as exc:
            # Committed already: replicas catch up through their periodic version check.
            log.error("config_change_not_announced", tenant=change.tenant, version=change.version, error=str(exc))
