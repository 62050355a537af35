"""The shared HTTP bootstrap's body limits (per path, declared or chunked) and proxy-header setting."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hibiki.common.auth import TokenAuthority
from hibiki.common.config import ConfigError
from hibiki.common.http import BodyLimitMiddleware, HttpServer, build_app

AUTHORITY = TokenAuthority(b"k" * 40)


async def echo(request: Request) -> Response:
    return JSONResponse({"size": len(await request.body())})


def app(**limits: int) -> BodyLimitMiddleware:
    built = build_app("t", AUTHORITY, [Route("/echo", echo, methods=["POST"]), Route("/upload", echo, methods=["POST"])],
                      open_paths=["/echo", "/upload"], body_limits={"/upl.*": 8192}, environ={"HIBIKI_HTTP_MAX_BODY": "2048"})
    assert isinstance(built, BodyLimitMiddleware)
    return built


async def chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 512):
        yield b"x" * 512


async def test_limits_apply_while_reading_per_path() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        assert (await client.post("/echo", content=b"x" * 2048)).json() == {"size": 2048}
        declared = await client.post("/echo", content=b"x" * 2049)
        assert declared.status_code == 413 and declared.json()["error_id"] == "too-large"
        assert declared.json()["details"] == {"field": "body", "limit": 2048}
        streamed = await client.post("/echo", content=chunks(4096))           # no Content-Length: chunked
        assert streamed.status_code == 413
        assert (await client.post("/upload", content=chunks(8192))).json() == {"size": 8192}
        assert (await client.post("/upload", content=chunks(8704))).status_code == 413
        bad = await client.post("/echo", content=b"x", headers={"Content-Length": "1x"})
        assert bad.status_code == 400 and bad.json()["details"]["field"] == "Content-Length"


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="HIBIKI_HTTP_MAX_BODY"):
        build_app("t", AUTHORITY, environ={"HIBIKI_HTTP_MAX_BODY": "lots"})
    sock = socket.socket()
    try:
        off = HttpServer(app(), sock, environ={})
        on = HttpServer(app(), sock, environ={"HIBIKI_HTTP_TRUSTED_PROXIES": "10.0.0.0/8"})
        assert not off._server.config.proxy_headers
        assert on._server.config.proxy_headers and on._server.config.forwarded_allow_ips == ["10.0.0.0/8"]
        with pytest.raises(ConfigError, match="HIBIKI_HTTP_TRUSTED_PROXIES"):
            HttpServer(app(), sock, environ={"HIBIKI_HTTP_TRUSTED_PROXIES": "proxy.example"})
    finally:
        sock.close()
