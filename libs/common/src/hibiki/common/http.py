"""The HTTP bootstrap every service shares: health, readiness, metrics, token checks,
request body limits, and uvicorn without proxy headers unless configured.

``GET /healthz`` (liveness: 503 when a service's own ``liveness`` check fails, e.g. a
thread that stopped turning) and ``GET /readyz`` (readiness) answer without a token so
that probes work; everything else, ``/metrics`` included, needs ``Authorization:
Bearer <token>``, except paths a service declares open (FreeSWITCH's ``/fsapi``,
which has its own address allow-list and basic auth), and the shared page assets under
``/ui/`` (:mod:`hibiki.common.ui`).

A browser logged in at the directory presents the same token in the cookie ``hibiki_session``
(HttpOnly, SameSite=Strict; cookies ignore ports, so one login covers every service on the
host). It is verified exactly like the header (the header wins when both are sent). A request
authenticated by the cookie with an unsafe method (POST, PUT, PATCH, DELETE) must also carry the
header ``X-Hibiki-CSRF`` equal to the cookie ``hibiki_csrf`` and to the session's binding
(double submit): else 403 ``csrf-failed``.

Request bodies are limited while they are read (:class:`BodyLimitMiddleware`): a declared
``Content-Length`` over the limit is refused before any byte is read, a chunked body as soon
as it passes the limit (413, ``error_id`` ``too-large``). ``HIBIKI_HTTP_MAX_BODY``
(default 1 MiB) is the limit; a service raises it for the paths that take files.
``X-Forwarded-For``/``-Proto`` are believed only from ``HIBIKI_HTTP_TRUSTED_PROXIES``
(addresses or CIDRs; default none: uvicorn's proxy headers are off).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from hibiki.common import openapi
from hibiki.common.auth import InvalidToken, TokenAuthority, csrf_digest
from hibiki.common.config import Env
from hibiki.common.ui import UiAssets

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
DEFAULT_MAX_BODY = 1024 * 1024
SESSION_COOKIE = "hibiki_session"
CSRF_COOKIE = "hibiki_csrf"
CSRF_HEADER = "X-Hibiki-CSRF"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies (the first of each name)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, sep, val = part.strip().partition("=")
                if sep and key not in found:
                    found[key] = val.strip().strip('"')
    return found


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def error_response(status: int, error_id: str, message: str, **details: Any) -> JSONResponse:
    """The one error shape of every Hibiki HTTP API."""
    return JSONResponse({"error_id": error_id, "message": message, "details": details}, status_code=status)


class TokenAuthMiddleware:
    """Refuses requests without a valid bearer token (401), except probe and open paths."""

    def __init__(self, app: ASGIApp, authority: TokenAuthority, open_paths: Sequence[str] = ()) -> None:
        self.app = app
        self.authority = authority
        self.open_paths = PROBE_PATHS | frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        jar = cookies(scope) if header is None else {}
        session = jar.get(SESSION_COOKIE)
        try:
            if header is None and session:
                claims = self.authority.verify(session)
                scope["hibiki.via_cookie"] = True
            else:
                claims = self.authority.verify_header(header)
            scope["hibiki.claims"] = claims
        except InvalidToken as exc:
            body = json.dumps({"error_id": "unauthenticated", "message": f"a valid bearer token is required: {exc}", "details": {}}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="hibiki"'),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope.get("hibiki.via_cookie") and scope["method"] not in SAFE_METHODS:
            sent = _header(scope, CSRF_HEADER.lower().encode()) or ""
            cookie = jar.get(CSRF_COOKIE, "")
            if not sent or not secrets.compare_digest(sent, cookie) or not claims.csrf \
                    or not secrets.compare_digest(csrf_digest(sent), claims.csrf):
                await _send_json(send, 403, {"error_id": "csrf-failed", "details": {"field": CSRF_HEADER},
                                             "message": f"a request authenticated by the session cookie must send "
                                                        f"{CSRF_HEADER} equal to the {CSRF_COOKIE} cookie"})
                return
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses request bodies over a limit while they are read, never holding more than it.

    ``limits``: path patterns (regular expressions, full match) with their own limit (uploads);
    every other path gets ``default``."""

    def __init__(self, app: ASGIApp, default: int = DEFAULT_MAX_BODY, limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.limits = [(re.compile(pattern), limit) for pattern, limit in (limits or {}).items()]

    def limit(self, path: str) -> int:
        for pattern, limit in self.limits:
            if pattern.fullmatch(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    await _send_json(send, 400, {"error_id": "invalid-content-length", "details": {"field": "Content-Length"},
                                                 "message": "Content-Length is not a number"})
                    return
                if int(value) > limit:
                    await self._refuse(send, limit)
                    return
        received = 0
        answered = False

        async def limited_receive() -> Any:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        answered = True
                        await self._refuse(send, limit)
                    raise _TooLarge()
            return message

        started = False

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if answered:          # we refused the body: whatever the app says after that is dropped
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            return
        except Exception:
            if answered:        # the app failed on the refused body (e.g. Starlette's error middleware re-raising)
                return
            raise

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        await _send_json(send, 413, {"error_id": "too-large", "details": {"field": "body", "limit": limit},
                                     "message": f"the request body may have at most {limit} bytes"})


def build_app(
    service: str,
    authority: TokenAuthority,
    routes: Sequence[BaseRoute] = (),
    *,
    open_paths: Sequence[str] = (),
    readiness: ReadinessCheck | None = None,
    liveness: ReadinessCheck | None = None,
    registry: CollectorRegistry = REGISTRY,
    lifespan: Any = None,
    body_limits: Mapping[str, int] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ASGIApp:
    async def healthz(_: Request) -> Response:
        checks = await liveness() if liveness else {}
        if all(checks.values()):
            return JSONResponse({"service": service, "status": "ok", **({"checks": checks} if checks else {})})
        return JSONResponse({"service": service, "status": "failing", "checks": checks}, status_code=503)

    async def readyz(_: Request) -> Response:
        checks = await readiness() if readiness else {}
        ready = all(checks.values())
        return JSONResponse({"service": service, "ready": ready, "checks": checks}, status_code=200 if ready else 503)

    async def metrics(_: Request) -> Response:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    table = [*openapi.probe_routes(healthz, readyz, metrics), *routes]
    if any(isinstance(route, openapi.ApiRoute) for route in routes):   # a service with an API describes it
        table.append(openapi.document_route(f"Hibiki {service} API", table))
    app = Starlette(routes=table, lifespan=lifespan)
    max_body = Env.load(environ=environ).integer("HTTP_MAX_BODY", DEFAULT_MAX_BODY, minimum=1024)
    # /ui/ (the shared look of every page) is served ahead of the token check: it holds no data.
    return BodyLimitMiddleware(UiAssets(TokenAuthMiddleware(app, authority, open_paths)), max_body, body_limits)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the service runner owns signals
        yield


class HttpServer:
    """uvicorn on a socket we bound ourselves (so a busy port is a clear error)."""

    def __init__(self, app: ASGIApp, sock: socket.socket, environ: Mapping[str, str] | None = None) -> None:
        proxies = [str(n) for n in Env.load(environ=environ).networks("HTTP_TRUSTED_PROXIES", "")]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="auto", timeout_graceful_shutdown=5,
                                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)
        self._server = _Server(config)
        self._sock = sock
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                return
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task:
            await self._task
