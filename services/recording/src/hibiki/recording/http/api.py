"""The recordings API (REC-04): search, metadata, play and download with range requests, delete,
the audit trail and key rotation. Every call is checked by ``domain.access`` and every access to
a recording (search included) is recorded: an audit row and RecordingAccessed.

    GET    /api/v1/tenants/{tenant}/recordings?from&to&agent&number&queue&disposition&limit
    GET    /api/v1/tenants/{tenant}/recordings/{recording_id}
    GET    /api/v1/tenants/{tenant}/recordings/{recording_id}/audio      (Range: bytes=...)
    GET    /api/v1/tenants/{tenant}/recordings/{recording_id}/download   (attachment)
    DELETE /api/v1/tenants/{tenant}/recordings/{recording_id}
    GET    /api/v1/tenants/{tenant}/recording-audit?from&to        (and recording-audit.csv)
    GET    /api/v1/tenants/{tenant}/recording-audit/verify         (the hash chains: intact or not, where)
    POST   /api/v1/tenants/{tenant}/recording-keys/rotate
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.recording.deletion import Deleter, Who
from hibiki.recording.domain import envelope, media
from hibiki.recording.http import ranges
from hibiki.recording.http.common import PREFIX, Recorder, Refused, claims_of, guard, model
from hibiki.recording.http.schemas import (AuditOut, AuditQuery, AuditTrail, AuditVerifyOut, Ids, KeyOut, RecordingOut, SearchOut,
                                           SearchQuery, TenantId)
from hibiki.recording.index import recordings
from hibiki.recording.index.audit import AuditChain
from hibiki.recording.index.recordings import Store as IndexStore
from hibiki.recording.nats.notifier import Notifier
from hibiki.recording.storage.blobs import BlobStore
from hibiki.recording.storage.keys import KeyStore

log = get_logger("hibiki.recording.http")
AUDIT_COLUMNS = ("at", "event_id", "actor", "roles", "action", "recording_id", "remote", "detail", "writer", "seq",
                 "prev_hash", "hash")


def _out(found: recordings.Found) -> dict[str, Any]:
    r = found.recording
    return RecordingOut(tenant=r.tenant, recording_id=r.recording_id, call_id=r.call_id, part=r.part,
                        start_time=r.start_time, end_time=r.end_time, duration_ms=r.duration_ms, channels=r.channels,
                        direction=r.direction, caller_number=r.caller_number, callee_number=r.callee_number,
                        did=r.did, queue_id=r.queue_id, agent_id=r.agent_id, user_id=r.user_id,
                        disposition=found.disposition, reason=r.reason, codec=r.codec, size_bytes=r.size_bytes,
                        sha256=r.sha256, delete_after=r.delete_after).model_dump(mode="json")


def _cell(value: str) -> str:
    """A spreadsheet does not run a cell that starts like a formula (the value stays readable)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class RecordingsApi:
    def __init__(self, index: IndexStore, blobs: BlobStore, keys: KeyStore, notifier: Notifier,
                 deleter: Deleter, trail: AuditChain) -> None:
        self._index, self._blobs, self._keys, self._notifier, self._deleter = index, blobs, keys, notifier, deleter
        self._trail = trail
        self._record = Recorder(index, notifier, trail)
        self._found = self._record.found

    async def search(self, request: Request, tenant: str) -> Response:
        q: SearchQuery = model(SearchQuery, dict(request.query_params))
        query = recordings.Query(tenant, q.start, q.end, q.agent, q.number, q.queue, q.disposition, q.limit)
        found = await asyncio.to_thread(recordings.search, self._index, query)
        await self._record(request, tenant, "search", "", str(request.query_params))
        return JSONResponse({"recordings": [_out(f) for f in found]})

    async def show(self, request: Request, tenant: str) -> Response:
        found = await self._found(tenant, request.path_params["recording_id"])
        await self._record(request, tenant, "show", found.recording.recording_id)
        return JSONResponse(_out(found))

    async def _audio(self, request: Request, tenant: str, action: str) -> Response:
        found = await self._found(tenant, request.path_params["recording_id"])
        r = found.recording
        blob = await asyncio.to_thread(self._blobs.get, r.object_key)
        if blob is None:
            log.error("recording_audio_missing", tenant=tenant, call_uuid=r.leg_uuid, recording_id=r.recording_id)
            raise Refused(404, "audio-missing", "the recording's audio is not in the store")
        try:
            audio = envelope.open_sealed(blob, lambda k: self._keys.key(tenant, k),
                                         envelope.associated(tenant, r.recording_id))
        except envelope.Undecryptable as exc:
            log.error("recording_undecryptable", tenant=tenant, call_uuid=r.leg_uuid, recording_id=r.recording_id,
                      reason=str(exc))
            raise Refused(404, "audio-unreadable", "the recording's audio cannot be decrypted") from None
        size = len(audio)
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
        if action == "download":
            headers["Content-Disposition"] = f'attachment; filename="{r.recording_id}.{media.CODECS[r.codec][0]}"'
        try:
            span = ranges.parse(request.headers.get("range"), size)
        except ranges.Unsatisfiable:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        await self._record(request, tenant, action, r.recording_id,
                           "" if span is None else f"bytes {span[0]}-{span[1]}/{size}")
        kind = media.media_type(r.codec)
        if span is None:
            return Response(audio, media_type=kind, headers=headers)
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Response(audio[start:end + 1], status_code=206, media_type=kind, headers=headers)

    async def play(self, request: Request, tenant: str) -> Response:
        return await self._audio(request, tenant, "play")

    async def download(self, request: Request, tenant: str) -> Response:
        return await self._audio(request, tenant, "download")

    async def delete(self, request: Request, tenant: str) -> Response:
        found = await self._found(tenant, request.path_params["recording_id"])
        claims = claims_of(request)
        remote = request.client.host if request.client else ""
        await self._deleter.delete(found.recording, "admin", Who(claims.subject, tuple(claims.roles), remote))
        await self._notifier.accessed(tenant, found.recording.recording_id, claims.subject, "delete",
                                      str(uuid.uuid4()))
        return Response(status_code=204)

    async def audit(self, request: Request, tenant: str) -> Response:
        q: AuditQuery = model(AuditQuery, dict(request.query_params))
        trail = await asyncio.to_thread(recordings.audit_trail, self._index, tenant, q.start, q.end)
        return JSONResponse(AuditTrail(entries=[AuditOut(at=e.at, event_id=e.event_id, actor=e.actor, roles=e.roles,
                                                         action=e.action, recording_id=e.recording_id,
                                                         remote=e.remote, detail=e.detail, writer=e.writer,
                                                         seq=e.seq, prev_hash=e.prev_hash, hash=e.hash)
                                                for e in trail]).model_dump(mode="json"))

    async def audit_verify(self, request: Request, tenant: str) -> Response:
        """Walk the tenant's hash chains: ``intact`` false and the problems when a row was altered or removed."""
        result = await asyncio.to_thread(self._trail.verify, tenant)
        log.info("recording_audit_verified", tenant=tenant, intact=result["intact"], entries=result["entries"],
                 problems=len(result["problems"]), actor=claims_of(request).subject)
        return JSONResponse(AuditVerifyOut.model_validate(result).model_dump(mode="json"))

    async def audit_csv(self, request: Request, tenant: str) -> Response:
        """The audit trail as CSV (UTF-8 with BOM, for Excel): one line per entry, oldest first."""
        q: AuditQuery = model(AuditQuery, dict(request.query_params))
        trail = await asyncio.to_thread(recordings.audit_trail, self._index, tenant, q.start, q.end, 1_000_000)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(AUDIT_COLUMNS)
        for e in trail:
            writer.writerow([e.at.isoformat(), e.event_id, _cell(e.actor), _cell(" ".join(e.roles)), e.action,
                             e.recording_id, e.remote, _cell(e.detail), e.writer, e.seq, e.prev_hash, e.hash])
        log.info("recording_audit_exported", tenant=tenant, entries=len(trail), actor=claims_of(request).subject)
        name = f"recording-audit-{tenant}.csv"
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    async def rotate(self, request: Request, tenant: str) -> Response:
        key_id, _ = await asyncio.to_thread(self._keys.rotate, tenant)
        claims = claims_of(request)
        log.info("recording_key_rotated", tenant=tenant, key_id=key_id, actor=claims.subject)
        return JSONResponse({"key_id": key_id, "key_ids": await asyncio.to_thread(self._keys.key_ids, tenant)})

    def routes(self) -> list[ApiRoute]:
        one = f"{PREFIX}/recordings/{{recording_id}}"
        read, write = errors(403, 404, 422, 503), errors(403, 404, 422, 503)

        def audio(summary: str) -> Operation:
            return Operation(summary, ok=(200, 206), media="audio/ogg", path=Ids, tags=["recordings"],
                             errors={**read, 416: "the range is outside the audio"}, error_bodies={416: "text/plain"})
        return [
            ApiRoute(f"{PREFIX}/recordings", guard("search", TenantId, self.search), "GET", Operation(
                "Search recordings by time, agent, number, queue, disposition", response=SearchOut,
                query=SearchQuery, path=TenantId, errors=read, tags=["recordings"])),
            ApiRoute(one, guard("show", Ids, self.show), "GET", Operation(
                "A recording's index row", response=RecordingOut, path=Ids, errors=read, tags=["recordings"])),
            ApiRoute(f"{one}/audio", guard("play", Ids, self.play), "GET",
                     audio("Play: the decrypted audio, with range requests for seeking")),
            ApiRoute(f"{one}/download", guard("download", Ids, self.download), "GET",
                     audio("Download the decrypted audio as a file")),
            ApiRoute(one, guard("delete", Ids, self.delete), "DELETE", Operation(
                "Delete the audio and the row (recorded in the audit trail)", ok=204, path=Ids, errors=write,
                tags=["recordings"])),
            ApiRoute(f"{PREFIX}/recording-audit", guard("audit", TenantId, self.audit), "GET", Operation(
                "The tenant's audit trail of recordings (who, what, when, from where)", response=AuditTrail,
                query=AuditQuery, path=TenantId, errors=read, tags=["recordings"])),
            ApiRoute(f"{PREFIX}/recording-audit.csv", guard("audit", TenantId, self.audit_csv), "GET", Operation(
                "The tenant's audit trail of recordings as CSV (UTF-8 with BOM)", media="text/csv", query=AuditQuery,
                path=TenantId, errors=read, tags=["recordings"])),
            ApiRoute(f"{PREFIX}/recording-audit/verify", guard("audit", TenantId, self.audit_verify), "GET",
                     Operation("Verify the tenant's audit trail (its hash chains): intact, or where a row was "
                               "altered or removed", response=AuditVerifyOut, path=TenantId, errors=read,
                               tags=["recordings"])),
            ApiRoute(f"{PREFIX}/recording-keys/rotate", guard("rotate-key", TenantId, self.rotate), "POST", Operation(
                "A new data key for new recordings (old ones stay readable)", response=KeyOut, path=TenantId,
                errors=errors(403, 422), tags=["recordings"])),
        ]
