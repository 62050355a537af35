"""Real components for tests: a nats-server with JetStream per test session, services
run in-process on free ports. Tests wait on readiness events, never on sleeps."""

from __future__ import annotations

import asyncio
import random
import contextlib
import secrets
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.stack.nats_server import nats_server_command
from hibiki.stack.ports import wait_for_port

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures" / "freeswitch"


_handed_out: set[int] = set()


def free_port() -> int:
    """A free TCP port below the kernel's ephemeral range (so no outgoing connection of
    another test takes it between now and its use), never the same one twice per run."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


class NatsServer:
    """nats-server -js on a free port with its own store directory."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(nats_server_command("127.0.0.1", self.port, self.store),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nats_client(nats_server: NatsServer) -> AsyncIterator[Any]:
    nc = await nats.connect(nats_server.url)
    yield nc
    await nc.drain()


@pytest.fixture
def authority(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> TokenAuthority:
    """A fresh shared secret in the environment (as services read it) and its authority."""
    secret = secrets.token_urlsafe(48)
    monkeypatch.setenv("HIBIKI_AUTH_SECRET", secret)
    monkeypatch.setenv("HIBIKI_DATA_DIR", str(tmp_path / "var"))
    return TokenAuthority(secret.encode())


@pytest.fixture
def service_token(authority: TokenAuthority) -> str:
    return authority.issue(Claims("tests", "service"))


Main = Callable[..., Awaitable[None]]


@contextlib.asynccontextmanager
async def running(main: Main, config: Any) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``main(stop, config, ready)`` as a task until the block ends."""
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(main(stop, config, ready))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()  # raises what made the service fail to start
        raise RuntimeError("service stopped before it was ready")
    if waiter not in done:
        task.cancel()
        raise TimeoutError("service not ready within 30 s")
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
