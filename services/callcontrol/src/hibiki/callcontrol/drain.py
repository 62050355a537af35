"""Draining on SIGTERM (updates without downtime, issue 16).

The last component to start and so the first to stop: when the service is told to stop it
closes the outbound event socket's listener (``/readyz`` turns 503: ``accepting_calls`` false),
so new calls reach the replica next to it (a Kubernetes Service's ready pods, or the process
sharing the address with ``HIBIKI_CALLCONTROL_ESL_REUSEPORT=on``), and waits until the calls in
progress have ended, at most ``HIBIKI_CALLCONTROL_DRAIN_SECONDS``. Only then do the other
components stop; a call still there is handed back to its dialplan (``ActiveCalls``), never cut.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from hibiki.common.logging import get_logger

log = get_logger("hibiki.callcontrol.drain")


class Drainable(Protocol):
    sessions: int

    async def drain(self, timeout: float) -> int: ...


class Drain:
    def __init__(self, server: Drainable, seconds: float) -> None:
        self._server = server
        self._seconds = seconds

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        log.info("drain_started", calls=self._server.sessions, timeout_seconds=self._seconds,
                 action="no new calls; the calls in progress go on")
        left = await self._server.drain(self._seconds)
        waited = round(loop.time() - started, 1)
        if left:
            log.warning("drain_timed_out", calls=left, waited_seconds=waited,
                        action="handing the calls left back to their dialplan")
        else:
            log.info("drain_done", waited_seconds=waited)
