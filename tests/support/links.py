"""A TCP link between a client and a real server, for tests that need the network to misbehave:
answers held back ``delay`` seconds (a slow or distant server), every connection cut at once
(``cut``), and, for HTTP/2 clients such as gRPC, the requests that went through counted
(one HEADERS frame from the client per request: ``requests``, ``arrived``).

Chunks keep their order and each waits ``delay`` from when it arrived, so the delay is
latency, not a slower line."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS = 0x1


class _Frames:
    """Counts the HEADERS frames of one client's HTTP/2 stream (nothing for other protocols)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._preface_seen = False
        self._dead = False

    def feed(self, data: bytes) -> int:
        if self._dead:
            return 0
        self._buffer += data
        if not self._preface_seen:
            if len(self._buffer) < len(PREFACE):
                self._dead = not PREFACE.startswith(self._buffer)
                return 0
            if not self._buffer.startswith(PREFACE):
                self._dead = True
                return 0
            self._preface_seen, self._buffer = True, self._buffer[len(PREFACE):]
        found = 0
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            if len(self._buffer) < 9 + length:
                break
            found += self._buffer[3] == HEADERS
            self._buffer = self._buffer[9 + length:]
        return found


class Link:
    """Listens on ``address`` and forwards every connection to ``upstream`` (host, port)."""

    def __init__(self, upstream_host: str, upstream_port: int, delay: float = 0.0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.requests = 0
        self.arrived = asyncio.Event()          # set at each request (clear it to wait for the next)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[None]] = set()   # one per client, ends when both sides close
        self._senders: set[asyncio.Task[None]] = set()       # the answers on their way to each client

    @property
    def port(self) -> int:
        assert self._server is not None, "the link is not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def cut(self) -> None:
        """Break every connection now (as a dead network path would, without a goodbye)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for sender in list(self._senders):
            sender.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                writer.transport.abort()
                return
            self._writers.add(up_writer)
            await asyncio.gather(self._forward(reader, up_writer), self._answer(up_reader, writer))
        finally:
            self._connections.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = _Frames()
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if new := frames.feed(data):
                    self.requests += new
                    self.arrived.set()
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while True:
                    due, data = await queue.get()
                    if not data:
                        break
                    await asyncio.sleep(max(due - loop.time(), 0))
                    writer.write(data)
                    await writer.drain()
            writer.close()

        sender = asyncio.create_task(deliver())
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)
        try:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    queue.put_nowait((loop.time() + self.delay, data))
            queue.put_nowait((loop.time() + self.delay, b""))
            await asyncio.wait({sender})      # delivered, or cancelled by cut()
        finally:
            sender.cancel()


@contextlib.asynccontextmanager
async def link(upstream: str, delay: float = 0.0) -> AsyncIterator[Link]:
    """A :class:`Link` to ``upstream`` ("host:port") until the block ends."""
    host, port = upstream.rsplit(":", 1)
    proxy = Link(host, int(port), delay)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()
