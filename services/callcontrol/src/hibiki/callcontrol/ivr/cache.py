"""IVRs kept by (tenant, IVR id) so a call does not wait for ``GetIvr`` each time.

* A kept IVR is served only if its version is at least the newest version of the tenant that
  callcontrol has seen: from the directory's ``hibiki.<tenant>.config.changed`` (NATS, every
  replica gets each one) or from the call itself (``hibiki_config_version``, set by the
  directory's dialplan with the tenant version it routed the call with, so the next call
  after an admin's change never gets the IVR before it, whatever NATS delivered so far).
* An answer older than that is used for its call (it is what the directory says) but not kept.
* IVRs with a schedule switch are never kept (``active_branch`` is decided at the time asked),
  nor those asked for at a given moment (the IVR test mode).
* At most ``size`` IVRs, the least recently used leaves first. Runs on the service's event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from google.protobuf.message import DecodeError, Message

from hibiki.common.logging import get_logger
from hibiki.directory.v1 import ivr_pb2
from hibiki.events.v1 import config_pb2

log = get_logger("hibiki.callcontrol.ivr_cache")
SUBJECT = "hibiki.*.config.changed"
Source = Callable[[str, str, datetime | None], Coroutine[Any, Any, ivr_pb2.Ivr]]


def timed(message: Message) -> bool:
    """Does ``message`` hold a schedule switch anywhere (an answer that depends on the time)?"""
    if isinstance(message, ivr_pb2.ScheduleSwitch):
        return True
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = [item for item in value.values() if isinstance(item, Message)]
        elif isinstance(value, Message):
            items = [value]
        else:
            items = list(value)
        if any(timed(item) for item in items):
            return True
    return False


class IvrCache:
    def __init__(self, source: Source, size: int = 1000) -> None:
        if size < 1:
            raise ValueError("an IVR cache holds at least one IVR")
        self._source, self._size = source, size
        self._kept: OrderedDict[tuple[str, str], ivr_pb2.Ivr] = OrderedDict()
        self._seen: dict[str, int] = {}          # tenant -> newest configuration version seen
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)

    async def get(self, tenant: str, ivr_id: str, at: datetime | None = None, version: int = 0) -> ivr_pb2.Ivr:
        """The IVR for a call; ``version``: the tenant version the call was routed with (0: unknown)."""
        if at is not None:
            return await self._source(tenant, ivr_id, at)
        self.changed(tenant, version)
        key = (tenant, ivr_id)
        kept = self._kept.get(key)
        if kept is not None and kept.version >= self._seen.get(tenant, 0):
            self._kept.move_to_end(key)
            self.hits += 1
            return _copy(kept)
        self.misses += 1
        ivr = await self._source(tenant, ivr_id, None)
        newest = self._seen.get(tenant, 0)        # (a change may have arrived during the request)
        if ivr.version < newest:
            log.warning("ivr_older_than_seen", tenant=tenant, ivr_id=ivr_id, ivr_version=ivr.version,
                        seen_version=newest, action="used for this call, not kept")
        elif not timed(ivr):
            self._kept[key] = _copy(ivr)
            self._kept.move_to_end(key)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return ivr

    def changed(self, tenant: str, version: int) -> None:
        """The tenant's configuration is at ``version`` or later: older IVRs of it go."""
        if version <= self._seen.get(tenant, 0):
            return
        self._seen[tenant] = version
        for key in [k for k, ivr in self._kept.items() if k[0] == tenant and ivr.version < version]:
            del self._kept[key]

    async def on_message(self, msg: Any) -> None:
        """A ``hibiki.<tenant>.config.changed`` from NATS."""
        try:
            event = config_pb2.ConfigurationChanged.FromString(msg.data)
        except DecodeError:
            log.warning("config_changed_unreadable", subject=msg.subject, size=len(msg.data))
            return
        parts = msg.subject.split(".")
        tenant = event.meta.tenant or (parts[1] if len(parts) > 1 else "")
        if tenant and event.version > 0:
            self.changed(tenant, event.version)


class ConfigChanges:
    """A component (start/stop on the service's event loop): the directory's change
    notifications into the cache (core NATS: every callcontrol replica gets each one)."""

    def __init__(self, nc: Any, cache: IvrCache) -> None:
        self._nc, self._cache = nc, cache
        self._sub: Any = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(SUBJECT, cb=self._cache.on_message)
        await self._nc.flush()

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:   # noqa: BLE001 - the connection is closing anyway
                pass
            self._sub = None


def _copy(ivr: ivr_pb2.Ivr) -> ivr_pb2.Ivr:
    """Each call gets its own message (calls run on the event-socket hub, the cache on the loop)."""
    fresh = ivr_pb2.Ivr()
    fresh.CopyFrom(ivr)
    return fresh
