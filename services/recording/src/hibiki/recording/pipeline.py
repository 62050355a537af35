"""From a RecordingStopped to a stored, indexed recording, one step after the other (REC-03).

    check the spool file -> compress (work/<id>.<ext>) -> encrypt (work/<id>.hbr) -> store
    -> read back and verify (sha256, and it decrypts to the compressed audio) -> index row
    -> RecordingStored -> remove the spool file -> remove the work files

Each step finds what an earlier, killed attempt left and goes on from there: a whole work file is
reused (written to a temporary name and renamed), an object already stored with the same checksum
is not written again, the index row and the event are keyed by the recording id. The spool file is
removed only after the stored copy was verified and indexed, so a crash anywhere leaves the
original, and the redelivered event finishes the job; nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.events.v1 import recording_pb2
from hibiki.recording.domain import envelope, media
from hibiki.recording.domain.retention import Retention
from hibiki.recording.index import recordings
from hibiki.recording.index.recordings import Store as IndexStore
from hibiki.recording.nats.notifier import Notifier
from hibiki.recording.storage import spool
from hibiki.recording.storage.blobs import BlobStore, StoreUnavailable, copies
from hibiki.recording.storage.keys import KeyStore

log = get_logger("hibiki.recording.pipeline")
_REASONS = {recording_pb2.RECORDING_REASON_POLICY: "policy", recording_pb2.RECORDING_REASON_ON_DEMAND: "on-demand"}
_DIRECTIONS = {1: "inbound", 2: "outbound", 3: "internal"}




class VerifyFailed(Exception):
    """The stored copy does not read back as written: the step is retried."""


@dataclass
class Pipeline:
    spool_dir: Path
    work_dir: Path
    blobs: BlobStore
    keys: KeyStore
    index: IndexStore
    notifier: Notifier
    retention: Retention
    codec: str = "opus"
    bitrate: str = "24k"
    kill_after: str | None = None

    def _step(self, name: str, tenant: str, recording_id: str) -> None:
        log.debug("recording_step", step=name, tenant=tenant, recording_id=recording_id)
        if self.kill_after == name:   # the crash tests' hook (HIBIKI_RECORDING_KILL_AFTER)
            os.kill(os.getpid(), signal.SIGKILL)

    async def handle(self, tenant: str, event: recording_pb2.RecordingStopped, *, elsewhere: bool = False) -> None:
        """``elsewhere``: the file may be in another site's spool (the event names no node and
        sites split the nodes), so its absence here is no error."""
        rid, call = event.recording_id, event.meta.call_uuid
        try:
            source = spool.spool_file(self.spool_dir, tenant, rid, event.spool_path)
        except spool.BadSpoolPath as exc:
            log.error("recording_refused", tenant=tenant, call_uuid=call, recording_id=rid[:64], reason=str(exc))
            return
        try:
            await asyncio.to_thread(self._run, tenant, event, source, asyncio.get_running_loop(), elsewhere)
        except StoreUnavailable as exc:
            # not acknowledged: the spool keeps the file, the event comes again (a mirrored store:
            # until both data centers' stores answer); the consumer logs it, one line, and waits
            raise exc.about("recording_store_unavailable", call_uuid=call, recording_id=rid, store=self.blobs.name)
        except bus.Unavailable as exc:      # the index (ClickHouse) does not answer
            raise exc.about(call_uuid=call, recording_id=rid)

    def _run(self, tenant: str, event: recording_pb2.RecordingStopped, source: Path,
             loop: asyncio.AbstractEventLoop, elsewhere: bool = False) -> None:
        rid, call = event.recording_id, event.meta.call_uuid
        work = self.work_dir / tenant
        ext = media.CODECS[self.codec][0]
        compressed, sealed = work / f"{rid}.{ext}", work / f"{rid}.hbr"
        spool.clear_partial(work, rid)
        known = recordings.get(self.index, tenant, rid)
        if not source.exists():
            if known is None and elsewhere:   # the other site's service takes it from its spool
                log.info("recording_not_in_this_spool", tenant=tenant, call_uuid=call, recording_id=rid,
                         path=str(source), reason="the event names no node: another site's spool may hold it")
            elif known is None:
                log.error("recording_spool_missing", tenant=tenant, call_uuid=call, recording_id=rid, path=str(source))
            self._clean(compressed, sealed)
            return
        if known is not None:          # verified and indexed before a crash: publish again, then clean up
            self._finish(loop, known.recording, source, compressed, sealed)
            return
        try:
            probe = media.probe(source)
        except media.BadAudio as exc:
            log.error("recording_unreadable", tenant=tenant, call_uuid=call, recording_id=rid, reason=str(exc),
                      path=str(source))
            return
        if event.channels and probe.channels != event.channels:
            log.warning("recording_channels_differ", tenant=tenant, call_uuid=call, recording_id=rid,
                        announced=event.channels, found=probe.channels)
        self._step("checked", tenant, rid)
        if not compressed.exists():
            work.mkdir(parents=True, exist_ok=True)
            partial = work / f".{rid}.{os.getpid()}.tmp"
            media.transcode(source, partial, self.codec, self.bitrate)
            os.replace(partial, compressed)
        self._step("transcoded", tenant, rid)
        audio = compressed.read_bytes()
        if not sealed.exists():
            key_id, key = self.keys.current(tenant)
            spool.write_whole(sealed, envelope.seal(audio, key_id, key, envelope.associated(tenant, rid)))
        self._step("encrypted", tenant, rid)
        blob = sealed.read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        started = event.started_at.ToDatetime(UTC) if event.HasField("started_at") else datetime.now(UTC)
        object_key = f"{tenant}/{started:%Y/%m/%d}/{rid}.{ext}.hbr"
        there = copies(self.blobs, object_key)      # a mirrored store: the copy in each data center
        if any(copy is None or hashlib.sha256(copy).hexdigest() != digest for copy in there):
            self.blobs.put(object_key, blob)
        self._step("stored", tenant, rid)
        stored = copies(self.blobs, object_key)
        if any(copy is None or hashlib.sha256(copy).hexdigest() != digest for copy in stored):
            raise VerifyFailed(f"{object_key}: stored copy differs from what was written")
        back = next(copy for copy in stored if copy is not None)
        try:
            if envelope.open_sealed(back, lambda k: self.keys.key(tenant, k), envelope.associated(tenant, rid)) != audio:
                raise VerifyFailed(f"{object_key}: stored copy does not decrypt to the audio")
        except envelope.Undecryptable as exc:
            raise VerifyFailed(f"{object_key}: {exc}") from None
        self._step("verified", tenant, rid)
        stopped = event.stopped_at.ToDatetime(UTC) if event.HasField("stopped_at") else datetime.now(UTC)
        handled = recordings.handled_at(self.index, tenant, event.call_id)
        row = recordings.Recording(
            tenant=tenant, recording_id=rid, call_id=event.call_id, leg_uuid=event.leg_uuid or call, part=event.part or 1,
            start_time=started, end_time=stopped, duration_ms=probe.duration_ms, channels=probe.channels,
            direction=_DIRECTIONS.get(event.direction, "unknown"), caller_number=event.caller_number[:128],
            callee_number=event.callee_number[:128], did=event.did[:128], queue_id=event.queue_id[:128],
            agent_id=event.agent_id[:128], user_id=event.user[:128], reason=_REASONS.get(event.reason, "unknown"),
            codec=self.codec, size_bytes=len(blob), sha256=digest, object_key=object_key,
            key_id=envelope.key_id_of(blob), stored_at=datetime.now(UTC),
            delete_after=self.retention.rule(tenant).deadline(started, handled))
        recordings.put(self.index, row)
        self._step("indexed", tenant, rid)
        self._finish(loop, row, source, compressed, sealed)
        log.info("recording_stored", tenant=tenant, call_uuid=call, recording_id=rid, size=len(blob),
                 duration_ms=probe.duration_ms, store=self.blobs.name, object_key=object_key)

    def _finish(self, loop: asyncio.AbstractEventLoop, row: recordings.Recording, source: Path, *work: Path) -> None:
        asyncio.run_coroutine_threadsafe(self.notifier.stored(row), loop).result(30)
        self._step("published", row.tenant, row.recording_id)
        source.unlink(missing_ok=True)
        self._step("spool-removed", row.tenant, row.recording_id)
        self._clean(*work)

    @staticmethod
    def _clean(*paths: Path) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
