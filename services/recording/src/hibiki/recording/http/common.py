"""What the recording service's HTTP resources share: the role check (``domain.access``), the
path and query checks (422 naming the field), refusals as 4xx with ``error_id``, an unavailable
store as 503, and the audit row plus RecordingAccessed of every access."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from hibiki.common.auth import Claims
from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.recording.domain import access
from hibiki.recording.domain.evaluation import BadEvaluation
from hibiki.recording.index import recordings
from hibiki.recording.index.audit import AuditChain
from hibiki.recording.index.recordings import Store as IndexStore
from hibiki.recording.nats.notifier import Notifier
from hibiki.recording.storage.blobs import StoreUnavailable

log = get_logger("hibiki.recording.http")
Handler = Callable[[Request], Awaitable[Response]]
Work = Callable[[Request, str], Awaitable[Response]]
PREFIX = "/api/v1/tenants/{tenant}"


class Refused(Exception):
    def __init__(self, status: int, error_id: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.error_id, self.message, self.details = status, error_id, message, details


def model(kind: type[BaseModel], data: Any) -> Any:
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "query"
        raise Refused(422, "invalid-field", f"{field}: {first['msg']}", field=field) from None


def claims_of(request: Request) -> Claims:
    claims: Claims = request.scope["hibiki.claims"]
    return claims


def guard(action: str, path: type[BaseModel], work: Work) -> Handler:
    async def endpoint(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        claims = claims_of(request)
        refusal = access.refusal(claims, tenant, action)
        if refusal is not None:
            log.info("recording_access_refused", tenant=tenant[:64], actor=claims.subject[:64], action=action)
            return error_response(403, "forbidden", refusal)
        try:
            model(path, request.path_params)
            return await work(request, tenant)
        except Refused as exc:
            return error_response(exc.status, exc.error_id, exc.message, **exc.details)
        except BadEvaluation as exc:
            return error_response(422, "invalid-field", str(exc), field=exc.field)
        except StoreUnavailable as exc:
            log.error("recording_store_unavailable", tenant=tenant, action=action, reason=str(exc))
            return error_response(503, "store-unavailable", "the recording store did not answer; try again")
    return endpoint


async def json_body(request: Request, kind: type[BaseModel]) -> Any:
    try:
        data = await request.json()
    except ValueError:
        raise Refused(400, "invalid-json", "the body is not JSON", field="body") from None
    return model(kind, data)


class Recorder:
    """The audit row and RecordingAccessed of one access."""

    def __init__(self, index: IndexStore, notifier: Notifier, trail: AuditChain) -> None:
        self.index, self.notifier, self.trail = index, notifier, trail

    async def __call__(self, request: Request, tenant: str, action: str, recording_id: str, detail: str = "") -> None:
        claims = claims_of(request)
        event_id = str(uuid.uuid4())
        remote = request.client.host if request.client else ""
        entry = recordings.AuditEntry(tenant, datetime.now(UTC), event_id, claims.subject, list(claims.roles), action,
                                      recording_id, remote, detail[:1000])
        await asyncio.to_thread(self.trail.append, entry)
        await self.notifier.accessed(tenant, recording_id, claims.subject, action, event_id)

    async def found(self, tenant: str, recording_id: str) -> recordings.Found:
        found = await asyncio.to_thread(recordings.get, self.index, tenant, recording_id)
        if found is None:
            raise Refused(404, "unknown-recording", "no such recording", field="recording_id")
        return found
