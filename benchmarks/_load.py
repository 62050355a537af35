"""An HTTP/1.1 load generator on raw asyncio protocols: N keep-alive connections, one request
in flight on each.

- closed loop (``rate=None``): each connection sends its next request as soon as the answer is
  in, so the server runs flat out; by Little's law latency is then about N / throughput;
- paced (``rate`` requests/s): requests are due on a fixed schedule whether or not the server
  keeps up; a request waiting for a free connection waits on the clock, and its latency counts
  from when it was due (no coordinated omission).

Only answers completed inside the measurement window count; the warm-up before it does not.

The client acknowledges every answer at once (``TCP_QUICKACK``): a server that writes headers
and body in two segments without ``TCP_NODELAY`` would otherwise wait for Linux's delayed ACK
(about 40 ms) on every keep-alive answer, and the figures would measure that timer instead of
the server. :func:`delayed_ack_stall_ms` tells whether the server has that problem.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections import Counter, deque
from dataclasses import dataclass, field

NOT_FOUND, EXTENSION = b'status="not found"', b'<extension name="'
DRAIN_SECONDS = 5.0


@dataclass
class Result:
    seconds: float
    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    client_cpu: float = 0.0            # share of one core the load generator used

    @property
    def rate(self) -> float:
        return len(self.latencies_ns) / self.seconds

    def percentile_ms(self, p: float) -> float:
        if not self.latencies_ns:
            return float("nan")
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] / 1e6


def outcome(body: bytes) -> str:
    """"not found", the name of the dialplan extension answered, or "user" for a directory entry."""
    if NOT_FOUND in body:
        return "not found"
    at = body.find(EXTENSION)
    if at < 0:
        return "user"
    at += len(EXTENSION)
    return body[at:body.find(b'"', at)].decode(errors="replace")


class _Connection(asyncio.Protocol):
    def __init__(self, load: Load) -> None:
        self.load, self.buffer = load, b""
        self.transport: asyncio.Transport | None = None
        self.kind, self.due_ns, self.busy = "", 0, False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.sock = transport.get_extra_info("socket")

    def send(self, kind: str, request: bytes, due_ns: int) -> None:
        self.kind, self.due_ns, self.busy = kind, due_ns, True
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)  # not sticky: again after each read
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        body, self.buffer = self.buffer[end + 4:end + 4 + length], self.buffer[end + 4 + length:]
        self.busy = False
        self.load.done(self, int(head[9:12]), body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self)


class Load:
    def __init__(self, requests: list[tuple[str, bytes]], connections: int, rate: float | None = None) -> None:
        self.requests, self.connections, self.rate = requests, connections, rate
        self._next = 0
        self._idle: deque[_Connection] = deque()
        self._backlog: deque[int] = deque()          # due times of paced requests waiting for a connection
        self._open: set[_Connection] = set()
        self._window = (0, 0)                        # measurement window, perf_counter_ns
        self._sending = True
        self._result = Result(0.0)
        self._port = 0

    async def run(self, port: int, seconds: float, warmup: float) -> Result:
        self._port = port
        for _ in range(self.connections):
            await self._connect()
        start = time.perf_counter_ns()
        measure_from = start + int(warmup * 1e9)
        self._window = (measure_from, measure_from + int(seconds * 1e9))
        self._result = Result(seconds)
        ticker = asyncio.create_task(self._pace(start) if self.rate else self._flat_out())
        await asyncio.sleep(max(0.0, (measure_from - time.perf_counter_ns()) / 1e9))
        cpu_from = time.process_time()
        await asyncio.sleep(max(0.0, (self._window[1] - time.perf_counter_ns()) / 1e9))
        self._result.client_cpu = (time.process_time() - cpu_from) / seconds
        self._sending = False
        ticker.cancel()
        deadline = time.monotonic() + DRAIN_SECONDS
        while any(c.busy for c in self._open) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._result.errors += sum(c.busy for c in self._open) + len(self._backlog)  # never answered
        for c in list(self._open):
            if c.transport is not None:
                c.transport.close()
        return self._result

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: _Connection(self), "127.0.0.1", self._port)
        self._open.add(conn)
        self._idle.append(conn)

    async def _flat_out(self) -> None:
        while self._idle:
            self._send(self._idle.popleft(), time.perf_counter_ns())

    async def _pace(self, start: int) -> None:
        assert self.rate
        interval, issued = 1e9 / self.rate, 0
        while True:
            now = time.perf_counter_ns()
            while start + issued * interval <= now:
                due = int(start + issued * interval)
                issued += 1
                if self._idle:
                    self._send(self._idle.popleft(), due)
                else:
                    self._backlog.append(due)
            await asyncio.sleep(0.0005)

    def _send(self, conn: _Connection, due_ns: int) -> None:
        kind, request = self.requests[self._next]
        self._next = (self._next + 1) % len(self.requests)
        conn.send(kind, request, due_ns)

    def _in_window(self, now: int) -> bool:
        return self._window[0] <= now < self._window[1]

    def done(self, conn: _Connection, status: int, body: bytes) -> None:
        now = time.perf_counter_ns()
        if self._in_window(now):
            if status != 200:
                self._result.errors += 1
            else:
                self._result.latencies_ns.append(now - conn.due_ns)
                self._result.outcomes[(conn.kind, outcome(body))] += 1
        if not self._sending:
            return
        if self.rate is None:
            self._send(conn, now)
        elif self._backlog:
            self._send(conn, self._backlog.popleft())
        else:
            self._idle.append(conn)

    def lost(self, conn: _Connection) -> None:
        self._open.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        if conn.busy and self._sending:
            self._result.errors += 1
            conn.busy = False
        if self._sending:
            asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while self._sending:
            try:
                await self._connect()
            except OSError:
                await asyncio.sleep(0.1)
                continue
            if self.rate is None:
                await self._flat_out()
            return


def delayed_ack_stall_ms(port: int, request: bytes, count: int = 5) -> float:
    """Median time of ``count`` answers on one keep-alive connection that ACKs lazily, as most clients do."""
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for _ in range(count + 1):
            started, data = time.perf_counter(), b""
            s.sendall(request)
            while b"</document>" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times[1:])   # the first answer rides on the connection's quick-ACK start
