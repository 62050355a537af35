"""The prompt store over HTTP (PBX-17): admins upload recordings and have text spoken.

    GET    /api/v1/tenants/{tenant}/prompts              list
    POST   /api/v1/tenants/{tenant}/prompts              upload: the WAV or MP3 file as the body
                                                         (``?filename=`` for messages), 201
    POST   /api/v1/tenants/{tenant}/prompts/speak        {"text", "voice"?, "speed"?}: Japanese TTS, 201
    GET    /api/v1/openapi.json                          this API described (OpenAPI 3.1)
    GET    /api/v1/tenants/{tenant}/prompts/{id}         metadata
    GET    /api/v1/tenants/{tenant}/prompts/{id}/audio   the stored 8 kHz WAV (to listen in the console)
    DELETE /api/v1/tenants/{tenant}/prompts/{id}         204
    GET    /api/v1/tenants/{tenant}/hold_music           {"prompt_id": id or null, "playback"}
    PUT    /api/v1/tenants/{tenant}/hold_music           {"prompt_id"}: one of the tenant's prompts
                                                         becomes what its queued callers hear
    DELETE /api/v1/tenants/{tenant}/hold_music           back to the platform's default, 204

IVRs refer to a prompt by its id (``{"prompt_id": ...}``). Roles as in the directory's admin
API: a tenant's ``admin`` writes, its ``viewer`` reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from hibiki.callcontrol.http.models import HoldMusicIn, HoldMusicOut, PromptOut, Prompts, SpeakIn, UploadQuery
from hibiki.callcontrol.prompts.errors import AudioTooLarge, PromptError
from hibiki.callcontrol.prompts.model import Prompt
from hibiki.callcontrol.prompts.store import AsyncPromptStore
from hibiki.common import roles as role_rule
from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors

log = get_logger("hibiki.callcontrol.prompts")
Handler = Callable[[Request], Awaitable[Response]]
MAX_UPLOAD = 128 * 1024 * 1024


def _json(prompt: Prompt) -> dict[str, Any]:
    return {"id": prompt.id, "tenant": prompt.tenant, "source": prompt.source, "duration_ms": prompt.duration_ms,
            "sample_rate": prompt.sample_rate, "playback": prompt.playback}


class PromptsApi:
    def __init__(self, store: AsyncPromptStore, max_upload: int = MAX_UPLOAD,
                 default_music: str = "local_stream://default") -> None:
        self._store, self._max_upload, self._default_music = store, max_upload, default_music

    def _guard(self, write: bool, work: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            tenant = request.path_params["tenant"]
            refusal = request.scope["hibiki.claims"].refusal(tenant, write, role_rule.PROMPTS)
            if refusal is not None:
                return error_response(403, "forbidden", refusal)
            try:
                return await work(request)
            except PromptError as exc:
                log.info("prompt_refused", tenant=tenant, error_id=exc.error_id, reason=exc.message)
                return error_response(exc.status, exc.error_id, exc.message)
        return endpoint

    async def list_prompts(self, request: Request) -> Response:
        prompts = await self._store.list_prompts(request.path_params["tenant"])
        return JSONResponse({"items": [_json(p) for p in prompts]})

    async def upload(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        body = bytearray()
        async for chunk in request.stream():   # refuse a huge upload without holding it all
            body += chunk
            if len(body) > self._max_upload:
                raise AudioTooLarge("audio-too-large", f"uploads are limited to {self._max_upload // 2**20} MiB")
        prompt = await self._store.normalise(tenant, bytes(body), request.query_params.get("filename", ""))
        log.info("prompt_uploaded", tenant=tenant, prompt=prompt.id, duration_ms=prompt.duration_ms)
        return JSONResponse(_json(prompt), status_code=201)

    async def speak(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        try:
            data = await request.json()
        except ValueError:
            return error_response(400, "invalid-json", "the body is not JSON")
        try:
            spoken = SpeakIn.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or None
            error_id = "invalid-text" if field in ("text", None) else "invalid-request"
            return error_response(422, error_id, f"{field or 'body'}: {first['msg']}", field=field)
        prompt = await self._store.speak(tenant, spoken.text, spoken.voice, spoken.speed)
        return JSONResponse(_json(prompt), status_code=201)

    async def get(self, request: Request) -> Response:
        p = request.path_params
        return JSONResponse(_json(await self._store.get(p["tenant"], p["id"])))

    async def audio(self, request: Request) -> Response:
        p = request.path_params
        prompt = await self._store.get(p["tenant"], p["id"])
        return FileResponse(prompt.path, media_type="audio/wav")

    async def delete(self, request: Request) -> Response:
        p = request.path_params
        await self._store.delete(p["tenant"], p["id"])
        log.info("prompt_deleted", tenant=p["tenant"], prompt=p["id"])
        return Response(status_code=204)

    async def get_hold_music(self, request: Request) -> Response:
        music = await self._store.hold_music(request.path_params["tenant"])
        return JSONResponse(self._music_json(music))

    async def choose_hold_music(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        try:
            data = await request.json()
        except ValueError:
            return error_response(400, "invalid-json", "the body is not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("prompt_id"), str):
            return error_response(422, "invalid-prompt-id", "the body needs a prompt_id string", field="prompt_id")
        music = await self._store.choose_hold_music(tenant, data["prompt_id"])
        log.info("hold_music_chosen", tenant=tenant, prompt=data["prompt_id"])
        return JSONResponse(self._music_json(music))

    async def default_hold_music(self, request: Request) -> Response:
        await self._store.choose_hold_music(request.path_params["tenant"], None)
        log.info("hold_music_chosen", tenant=request.path_params["tenant"], prompt=None)
        return Response(status_code=204)

    def _music_json(self, music: Prompt | None) -> dict[str, Any]:
        return {"prompt_id": music.id if music else None, "playback": music.playback if music else self._default_music}

    def routes(self) -> list[ApiRoute]:
        base, music, g = "/api/v1/tenants/{tenant}/prompts", "/api/v1/tenants/{tenant}/hold_music", self._guard
        read, tags = errors(403, 422), ["prompts"]
        return [
            ApiRoute(base, g(False, self.list_prompts), "GET", Operation(
                "List the tenant's prompts", response=Prompts, errors=read, tags=tags)),
            ApiRoute(base, g(True, self.upload), "POST", Operation(
                "Upload a recording (the WAV or MP3 file itself as the body); stored as 8 kHz WAV", 201, PromptOut,
                upload="application/octet-stream", query=UploadQuery, tags=tags,
                errors=errors(403, 413, s422="not WAV or MP3, empty, undecodable, silent or too long"))),
            ApiRoute(base + "/speak", g(True, self.speak), "POST", Operation(
                "Have Japanese text spoken (TTS); the same text, voice and speed give the same prompt", 201, PromptOut,
                body=SpeakIn, errors=errors(400, 403, 413, 422), tags=tags)),
            ApiRoute(base + "/{id}", g(False, self.get), "GET", Operation(
                "A prompt's metadata", response=PromptOut, errors=errors(403, 404, 422), tags=tags)),
            ApiRoute(base + "/{id}/audio", g(False, self.audio), "GET", Operation(
                "The stored 8 kHz WAV", media="audio/wav", errors=errors(403, 404, 422), tags=tags)),
            ApiRoute(base + "/{id}", g(True, self.delete), "DELETE", Operation(
                "Delete a prompt", 204, errors=errors(403, 404, 422), tags=tags)),
            ApiRoute(music, g(False, self.get_hold_music), "GET", Operation(
                "What the tenant's queued callers hear: its chosen prompt, or the platform's default (prompt_id null)",
                response=HoldMusicOut, errors=read, tags=["hold music"])),
            ApiRoute(music, g(True, self.choose_hold_music), "PUT", Operation(
                "One of the tenant's prompts becomes its hold music", response=HoldMusicOut, body=HoldMusicIn,
                errors=errors(400, 403, 404, 413, 422), tags=["hold music"])),
            ApiRoute(music, g(True, self.default_hold_music), "DELETE", Operation(
                "Back to the platform's default hold music", 204, errors=read, tags=["hold music"])),
        ]
