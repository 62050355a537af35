"""Refreshing a tenant's view when ``hibiki.<tenant>.config.changed`` arrives.

Every replica subscribes (core NATS, so each one gets every notification) and
recompiles that tenant from the store; a stale or duplicate notification is harmless.
Once the new view answers, the replica says so on ``hibiki.<tenant>.config.applied``
(with its own id and the tenant's version), so a change can be confirmed on every replica.
As a safety net against a lost notification, every ``resync_seconds`` the replica compares
the tenants' versions in the store with its view and refreshes those that differ.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import uuid

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from sqlalchemy import Engine

from hibiki.common.logging import get_logger
from hibiki.directory.storage.database import load_tenants, tenant_versions
from hibiki.directory.view import DirectoryView
from hibiki.common import bus
from hibiki.events.v1 import config_pb2, meta_pb2

SUBJECT = "hibiki.*.config.changed"
REPLICA = f"directory@{socket.gethostname()}/{uuid.uuid4().hex[:8]}"
log = get_logger("hibiki.directory.config_watch")


class ConfigWatch:
    def __init__(self, nc: Client, engine: Engine, view: DirectoryView, resync_seconds: float = 30.0) -> None:
        self._nc, self._engine, self._view = nc, engine, view
        self._resync_seconds = resync_seconds
        self._sub: Subscription | None = None
        self._resync: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(SUBJECT, cb=self._on_message)
        self._resync = asyncio.create_task(self._resync_loop())

    async def stop(self) -> None:
        if self._resync is not None:
            self._resync.cancel()
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self._resync_seconds)
            await self.resync()

    async def resync(self) -> None:
        """Refresh every tenant whose stored version differs from the view's (or is new or gone)."""
        try:
            stored = await asyncio.to_thread(tenant_versions, self._engine)
        except Exception as exc:  # database down: keep answering from the view
            log.warning("version_check_failed", error=str(exc))
            return
        held = self._view.versions()
        for tenant_id in sorted(set(stored) | set(held)):
            if stored.get(tenant_id) != held.get(tenant_id):
                log.warning("tenant_out_of_date", tenant=tenant_id, stored=stored.get(tenant_id), held=held.get(tenant_id))
                await self.refresh(tenant_id)

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = config_pb2.ConfigurationChanged.FromString(msg.data)
        except Exception as exc:  # protobuf raises DecodeError; anything else is also not ours
            log.warning("config_changed_unreadable", subject=msg.subject, error=str(exc))
            return
        tenant_id = event.meta.tenant or msg.subject.split(".")[1]
        await self.refresh(tenant_id)

    async def refresh(self, tenant_id: str) -> None:
        try:
            fresh = await asyncio.to_thread(load_tenants, self._engine, tenant_id)
        except Exception as exc:
            log.error("tenant_refresh_failed", tenant=tenant_id, error=str(exc))
            return
        if not fresh:
            self._view.remove(tenant_id)
        for tenant in fresh:
            self._view.replace(tenant)
        gc.freeze()  # the view is long-lived: keep it out of the collector's full passes
        version = self._view.version(tenant_id) or 0
        log.info("tenant_refreshed", tenant=tenant_id, version=version)
        applied = config_pb2.ConfigurationChanged(
            meta=meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=tenant_id, source=REPLICA), version=version)
        try:
            await self._nc.publish(bus.subject(tenant_id, "config", "applied"), applied.SerializeToString())
        except Exception as exc:  # the view is fresh either way; the confirmation is best effort
            log.warning("config_applied_not_published", tenant=tenant_id, error=str(exc))
