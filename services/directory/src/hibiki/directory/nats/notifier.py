"""Announcing committed changes: ``hibiki.<tenant>.config.changed`` (one method per event)."""

from __future__ import annotations

import socket
import uuid

from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.directory.storage.repository import Change
from hibiki.events.v1 import config_pb2, meta_pb2

log = get_logger("hibiki.directory.notifier")
SOURCE = f"directory@{socket.gethostname()}"


class ConfigNotifier:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def changed(self, change: Change) -> None:
        now = Timestamp()
        now.GetCurrentTime()
        event = config_pb2.ConfigurationChanged(
            meta=meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=change.tenant, occurred_at=now, source=SOURCE),
            version=change.version, kind=change.kind, ids=list(change.ids))
        try:
            await bus.publish(self._js, bus.subject(change.tenant, "config", "changed"), event.SerializeToString(),
                              event.meta.id)
        except Exception as exc:
            # Committed already: replicas catch up through their periodic version check.
            log.error("config_change_not_announced", tenant=change.tenant, version=change.version, error=str(exc))
