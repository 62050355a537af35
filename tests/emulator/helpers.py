"""Test helpers: a tiny controller (outbound ESL server) and HTTP capture server."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fsemu.esl_wire import EslMessage, read_message


@dataclass
class Controller:
    """Accepts the emulator's outbound socket connections."""

    server: asyncio.base_events.Server | None = None
    port: int = 0
    conns: "asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]" = field(default_factory=asyncio.Queue)

    async def start(self, port: int = 0) -> "Controller":
        async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self.conns.put((r, w))
        self.server = await asyncio.start_server(on_conn, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def accept(self, timeout: float = 5) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(self.conns.get(), timeout)

    async def close(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()


async def send(w: asyncio.StreamWriter, *lines: str) -> None:
    w.write(("\n".join(lines) + "\n\n").encode())
    await w.drain()


async def recv(r: asyncio.StreamReader, timeout: float = 5) -> EslMessage:
    return await asyncio.wait_for(read_message(r), timeout)


async def recv_until(r: asyncio.StreamReader, pred, timeout: float = 5) -> list[EslMessage]:
    out: list[EslMessage] = []
    async def loop() -> None:
        while True:
            m = await read_message(r)
            out.append(m)
            if pred(m):
                return
    await asyncio.wait_for(loop(), timeout)
    return out


def event_name(m: EslMessage) -> str | None:
    if m.content_type and m.content_type.startswith("text/event-plain"):
        for line in m.body.decode().split("\n"):
            if line.startswith("Event-Name: "):
                return line[12:]
    return None
