"""In-memory copies of the configuration and lease buckets, kept by KV watches.

Every replica keeps both: the configuration tells it which tenants exist (it tries to own
them all) and what to apply on taking one; the leases tell it where to forward a request.
``seen`` is the last bucket revision handled, so a writer can wait until its own write is
visible (read your writes) and, through the owner, applied.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.js.kv import KeyValue

from hibiki.acd.runtime.buckets import parse_config_key
from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.mirror")
DELETED = ("DEL", "PURGE")


@dataclass
class TenantConfig:
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def items(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.queues if kind == "queue" else self.agents


@dataclass(frozen=True)
class Lease:
    owner: str
    address: str
    revision: int
    seen_at: float          # monotonic time this revision reached us


Entry = Any   # nats.js.kv.KeyValue.Entry (untyped)
Handler = Callable[[Entry], Awaitable[None]]


class Watched:
    """A bucket watched from its start: ``handler`` runs for every entry, in order."""

    def __init__(self, kv: KeyValue, handler: Handler) -> None:
        self._kv, self._handler = kv, handler
        self.seen = 0
        self.initial = asyncio.Event()       # the bucket's contents at start have been handled
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        watcher = await self._kv.watchall()
        self._task = asyncio.create_task(self._run(watcher))

    async def _run(self, watcher: Any) -> None:
        try:
            async for entry in watcher:
                if entry is not None:
                    try:
                        await self._handler(entry)
                    except Exception:
                        log.exception("watch_handler_failed", key=entry.key)
                    self.seen = max(self.seen, entry.revision)
                self.initial.set()
                async with self._changed:
                    self._changed.notify_all()
        finally:
            await watcher.stop()

    async def wait_seen(self, revision: int, timeout: float) -> bool:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.seen >= revision), timeout)
            except TimeoutError:
                return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class ConfigMirror:
    def __init__(self) -> None:
        self.tenants: dict[str, TenantConfig] = {}

    def apply(self, entry: Entry) -> tuple[str, str, str, dict[str, Any] | None] | None:
        """Record one entry; ``(tenant, kind, id, data or None when deleted)``, None if ignored."""
        parsed = parse_config_key(entry.key)
        if parsed is None:
            return None
        tenant, kind, item_id = parsed
        items = self.tenants.setdefault(tenant, TenantConfig()).items(kind)
        if entry.operation in DELETED:
            items.pop(item_id, None)
            return tenant, kind, item_id, None
        try:
            data = json.loads(entry.value)
        except ValueError:
            log.warning("config_entry_unreadable", key=entry.key)
            return None
        items[item_id] = data
        return tenant, kind, item_id, data

    def of(self, tenant: str) -> TenantConfig:
        return self.tenants.get(tenant) or TenantConfig()

    def configured(self) -> list[str]:
        return [t for t, c in self.tenants.items() if c.queues or c.agents]


class LeaseMirror:
    def __init__(self) -> None:
        self.leases: dict[str, Lease] = {}

    def apply(self, entry: Entry) -> tuple[str, Lease | None]:
        tenant = entry.key
        if entry.operation in DELETED:
            self.leases.pop(tenant, None)
            return tenant, None
        try:
            data = json.loads(entry.value)
            lease = Lease(str(data["owner"]), str(data["address"]), entry.revision, time.monotonic())
        except (ValueError, KeyError, TypeError):
            log.warning("lease_unreadable", tenant=tenant)
            self.leases.pop(tenant, None)
            return tenant, None
        self.leases[tenant] = lease
        return tenant, lease

    def get(self, tenant: str) -> Lease | None:
        return self.leases.get(tenant)
