"""Issue 10, item 14, replayed: bodies used to be read whole before the limit was checked (8 parallel
64 MiB POSTs took a service from 94 to 599 MB). Every service's HTTP bootstrap now limits bodies
while they are read: a declared ``Content-Length`` over the limit is refused before a byte is kept,
a chunked body as soon as it passes the limit (413 ``too-large``). Each service runs as its own
process (``hibiki serve``); the test reads its peak resident memory (``VmHWM``) before and after.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.stack.ports import wait_for_port
from support.servers import NatsServer, free_port

pytestmark = pytest.mark.slow
MIB = 1024 * 1024
CHUNK = b"{" * MIB                        # one buffer sent again and again: the client stays small
# (method, path) of a route that reads a JSON body; recording and analytics have none yet (405: not read)
SERVICES = {"directory": ("POST", "/api/v1/tenants"), "acd": ("PUT", "/api/v1/tenants/t1/queues/q1"),
            "callcontrol": ("POST", "/api/v1/tenants/t1/prompts/speak"), "recording": ("POST", "/api/v1/info"),
            "analytics": ("POST", "/api/v1/tenants/t1/cdr/count")}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A NATS of this test's own: on the session's, analytics' new durable consumer reads every earlier
    test's events while the posts are measured, and its peak memory is not the posts' (+48 MiB in a full run)."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def service(request: pytest.FixtureRequest, tmp_path: Path, nats_server: Any) -> Iterator[tuple[str, int, int, str]]:
    name = request.param
    port, secret = free_port(), secrets.token_urlsafe(48)
    env = {**os.environ, "HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url, "HIBIKI_AUTH_SECRET": secret,
           f"HIBIKI_{name.upper()}_PORT": str(port), "HIBIKI_LOG_LEVEL": "warning",
           "HIBIKI_DIRECTORY_GRPC_PORT": "0", "HIBIKI_ACD_GRPC_PORT": "0", "HIBIKI_CALLCONTROL_ESL_PORT": "0"}
    log = (tmp_path / f"{name}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "serve", name], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 60)
        yield name, port, process.pid, TokenAuthority(secret.encode()).issue(Claims("tests", "service"))
    finally:
        process.terminate()
        process.wait(30)
        log.close()


async def big_post(client: httpx.AsyncClient, method: str, url: str, declared: bool) -> int:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield CHUNK
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(64 * MIB)
    try:
        reply = await client.request(method, url, content=body(), headers=headers)
    except httpx.TransportError:
        return 0           # the server closed the connection on the rest of the body: refused too
    return reply.status_code


@pytest.mark.parametrize("service", list(SERVICES), indirect=True)
async def test_eight_parallel_64_mib_posts_leave_memory_flat(service: tuple[str, int, int, str]) -> None:
    name, port, pid, token = service
    method, path = SERVICES[name]
    url = f"http://127.0.0.1:{port}{path}"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        await client.get(f"http://127.0.0.1:{port}/healthz")
        await asyncio.sleep(0.5)
        before = peak_rss_mib(pid)
        started = time.monotonic()
        statuses = await asyncio.gather(*(big_post(client, method, url, declared=n % 2 == 0) for n in range(8)))
        took = time.monotonic() - started
        after = peak_rss_mib(pid)
        assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        small = await client.request(method, url, content=b"{" * 1000, headers={"Content-Type": "application/json"})
    print(f"\n{name}: 8 parallel 64 MiB POSTs (4 with Content-Length, 4 chunked) -> {statuses} in {took:.1f} s; "
          f"peak RSS {before:.0f} -> {after:.0f} MiB (+{after - before:.1f})")
    refused = (413, 0, 405) if name in ("recording", "analytics") else (413, 0)
    assert all(s in refused for s in statuses) and statuses.count(413) >= 4
    assert after - before < 32
    assert small.status_code != 413      # a small body still reaches the route (which may refuse it as JSON)
