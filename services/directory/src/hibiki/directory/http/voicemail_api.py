"""A user's voicemail messages over HTTP (PBX-10: listening in the web UI).

    GET    /api/v1/tenants/{tenant}/users/{id}/voicemail                 the messages, newest first
    GET    /api/v1/tenants/{tenant}/users/{id}/voicemail/{message}/audio the recording (audio/wav)
    DELETE /api/v1/tenants/{tenant}/users/{id}/voicemail/{message}       deleted for good

The own-page check (``own_api.own_guarded``): whoever reads (writes) the configuration reaches
every user's mailbox; a ``self-service`` console user only their own linked user's. The mailbox is the user's
extension in the tenant's domain, as the dialplan names it (``voicemail(default <domain> <ext>)``);
messages come from FreeSWITCH's own store (:mod:`hibiki.directory.storage.voicemail_box`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.errors import NotFound
from hibiki.directory.http.own_api import own_guarded
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.directory.storage.tables import users
from hibiki.directory.storage.voicemail_box import VoicemailBox, VoicemailUnavailable

log = get_logger("hibiki.directory.voicemail")


class MessageOut(BaseModel):
    id: str
    received_at: int
    seconds: int
    caller_name: str
    caller_number: str
    folder: str
    read: bool


class MessagesOut(BaseModel):
    user: str
    extension: str | None
    messages: list[MessageOut]


class VoicemailApi:
    def __init__(self, repository: ConfigRepository, box: VoicemailBox,
                 audit: Callable[..., Awaitable[None]] | None = None) -> None:
        self.repo, self.box, self.audit = repository, box, audit

    async def _mailbox(self, request: Request) -> tuple[str, str | None]:
        p = request.path_params
        user = await asyncio.to_thread(self.repo.get, users, p["tenant"], p["id"])
        tenant = await asyncio.to_thread(self.repo.get_tenant, p["tenant"])
        return str(tenant["domain"]), user.get("extension")

    @staticmethod
    def _unavailable(exc: VoicemailUnavailable, request: Request) -> Response:
        log.warning("voicemail_unavailable", tenant=request.path_params.get("tenant"), error=str(exc)[:300])
        return error_response(503, "voicemail-unavailable", "the voicemail store cannot be read: try again later")

    async def messages(self, request: Request) -> Response:
        domain, extension = await self._mailbox(request)
        if not extension:
            return JSONResponse({"user": request.path_params["id"], "extension": None, "messages": []})
        try:
            found = await asyncio.to_thread(self.box.messages, domain, extension)
        except VoicemailUnavailable as exc:
            return self._unavailable(exc, request)
        return JSONResponse({"user": request.path_params["id"], "extension": extension,
                             "messages": [m.to_json() for m in found]})

    async def audio(self, request: Request) -> Response:
        domain, extension = await self._mailbox(request)
        try:
            path = await asyncio.to_thread(self.box.audio, domain, extension or "", request.path_params["message"])
        except VoicemailUnavailable as exc:
            return self._unavailable(exc, request)
        if path is None:
            raise NotFound("message-not-found", "no such message in this mailbox", "message")
        return FileResponse(path, media_type="audio/wav" if path.suffix == ".wav" else "audio/mpeg",
                            headers={"Cache-Control": "no-store"})

    async def delete(self, request: Request) -> Response:
        domain, extension = await self._mailbox(request)
        try:
            done = await asyncio.to_thread(self.box.delete, domain, extension or "", request.path_params["message"])
        except VoicemailUnavailable as exc:
            return self._unavailable(exc, request)
        if not done:
            raise NotFound("message-not-found", "no such message in this mailbox", "message")
        log.info("voicemail_deleted", tenant=request.path_params["tenant"], user=request.path_params["id"],
                 message=request.path_params["message"])
        if self.audit is not None:          # a change like any other: who deleted whose message (ADM-05)
            await self.audit(request, "voicemail.delete", "voicemail", request.path_params["message"],
                             {"user": request.path_params["id"], "extension": extension}, None)
        return Response(status_code=204)

    def routes(self) -> list[ApiRoute]:
        base, tags = "/api/v1/tenants/{tenant}/users/{id}/voicemail", ["voicemail"]
        return [ApiRoute(base, own_guarded(False, self.messages, self.repo), "GET", Operation(
                    "A user's voicemail messages, newest first (PBX-10)", response=MessagesOut,
                    errors=errors(403, 404, 503), tags=tags)),
                ApiRoute(base + "/{message}/audio", own_guarded(False, self.audio, self.repo), "GET", Operation(
                    "One message's recording", media="audio/wav", errors=errors(403, 404, 503), tags=tags)),
                ApiRoute(base + "/{message}", own_guarded(True, self.delete, self.repo), "DELETE", Operation(
                    "Delete one message for good", ok=204, errors=errors(403, 404, 503), tags=tags))]
