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


class DirectoryServer:
    """A tiny mod_xml_curl endpoint: ``answer(fields)`` gives the document for each POST (None
    = FreeSWITCH's "not found"); every request is kept as (head, body, decoded fields)."""

    NOT_FOUND = (b'<document type="freeswitch/xml"><section name="result"><result status="not found"/>'
                 b'</section></document>')

    def __init__(self, answer) -> None:
        self.answer = answer
        self.requests: list[tuple[bytes, bytes, list[tuple[str, str]]]] = []
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fsapi"

    async def __aenter__(self) -> "DirectoryServer":
        from fsemu.urlencode import decode_form

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            head = await r.readuntil(b"\r\n\r\n")
            clen = int([ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0].split(b":")[1])
            body = await r.readexactly(clen)
            fields = decode_form(body)
            self.requests.append((head, body, fields))
            doc = self.answer(dict(fields))
            payload = doc.encode() if isinstance(doc, str) else (doc or self.NOT_FOUND)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
            await w.drain()
            w.close()
        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    def fields(self, action: str) -> list[list[tuple[str, str]]]:
        return [f for _, _, f in self.requests if dict(f).get("action") == action]
