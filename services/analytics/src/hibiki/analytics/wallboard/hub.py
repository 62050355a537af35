"""Every tenant's board, restored on first use, fed by the event stream, watched by the pages.

A tenant's board is restored (``restore``) the first time an event or a reader names it; events
that arrive meanwhile wait and are applied after. Readers get a snapshot (:func:`snapshot`) and
watchers a new one within ``push_interval`` of each change (changes are coalesced), or the same one
again every ``heartbeat`` seconds. The ACD's configuration (queues' thresholds, agents' queues) is
read again every ``resync`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from hibiki.analytics.wallboard import model as m
from hibiki.analytics.wallboard.restore import AcdState, History, restore
from hibiki.common.logging import get_logger

log = get_logger("hibiki.analytics.wallboard")
Json = dict[str, Any]


def snapshot(board: m.Board, now: float, queue_id: str | None = None) -> Json:
    """The board as the API and the page show it (times are epoch seconds; durations seconds)."""
    figures = board.figures(now, queue_id)
    out: Json = {
        "tenant": board.tenant, "queue": queue_id, "generated_at": round(now, 3), "timezone": board.timezone,
        "day_start": board.day_start(now),
        "service_level_seconds": board.threshold(queue_id) if queue_id is not None else None,
        "calls": _calls(figures, now), "agents": board.agent_counts(queue_id),
    }
    if queue_id is None:
        out["queues"] = [{"queue": q, "service_level_seconds": board.threshold(q),
                          "calls": _calls(board.figures(now, q), now), "agents": board.agent_counts(q)}
                         for q in sorted(board.queues)]
    return out


def _calls(f: m.CallFigures, now: float) -> Json:
    return {"offered": f.offered, "answered": f.answered, "abandoned": f.abandoned, "timed_out": f.timed_out,
            "cancelled": f.cancelled, "overflowed": f.overflowed, "waiting": f.waiting,
            "answered_in_target": f.answered_in_target, "answer_rate": f.answer_rate,
            "service_level": f.service_level, "average_handle_seconds": f.average_handle_seconds,
            "oldest_waiting_since": f.oldest_waiting_since, "longest_wait_seconds": round(f.longest_wait(now), 3)}


class Wallboards:
    def __init__(self, acd: AcdState, history: History, *, timezone: str = "Asia/Tokyo",
                 push_interval: float = 0.25, heartbeat: float = 15.0, resync: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._acd, self._history, self._timezone, self._clock = acd, history, timezone, clock
        self.push_interval, self.heartbeat, self.resync = push_interval, heartbeat, resync
        self._boards: dict[str, m.Board] = {}
        self._loading: dict[str, asyncio.Task[m.Board]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._versions: dict[str, int] = {}
        self._closing = asyncio.Event()
        self._resync_task: asyncio.Task[None] | None = None

    # -- lifecycle (a Component of the service) --
    async def start(self) -> None:
        self._resync_task = asyncio.create_task(self._resync_loop())

    async def stop(self) -> None:
        self._closing.set()
        for event in self._changed.values():
            event.set()
        if self._resync_task is not None:
            self._resync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync_task

    # -- boards --
    async def board(self, tenant: str) -> m.Board:
        board = self._boards.get(tenant)
        if board is not None:
            return board
        task = self._loading.get(tenant)
        if task is None:
            task = asyncio.create_task(self._restore(tenant))
            self._loading[tenant] = task
        return await asyncio.shield(task)

    async def _restore(self, tenant: str) -> m.Board:
        board = m.Board(tenant, self._timezone)
        started = time.monotonic()
        await restore(board, tenant, self._acd, self._history, self._clock())
        self._boards[tenant] = board
        self._loading.pop(tenant, None)
        log.info("wallboard_restored", tenant=tenant, calls=len(board.calls), agents=len(board.agents),
                 seconds=round(time.monotonic() - started, 3))
        self._touch(tenant)
        return board

    async def apply(self, tenant: str, events: list[m.Event]) -> None:
        board = await self.board(tenant)
        for event in events:
            board.apply(event)
        self._touch(tenant)

    def _touch(self, tenant: str) -> None:
        self._versions[tenant] = self._versions.get(tenant, 0) + 1
        changed = self._changed.pop(tenant, None)
        if changed is not None:
            changed.set()

    async def snapshot(self, tenant: str, queue_id: str | None = None) -> Json:
        board = await self.board(tenant)
        now = self._clock()
        board.prune(now)
        return snapshot(board, now, queue_id)

    async def watch(self, tenant: str, queue_id: str | None = None) -> AsyncIterator[Json]:
        """A snapshot now, then one after every change (at most one per ``push_interval``) and
        the same again every ``heartbeat`` seconds; ends when the service stops."""
        while not self._closing.is_set():
            version = self._versions.get(tenant, 0)
            yield await self.snapshot(tenant, queue_id)
            await asyncio.sleep(self.push_interval)
            if self._versions.get(tenant, 0) != version:
                continue
            changed = self._changed.setdefault(tenant, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), self.heartbeat)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            for tenant, board in list(self._boards.items()):
                try:
                    view = await self._acd.load(tenant)
                except Exception as exc:
                    log.warning("wallboard_resync_failed", tenant=tenant, error=str(exc) or type(exc).__name__)
                    continue
                board.configure(view.thresholds, view.agents)
                self._touch(tenant)
