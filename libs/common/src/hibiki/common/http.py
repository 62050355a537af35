"""The HTTP bootstrap every service shares: health, readiness, metrics, token checks.

``GET /healthz`` (liveness: 503 when a service's own ``liveness`` check fails, e.g. a
thread that stopped turning) and ``GET /readyz`` (readiness) answer without a token so
that probes work; everything else, ``/metrics`` included, needs ``Authorization:
Bearer <token>``, except paths a service declares open (FreeSWITCH's ``/fsapi``,
which has its own address allow-list and basic auth).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hibiki.common.auth import InvalidToken, TokenAuthority

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


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
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        try:
            scope["hibiki.claims"] = self.authority.verify_header(header)
        except InvalidToken as exc:
            body = json.dumps({"error_id": "unauthenticated", "message": f"a valid bearer token is required: {exc}", "details": {}}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="hibiki"'),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


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

    app = Starlette(
        routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics), *routes],
        lifespan=lifespan,
    )
    return TokenAuthMiddleware(app, authority, open_paths)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the service runner owns signals
        yield


class HttpServer:
    """uvicorn on a socket we bound ourselves (so a busy port is a clear error)."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="auto", timeout_graceful_shutdown=5)
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
