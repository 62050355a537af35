"""What the recording service consumes from JetStream (durable pull consumers):

    hibiki.*.recording.stopped         RecordingStopped   the pipeline (store, index, publish)
    hibiki.*.agent.disposition_saved   DispositionSaved   the call's disposition in the index; the
                                                          deadline of "after-handling" tenants

The subject's tenant is the one acted for; an event whose meta names another tenant is refused.
A handler that raises is redelivered (the steps are idempotent).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from google.protobuf.message import DecodeError

from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.events.v1 import agent_pb2, recording_pb2
from hibiki.recording.domain.nodes import Nodes
from hibiki.recording.domain.retention import Retention
from hibiki.recording.index import recordings
from hibiki.recording.index.recordings import Store as IndexStore
from hibiki.recording.pipeline import Pipeline
from hibiki.recording.storage.spool import TENANT

log = get_logger("hibiki.recording.consumers")
STOPPED = "hibiki.*.recording.stopped"
DISPOSITIONS = "hibiki.*.agent.disposition_saved"


def _tenant(subject: str, claimed: str) -> str | None:
    parts = subject.split(".")
    tenant = parts[1] if len(parts) == 4 else ""
    if not TENANT.match(tenant) or claimed not in ("", tenant):
        log.error("event_refused", subject=subject[:200], claimed=claimed[:64], reason="tenant mismatch or malformed")
        return None
    return tenant


class Stopped:
    """RecordingStopped: the recordings of this site's FreeSWITCH nodes (``nodes``) go through the
    pipeline; another site's are acknowledged and left to that site's service (its spool holds them)."""

    def __init__(self, pipeline: Pipeline, nodes: Nodes = Nodes()) -> None:
        self._pipeline, self._nodes = pipeline, nodes

    async def __call__(self, subject: str, payload: bytes) -> None:
        try:
            event = recording_pb2.RecordingStopped.FromString(payload)
        except DecodeError:
            log.error("event_unreadable", subject=subject[:200])
            return
        tenant = _tenant(subject, event.meta.tenant)
        if tenant is None:
            return
        if not self._nodes.takes(event.meta.node):
            log.debug("recording_other_site", tenant=tenant, call_uuid=event.meta.call_uuid,
                      recording_id=event.recording_id[:64], node=event.meta.node[:128])
            return
        # an event naming no node is taken by every site; only one site's spool has its file
        await self._pipeline.handle(tenant, event, elsewhere=not event.meta.node and bool(self._nodes.patterns))


class Dispositions:
    def __init__(self, index: IndexStore, retention: Retention) -> None:
        self._index, self._retention = index, retention

    async def __call__(self, subject: str, payload: bytes) -> None:
        try:
            event = agent_pb2.DispositionSaved.FromString(payload)
        except DecodeError:
            log.error("event_unreadable", subject=subject[:200])
            return
        tenant = _tenant(subject, event.meta.tenant)
        if tenant is None or not event.meta.call_uuid:
            return
        at = event.meta.occurred_at.ToDatetime(UTC) if event.meta.HasField("occurred_at") else datetime.now(UTC)
        try:
            await asyncio.to_thread(self._save, tenant, event, at)
        except bus.Unavailable as exc:      # the index does not answer: logged (one line) with the call
            raise exc.about(call_uuid=event.meta.call_uuid)

    def _save(self, tenant: str, event: agent_pb2.DispositionSaved, at: datetime) -> None:
        call = event.meta.call_uuid
        recordings.save_disposition(self._index, tenant, call, event.case_type[:128], event.agent_id[:128], at)
        rule = self._retention.rule(tenant)
        if rule.after_handling:
            for row in recordings.of_call(self._index, tenant, call):
                recordings.put(self._index, replace(row, delete_after=rule.deadline(row.start_time, at)))
