"""The recordings API (REC-04): search, metadata, play and download with range requests, delete,
the audit trail and key rotation. Every call is checked by ``domain.access`` and every access to
a recording (search included) is recorded: an audit row and RecordingAccessed.

    GET    /api/v1/tenants/{tenant}/recordings?from&to&agent&number&queue&disposition&limit
    GET    /api/v1/tenants/{tenant}/recordings/{recording_id}
    GET    /api/v1/tenants/{tenant}/recordings/{recording_id}/audio      (Range: bytes=...)
    GET    /api/v1/tenants/{tenant}/recordings/{recording_id}/download   (attachment)
    DELETE /api/v1/tenants/{tenant}/recordings/{recording_id}
    GET    /api/v1/tenants/{tenant}/recording-audit?from&to
    POST   /api/v1/tenants/{tenant}/recording-keys/rotate
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.recording.deletion import Deleter, Who
from hibiki.recording.domain import access, envelope, media
from hibiki.recording.http import ranges
from hibiki.recording.http.schemas import (AuditOut, AuditQuery, AuditTrail, Ids, KeyOut, RecordingOut, SearchOut,
                                           SearchQuery, TenantId)
from hibiki.recording.index import recordings
from hibiki.recording.index.chdb_store import ChdbStore
from hibiki.recording.nats.notifier import Notifier
from hibiki.recording.storage.blobs import BlobStore, StoreUnavailable
from hibiki.recording.storage.keys import KeyStore

log = get_logger("hibiki.recording.http")
Handler = Callable[[Request], Awaitable[Response]]
PREFIX = "/api/v1/tenants/{tenant}"


class Refused(Exception):
    def __init__(self, status: int, error_id: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.error_id, self.message, self.details = status, error_id, message, details


def _out(found: recordings.Found) -> dict[str, Any]:
    r = found.recording
    return RecordingOut(tenant=r.tenant, recording_id=r.recording_id, call_id=r.call_id, part=r.part,
                        start_time=r.start_time, end_time=r.end_time, duration_ms=r.duration_ms, channels=r.channels,
                        direction=r.direction, caller_number=r.caller_number, callee_number=r.callee_number,
                        did=r.did, queue_id=r.queue_id, agent_id=r.agent_id, user_id=r.user_id,
                        disposition=found.disposition, reason=r.reason, codec=r.codec, size_bytes=r.size_bytes,
                        sha256=r.sha256, delete_after=r.delete_after).model_dump(mode="json")


def _model(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "query"
        raise Refused(422, "invalid-field", f"{field}: {first['msg']}", field=field) from None


class RecordingsApi:
    def __init__(self, index: ChdbStore, blobs: BlobStore, keys: KeyStore, notifier: Notifier,
                 deleter: Deleter) -> None:
        self._index, self._blobs, self._keys, self._notifier, self._deleter = index, blobs, keys, notifier, deleter

    def _guard(self, action: str, work: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            tenant = request.path_params["tenant"]
            claims = request.scope["hibiki.claims"]
            refusal = access.refusal(claims, tenant, action)
            if refusal is not None:
                log.info("recording_access_refused", tenant=tenant[:64], actor=claims.subject[:64], action=action)
                return error_response(403, "forbidden", refusal)
            try:
                _model(Ids if "recording_id" in request.path_params else TenantId, request.path_params)
                return await work(request, tenant)
            except Refused as exc:
                return error_response(exc.status, exc.error_id, exc.message, **exc.details)
            except StoreUnavailable as exc:
                log.error("recording_store_unavailable", tenant=tenant, action=action, reason=str(exc))
                return error_response(503, "store-unavailable", "the recording store did not answer; try again")
        return endpoint

    async def _record(self, request: Request, tenant: str, action: str, recording_id: str, detail: str = "") -> None:
        claims = request.scope["hibiki.claims"]
        event_id = str(uuid.uuid4())
        remote = request.client.host if request.client else ""
        entry = recordings.AuditEntry(tenant, datetime.now(UTC), event_id, claims.subject, list(claims.roles), action,
                                      recording_id, remote, detail[:1000])
        await asyncio.to_thread(recordings.audit, self._index, entry)
        await self._notifier.accessed(tenant, recording_id, claims.subject, action, event_id)

    async def _found(self, tenant: str, recording_id: str) -> recordings.Found:
        found = await asyncio.to_thread(recordings.get, self._index, tenant, recording_id)
        if found is None:
            raise Refused(404, "unknown-recording", "no such recording", field="recording_id")
        return found

    async def search(self, request: Request, tenant: str) -> Response:
        q: SearchQuery = _model(SearchQuery, dict(request.query_params))
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
        claims = request.scope["hibiki.claims"]
        remote = request.client.host if request.client else ""
        await self._deleter.delete(found.recording, "admin", Who(claims.subject, tuple(claims.roles), remote))
        await self._notifier.accessed(tenant, found.recording.recording_id, claims.subject, "delete",
                                      str(uuid.uuid4()))
        return Response(status_code=204)

    async def audit(self, request: Request, tenant: str) -> Response:
        q: AuditQuery = _model(AuditQuery, dict(request.query_params))
        trail = await asyncio.to_thread(recordings.audit_trail, self._index, tenant, q.start, q.end)
        return JSONResponse(AuditTrail(entries=[AuditOut(at=e.at, event_id=e.event_id, actor=e.actor, roles=e.roles,
                                                         action=e.action, recording_id=e.recording_id,
                                                         remote=e.remote, detail=e.detail) for e in trail])
                            .model_dump(mode="json"))

    async def rotate(self, request: Request, tenant: str) -> Response:
        key_id, _ = await asyncio.to_thread(self._keys.rotate, tenant)
        claims = request.scope["hibiki.claims"]
        log.info("recording_key_rotated", tenant=tenant, key_id=key_id, actor=claims.subject)
        return JSONResponse({"key_id": key_id, "key_ids": await asyncio.to_thread(self._keys.key_ids, tenant)})

    def routes(self) -> list[ApiRoute]:
        one = f"{PREFIX}/recordings/{{recording_id}}"
        read, write = errors(403, 404, 422, 503), errors(403, 404, 422, 503)

        def audio(summary: str) -> Operation:
            return Operation(summary, ok=(200, 206), media="audio/ogg", path=Ids, tags=["recordings"],
                             errors={**read, 416: "the range is outside the audio"}, error_bodies={416: "text/plain"})
        return [
            ApiRoute(f"{PREFIX}/recordings", self._guard("search", self.search), "GET", Operation(
                "Search recordings by time, agent, number, queue, disposition", response=SearchOut,
                query=SearchQuery, path=TenantId, errors=read, tags=["recordings"])),
            ApiRoute(one, self._guard("show", self.show), "GET", Operation(
                "A recording's index row", response=RecordingOut, path=Ids, errors=read, tags=["recordings"])),
            ApiRoute(f"{one}/audio", self._guard("play", self.play), "GET",
                     audio("Play: the decrypted audio, with range requests for seeking")),
            ApiRoute(f"{one}/download", self._guard("download", self.download), "GET",
                     audio("Download the decrypted audio as a file")),
            ApiRoute(one, self._guard("delete", self.delete), "DELETE", Operation(
                "Delete the audio and the row (recorded in the audit trail)", ok=204, path=Ids, errors=write,
                tags=["recordings"])),
            ApiRoute(f"{PREFIX}/recording-audit", self._guard("audit", self.audit), "GET", Operation(
                "The tenant's audit trail of recordings (who, what, when, from where)", response=AuditTrail,
                query=AuditQuery, path=TenantId, errors=read, tags=["recordings"])),
            ApiRoute(f"{PREFIX}/recording-keys/rotate", self._guard("rotate-key", self.rotate), "POST", Operation(
                "A new data key for new recordings (old ones stay readable)", response=KeyOut, path=TenantId,
                errors=errors(403, 422), tags=["recordings"])),
        ]
