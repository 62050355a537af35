"""What the directory announces on NATS, one method per event:
``hibiki.<tenant>.config.changed`` and ``hibiki.<tenant>.security.address_blocked``."""

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

    async def address_blocked(self, tenant: str, block: Block, block_seconds: float) -> None:
        until = Timestamp()
        until.GetCurrentTime()
        until.seconds += int(block_seconds)
        event = security_pb2.AddressBlocked(meta=_meta(tenant), address=block.address, failures=block.failures,
                                            until=until, last_user=block.last_user, last_domain=block.last_domain)
        try:
            await bus.publish(self._js, bus.subject(tenant, "security", "address_blocked"),
                              event.SerializeToString(), event.meta.id)
        except Exception as exc:
            log.error("address_blocked_not_announced", tenant=tenant, address=block.address, error=str(exc))

    async def changed(self, change: Change) -> None:
        event = config_pb2.ConfigurationChanged(
            meta=_meta(change.tenant), version=change.version, kind=change.kind, ids=list(change.ids))
        try:
            await bus.publish(self._js, bus.subject(change.tenant, "config", "changed"), event.SerializeToString(),
                              event.meta.id)
        except Exception as exc:
            # Committed already: replicas catch up through their periodic version check.
            log.error("config_change_not_announced", tenant=change.tenant, version=change.version, error=str(exc))
