"""An ACD with the directory it resolves logins' devices through, for a test: the tenant with
users ``seat-1`` (2001) and ``seat-2`` (2002), a queue ``q`` and agents ``a1``, ``a2`` in it."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from hibiki.acd.app import main as acd_main
from hibiki.acd.config import AcdConfig
from hibiki.common.auth import Claims, TokenAuthority
from support.directory import directory_config, running_directory
from support.servers import free_port, running


@contextlib.asynccontextmanager
async def acd_with_directory(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
                             tenant: str) -> AsyncIterator[tuple[AcdConfig, str]]:
    directory = directory_config(tmp_path / "directory", nats_server)
    env = {"HIBIKI_DATA_DIR": str(tmp_path / "acd"), "HIBIKI_NATS_URL": nats_server.url}
    acd = dataclasses.replace(AcdConfig.from_env(env), port=free_port(), grpc_port=free_port(),
                              directory_grpc=f"127.0.0.1:{directory.grpc_port}")
    token = authority.issue(Claims("setup", "service"))
    async with running_directory(directory, nats_client, authority, tenant) as admin, running(acd_main, acd), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{acd.port}/api/v1/tenants/{tenant}",
                              headers={"Authorization": f"Bearer {token}"}) as http:
        await admin.post("/api/v1/tenants", {"id": tenant, "domain": f"{tenant}.example.jp"})
        for seat, extension in (("seat-1", "2001"), ("seat-2", "2002")):
            await admin.post(f"/api/v1/tenants/{tenant}/users", {"username": seat, "extension": extension})
        for path, body in (("/queues/q", {}), ("/agents/a1", {"queues": ["q"]}), ("/agents/a2", {"queues": ["q"]})):
            assert (await http.put(path, json=body)).status_code == 201
        yield acd, f"127.0.0.1:{directory.grpc_port}"
