"""An async event handler for tests: keeps what it was given and waits for one that matches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

E = TypeVar("E")


class Recorder(Generic[E]):
    """Events a handler saw, and a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[E] = []
        self._arrived = asyncio.Event()

    async def __call__(self, event: E) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(self, predicate: Callable[[E], bool], timeout: float = 5.0) -> E:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._arrived.clear()
                await self._arrived.wait()
