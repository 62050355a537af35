"""Starting a service's parts in order and stopping them in reverse."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from hibiki.common.logging import get_logger


class Component(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_until_stopped(
    stop: asyncio.Event, components: Sequence[Component], ready: asyncio.Event | None = None, **ready_info: object
) -> None:
    """Start every component, log ``service_ready`` with ``ready_info`` and set ``ready``,
    wait for ``stop``, then stop what was started, newest first (also when a start fails)."""
    started: list[Component] = []
    try:
        for component in components:
            await component.start()
            started.append(component)
        get_logger().info("service_ready", **ready_info)
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        for component in reversed(started):
            try:
                await component.stop()
            except Exception:
                get_logger().exception("component_stop_failed", component=type(component).__name__)


class NatsComponent:
    """Holds a NATS connection made elsewhere; drains it on stop."""

    def __init__(self, connection: object) -> None:
        self.connection = connection

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        drain = getattr(self.connection, "drain", None)
        if drain is not None and not getattr(self.connection, "is_closed", True):
            await drain()
