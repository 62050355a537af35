"""Deleting a recording, by an administrator or by retention (REC-03, REC-04).

The deletion is recorded first (an audit row and RecordingDeleted, both keyed by an id derived
from the recording id, so a retry records it once), then the audio goes, then the row: a crash
in between leaves a row whose audio is gone, which the next sweep or delete finishes.
:class:`Reaper` is the retention job: every interval it deletes what is past its deadline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from hibiki.common.logging import get_logger
from hibiki.recording.index import recordings
from hibiki.recording.index.audit import AuditChain
from hibiki.recording.index.recordings import Store as IndexStore
from hibiki.recording.nats.notifier import Notifier, derived_id
from hibiki.recording.storage.blobs import BlobStore

log = get_logger("hibiki.recording.deletion")


@dataclass(frozen=True)
class Who:
    actor: str
    roles: tuple[str, ...]
    remote: str


RETENTION = Who("retention", (), "")


@dataclass
class Deleter:
    index: IndexStore
    blobs: BlobStore
    notifier: Notifier
    trail: AuditChain

    async def delete(self, row: recordings.Recording, reason: str, who: Who) -> None:
        event_id = derived_id(row.recording_id, "deleted")
        entry = recordings.AuditEntry(row.tenant, datetime.now(UTC), event_id, who.actor, list(who.roles), "delete",
                                      row.recording_id, who.remote, reason)
        await asyncio.to_thread(self.trail.append, entry, True)      # once: a retry finds it
        await self.notifier.deleted(row.tenant, row.recording_id, reason, event_id)
        await asyncio.to_thread(self.blobs.delete, row.object_key)
        await asyncio.to_thread(recordings.delete, self.index, row.tenant, row.recording_id)
        log.info("recording_deleted", tenant=row.tenant, call_uuid=row.leg_uuid, recording_id=row.recording_id,
                 reason=reason, actor=who.actor)


@dataclass
class Reaper:
    deleter: Deleter
    interval: float

    async def sweep(self, now: datetime | None = None) -> int:
        """Delete every recording past its deadline; returns how many."""
        count = 0
        while True:
            due = await asyncio.to_thread(recordings.due, self.deleter.index, now or datetime.now(UTC), 500)
            if not due:
                return count
            for row in due:
                await self.deleter.delete(row, "retention", RETENTION)
                count += 1

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                deleted = await self.sweep()
                if deleted:
                    log.info("retention_swept", deleted=deleted)
            except Exception:
                log.exception("retention_sweep_failed")
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
