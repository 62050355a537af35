"""Every event on NATS (``hibiki.>``) recorded in the background, for tests that check what the
stack announced: ``events.wait("hibiki.t1.call.answered")``."""

from __future__ import annotations

import asyncio
import fnmatch
import threading
import time
from dataclasses import dataclass
from typing import Any

import nats


@dataclass(frozen=True)
class Event:
    subject: str
    data: bytes
    at: float


class NatsEvents:
    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._started.wait(15) or self._error is not None:
            raise RuntimeError(f"cannot subscribe to {url}: {self._error}")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async def quiet(_: Exception) -> None:   # the stack may stop first: no tracebacks
                return None

            nc: Any = await nats.connect(self.url, max_reconnect_attempts=-1, error_cb=quiet)
        except Exception as exc:  # noqa: BLE001 - reported by the constructor
            self._error = exc
            self._started.set()
            return

        async def on_message(msg: Any) -> None:
            with self._cond:
                self.events.append(Event(msg.subject, bytes(msg.data), time.monotonic()))
                self._cond.notify_all()

        await nc.subscribe("hibiki.>", cb=on_message)
        await nc.flush()
        self._started.set()
        await self._stop.wait()
        await nc.close()

    def mark(self) -> int:
        """The position now: ``wait(..., after=mark)`` only looks at later events."""
        with self._cond:
            return len(self.events)

    def matching(self, pattern: str, after: int = 0) -> list[Event]:
        """Events whose subject matches the shell pattern (``hibiki.t1.call.*``)."""
        with self._cond:
            return [e for e in self.events[after:] if fnmatch.fnmatchcase(e.subject, pattern)]

    def wait(self, pattern: str, after: int = 0, timeout: float = 15.0, count: int = 1) -> list[Event]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events[after:] if fnmatch.fnmatchcase(e.subject, pattern)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({e.subject for e in self.events[after:]})
                    raise TimeoutError(f"{count} x {pattern} not seen within {timeout} s; seen: {seen}")
                self._cond.wait(remaining)

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
