"""Every tenant's board, restored on first use, fed by the event stream, watched by the pages.

A tenant's board is restored (``restore``) the first time an event or a reader names it; events
that arrive meanwhile wait and are applied after. Readers get a snapshot (:func:`snapshot`) and
watchers a new one within ``push_interval`` of each change (changes are coalesced), or the same one
again every ``heartbeat`` seconds. The ACD's configuration (queues' thresholds, agents' queues) is
read again every ``resync`` seconds; a board whose restore could not reach the ACD asks it again
every ``retry`` seconds until it answers (its agents' and waiting calls' state, then).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from hibiki.analytics.wallboard import model as m
from hibiki.analytics.wallboard.restore import AcdState, History, apply_acd, load_acd, restore_history
from hibiki.common.logging import get_logger

log = get_logger("hibiki.analytics.wallboard")
Json = dict[str, Any]


def snapshot(board: m.Board, now: float, queue_id: str | None = None) -> Json:
    """The board as the API and the page show it (times are epoch seconds; durations seconds)."""
    figures = board.figures(now, queue_id)
    out: Json = {
        "tenant": board.tenant, "queue": queue_id, "generated_at": round(now, 3), "timezone": board.timezone,
        "day_start": board.day_start(now),
        "service_level_seconds": board.threshold(queue_id) if queue_id is not None else _common(board),
        "calls": _calls(figures, now), "agents": board.agent_counts(queue_id),
    }
    if queue_id is None:
        each = board.figures_by_queue(now)
        out["queues"] = [{"queue": q, "service_level_seconds": board.threshold(q),
                          "calls": _calls(each[q], now), "agents": board.agent_counts(q)}
                         for q in sorted(each)]
    return out


def _common(board: m.Board) -> float | None:
    """The tenant's threshold when every queue has the same one (else each queue says its own)."""
    thresholds = {board.threshold(q) for q in board.queues}
    return thresholds.pop() if len(thresholds) == 1 else None


def _calls(f: m.CallFigures, now: float) -> Json:
    return {"offered": f.offered, "answered": f.answered, "abandoned": f.abandoned, "timed_out": f.timed_out,
            "cancelled": f.cancelled, "node_lost": f.node_lost, "overflowed": f.overflowed, "waiting": f.waiting,
            "answered_in_target": f.answered_in_target, "answer_rate": f.answer_rate,
            "service_level": f.service_level, "average_handle_seconds": f.average_handle_seconds,
            "oldest_waiting_since": f.oldest_waiting_since, "longest_wait_seconds": round(f.longest_wait(now), 3)}


class Wallboards:
    def __init__(self, acd: AcdState, history: History, *, timezone: str = "Asia/Tokyo",
                 push_interval: float = 0.25, heartbeat: float = 15.0, resync: float = 60.0, retry: float = 2.0,
                 restores: int = 8,
                 clock: Callable[[], float] = time.time) -> None:
        self._acd, self._history, self._timezone, self._clock = acd, history, timezone, clock
        self.push_interval, self.heartbeat, self.resync, self.retry = push_interval, heartbeat, resync, retry
        self._acd_missing: set[str] = set()       # boards restored without the ACD's state
        self._cache: dict[tuple[str, str | None], tuple[int, float, Json]] = {}
        self._pending: dict[str, list[m.Event]] = {}      # events of boards being restored
        self._restoring = asyncio.Semaphore(restores)    # restores at once (after a start: every tenant)
        self._boards: dict[str, m.Board] = {}
        self._loading: dict[str, asyncio.Task[m.Board]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._versions: dict[str, int] = {}
        self._closing = asyncio.Event()
        self._resync_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # -- lifecycle (a Component of the service) --
    async def start(self) -> None:
        self._resync_task = asyncio.create_task(self._resync_loop())

    async def stop(self) -> None:
        self._closing.set()
        for event in self._changed.values():
            event.set()
        for task in [*self._background, *([self._resync_task] if self._resync_task else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
        """Today's stored events, then what arrived meanwhile: the board is readable from then on;
        the ACD's present state follows (a slow or absent ACD delays nobody)."""
        board = m.Board(tenant, self._timezone)
        started = time.monotonic()
        async with self._restoring:
            await restore_history(board, tenant, self._history, self._clock())
        for event in self._pending.pop(tenant, []):
            board.apply(event)
        self._boards[tenant] = board
        self._loading.pop(tenant, None)
        self._touch(tenant)
        log.info("wallboard_restored", tenant=tenant, calls=len(board.calls), seconds=round(time.monotonic() - started, 3))
        task = asyncio.create_task(self._restore_acd(tenant, board))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return board

    async def _restore_acd(self, tenant: str, board: m.Board) -> None:
        view = await load_acd(self._acd, tenant)
        if view is None:
            self._acd_missing.add(tenant)       # asked again every ``retry`` seconds
            return
        apply_acd(board, view)
        self._touch(tenant)
        log.info("wallboard_acd_state_restored", tenant=tenant, agents=len(board.agents))

    async def apply(self, tenant: str, events: list[m.Event]) -> None:
        """Events of a tenant whose board is being restored wait for it; the feed never does (one
        slow restore must not hold up every other tenant's events)."""
        board = self._boards.get(tenant)
        if board is None:
            self._pending.setdefault(tenant, []).extend(events)
            if tenant not in self._loading:
                self._loading[tenant] = asyncio.create_task(self._restore(tenant))
            return
        for event in events:
            board.apply(event)
        self._touch(tenant)

    def _touch(self, tenant: str) -> None:
        self._versions[tenant] = self._versions.get(tenant, 0) + 1
        changed = self._changed.pop(tenant, None)
        if changed is not None:
            changed.set()

    async def snapshot(self, tenant: str, queue_id: str | None = None) -> Json:
        """The board now; every reader of the same view within ``push_interval`` and with no change
        between shares one computation (a wall of displays costs what one does)."""
        board = await self.board(tenant)
        version, started = self._versions.get(tenant, 0), time.monotonic()
        cached = self._cache.get((tenant, queue_id))
        if cached is not None and cached[0] == version and started - cached[1] < self.push_interval:
            return cached[2]
        now = self._clock()
        board.prune(now)
        out = snapshot(board, now, queue_id)
        if queue_id is None or queue_id in board.queues:     # a reader's made-up queue names are not kept
            self._cache[(tenant, queue_id)] = (version, started, out)
        return out

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
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.retry)
            due = time.monotonic() - last >= self.resync
            if due:
                last = time.monotonic()
            for tenant, board in list(self._boards.items()):
                missing = tenant in self._acd_missing
                if not (due or missing):
                    continue
                view = await load_acd(self._acd, tenant, attempts=1, present=missing)
                if view is None:
                    continue
                if missing:
                    apply_acd(board, view)
                    self._acd_missing.discard(tenant)
                    log.info("wallboard_acd_state_restored", tenant=tenant)
                else:
                    board.configure(view.thresholds, view.agents)
                self._touch(tenant)
