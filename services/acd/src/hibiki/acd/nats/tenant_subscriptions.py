"""Subscriptions to some of one tenant's subjects, opened before a first read and released
together: the base of the pages' live feeds (the agent desktop's and the supervisor's), so that
nothing published between the subscription and the read is missed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from nats.aio.client import Client

T = TypeVar("T")


class TenantSubscriptions:
    def __init__(self, nc: Client, tenant: str) -> None:
        self._nc, self.tenant = nc, tenant
        self._subs: list[Any] = []

    async def _received(self, msg: Any) -> None:
        raise NotImplementedError

    async def subscribe_then(self, subjects: Iterable[str], read: Callable[[], Awaitable[T]]) -> T:
        """Subscribe to ``hibiki.<tenant>.<subject>`` for each subject, then ``read()``; on any
        failure the subscriptions are released and the failure raised."""
        try:
            for subject in subjects:
                self._subs.append(await self._nc.subscribe(f"hibiki.{self.tenant}.{subject}", cb=self._received))
            return await read()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        subs, self._subs = self._subs, []
        for sub in subs:
            try:
                await sub.unsubscribe()
            except Exception:  # noqa: BLE001 - the connection may be gone; nothing to release then
                pass
