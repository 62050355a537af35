"""Fixtures of the ACD service tests: a config per replica, a tenant per test (with its seats in
a real directory: the ACD resolves every login's device there), the tenant's events as they
reach NATS, and clients for HTTP and gRPC."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.message import Message

from hibiki.acd.config import AcdConfig
from hibiki.acd.v1 import acd_pb2_grpc
from hibiki.common.rpc import token_metadata
from hibiki.events.v1 import acd_pb2 as ev
from hibiki.events.v1 import agent_pb2
from support.directory import Directory, directory_config, running_directory
from support.servers import free_port

# The devices the tests log agents in with: users of the tenant in the directory (by username).
SEATS = ("seat-1", "seat-2", "seat-3", "d", "d1", "d2", "d-a1", "d-a2", "d-a3")

MESSAGES: dict[str, type[Message]] = {
    "acd.queued": ev.CallQueued, "acd.requeued": ev.CallRequeued, "acd.offered": ev.CallOffer,
    "acd.offer_missed": ev.OfferEnded, "acd.offer_released": ev.OfferEnded, "acd.answered": ev.QueueCallAnswered,
    "acd.overflowed": ev.CallOverflowed, "acd.left": ev.CallLeftQueue, "acd.ended": ev.QueueCallEnded,
    "agent.state_changed": agent_pb2.AgentStateChanged, "agent.wrap_up_expired": ev.WrapUpExpired,
    "agent.disposition_saved": agent_pb2.DispositionSaved,
}


@pytest.fixture
def tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def seats(tmp_path: Path, nats_server: Any, nats_client: Any, authority: Any,
                tenant: str) -> AsyncIterator[Directory]:
    """The directory, with the tenant and one user per seat in ``SEATS``."""
    config = directory_config(tmp_path / "directory", nats_server)
    async with running_directory(config, nats_client, authority, tenant) as directory:
        await directory.post("/api/v1/tenants", {"id": tenant, "domain": f"{tenant}.example.jp"})
        for seat in SEATS:
            await directory.post(f"/api/v1/tenants/{tenant}/users", {"username": seat})
        yield directory


@pytest.fixture
def make_config(tmp_path: Path, nats_server: Any, authority: Any, seats: Directory) -> Callable[..., AcdConfig]:
    def make(**overrides: Any) -> AcdConfig:
        base = AcdConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url})
        values: dict[str, Any] = {"port": free_port(), "grpc_port": free_port(), "offer_grace_seconds": 0.0,
                                  "replica_id": f"r-{uuid.uuid4().hex[:8]}", "lease_seconds": 10.0,
                                  "directory_grpc": seats.grpc_address}
        values.update(overrides)
        return dataclasses.replace(base, **values)
    return make


class Events:
    """Every event of one tenant, decoded, in arrival order; ``next`` awaits the next match."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.seen: list[tuple[str, Any]] = []
        self._cursor: dict[str, int] = {}
        self._changed = asyncio.Condition()

    async def received(self, msg: Any) -> None:
        name = msg.subject.removeprefix(f"hibiki.{self.tenant}.")
        cls = MESSAGES.get(name)
        if cls is not None:
            async with self._changed:
                self.seen.append((name, cls.FromString(msg.data)))
                self._changed.notify_all()

    def of(self, name: str) -> list[Any]:
        return [m for n, m in self.seen if n == name]

    async def next(self, name: str, match: Callable[[Any], bool] = lambda m: True, timeout: float = 10.0) -> Any:
        """The first event ``name`` after the last one ``next`` returned for that name."""
        async def find() -> Any:
            async with self._changed:
                while True:
                    start = self._cursor.get(name, 0)
                    for i in range(start, len(self.seen)):
                        n, m = self.seen[i]
                        if n == name and match(m):
                            self._cursor[name] = i + 1
                            return m
                    await self._changed.wait()
        return await asyncio.wait_for(find(), timeout)


@pytest.fixture
async def events(nats_client: Any, tenant: str) -> AsyncIterator[Events]:
    collector = Events(tenant)
    sub = await nats_client.subscribe(f"hibiki.{tenant}.>", cb=collector.received)
    await nats_client.flush()
    yield collector
    await sub.unsubscribe()


class Clients:
    """HTTP and gRPC to one running replica, with a token."""

    def __init__(self, config: AcdConfig, token: str) -> None:
        self.base = f"http://127.0.0.1:{config.port}"
        self.http = httpx.AsyncClient(base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=20)
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{config.grpc_port}")
        self.stub = acd_pb2_grpc.AcdServiceStub(self.channel)
        self.metadata = token_metadata(token)

    async def put(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        reply = await self.http.put(path, json=body)
        assert reply.status_code in (status, 200), reply.text
        return reply.json()

    async def close(self) -> None:
        await self.http.aclose()
        await self.channel.close()


@pytest.fixture
async def clients(service_token: str) -> AsyncIterator[Callable[[AcdConfig], Clients]]:
    made: list[Clients] = []

    def make(config: AcdConfig, token: str = service_token) -> Clients:
        made.append(Clients(config, token))
        return made[-1]
    yield make
    for c in made:
        await c.close()
