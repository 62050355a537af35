"""Each service's OpenAPI document against the router it really runs: the service is started as
its ``main`` does, the starlette app it built is kept (the real ``build_app``, only remembered),
and every (path, method) that router serves must be in the document it answers, described (an
``ApiRoute`` with its ``Operation``, not marked ``x-hibiki-undocumented``), every ``$ref`` must
resolve, and every route behind the token check documents 401."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common import openapi
from hibiki.common.openapi import starlette_of
from hibiki.common.auth import Claims, TokenAuthority
from support.servers import NatsServer, free_port, running

HOST = "127.5.0.2"
SERVICES: dict[str, tuple[str, str, tuple[str, ...]]] = {   # service: (config module, config class, extra ports)
    "directory": ("hibiki.directory.config", "DirectoryConfig", ("grpc_port",)),
    "callcontrol": ("hibiki.callcontrol.config", "CallControlConfig", ("esl_port",)),
    "recording": ("hibiki.recording.config", "RecordingConfig", ()),
    "analytics": ("hibiki.analytics.config", "AnalyticsConfig", ()),
    "acd": ("hibiki.acd.config", "AcdConfig", ("grpc_port",)),
}

LOGIN = ("/api/v1/auth/login", "/api/v1/auth/totp", "/api/v1/auth/recovery")   # hibiki.directory.http.auth_api


@pytest.mark.parametrize("service", list(SERVICES))
async def test_the_document_lists_every_route_the_service_serves(
        service: str, tmp_path: Path, nats_server: NatsServer, authority: TokenAuthority,
        monkeypatch: pytest.MonkeyPatch) -> None:
    module, cls, ports = SERVICES[service]
    app_module = importlib.import_module(f"hibiki.{service}.app")
    settings = getattr(importlib.import_module(module), cls).from_env(
        {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url})
    config = dataclasses.replace(settings, host=HOST, port=free_port(), **{name: free_port() for name in ports})
    built: list[Any] = []
    real = app_module.build_app

    def keep(*args: Any, **kwargs: Any) -> Any:   # the real build_app; we only keep what it built
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(app_module, "build_app", keep)
    token = {"Authorization": "Bearer " + authority.issue(Claims("docs", "service"))}
    async with running(app_module.main, config), httpx.AsyncClient(base_url=f"http://{HOST}:{config.port}") as api:
        reply = await api.get(openapi.PATH, headers=token)
        assert (await api.get(openapi.PATH)).status_code == 401
    assert reply.status_code == 200, reply.text
    doc = reply.json()
    routes = {(path, method) for path, method, _ in openapi.walk(starlette_of(built[0]).routes)}
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    print(f"{service}: {len(routes)} routes served, {len(documented)} documented")
    assert routes == documented
    assert openapi.undocumented(starlette_of(built[0]).routes) == []
    assert not [(method, path) for path, item in doc["paths"].items() for method, op in item.items()
                if op.get("x-hibiki-undocumented")]
    assert openapi.dangling_refs(doc) == []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if path in ("/healthz", "/readyz", "/fsapi"):    # probes; FreeSWITCH's own allow-list and basic auth
                assert "security" not in op
            elif path in LOGIN:                                # the console login itself: no token yet
                assert "security" not in op and "429" in op["responses"], (method, path)
            elif "security" not in op:                         # a page: HTML without data (it asks the API)
                assert list(op["responses"]["200"]["content"]) == ["text/html"], (method, path)
            else:
                assert "security" in op and "401" in op["responses"], (method, path)
