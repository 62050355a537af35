"""switch_scheduler.c as the dialplan uses it: ``sched_transfer`` (``switch_ivr_schedule_transfer``,
group = the channel's UUID, the task id in ``last_sched_id``), ``sched_cancel [id|group]``
(mod_dptools.c) and the ``sched_del <id|group>`` API (mod_commands.c: ``+OK Deleted: N``).
Times are whole seconds as in FreeSWITCH (``+N`` from now); the emulator fires after N s."""
from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .session import CallSession


class Scheduler:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._tasks: dict[int, tuple[str, asyncio.TimerHandle]] = {}   # id -> (group, timer)

    def add(self, seconds: float, group: str, fn: Any) -> int:
        task_id = next(self._ids)

        def run() -> None:
            self._tasks.pop(task_id, None)
            fn()

        self._tasks[task_id] = (group, asyncio.get_running_loop().call_later(max(seconds, 0.0), run))
        return task_id

    def delete(self, what: str) -> int:
        """By task id (digits) or by group; how many were deleted."""
        if what.isdigit():
            found = [int(what)] if int(what) in self._tasks else []
        else:
            found = [i for i, (group, _) in self._tasks.items() if group == what]
        for task_id in found:
            self._tasks.pop(task_id)[1].cancel()
        return len(found)


async def app_sched_transfer(s: "CallSession", data: str) -> None:
    argv = data.split(" ", 3)
    if len(argv) < 2:
        return                                          # "Invalid Args"
    when = argv[0]
    seconds = float(when[1:]) if when.startswith("+") and when[1:].isdigit() else 0.0
    ext, dialplan, context = argv[1], argv[2] if len(argv) > 2 else "XML", argv[3] if len(argv) > 3 else None
    scheduler: Scheduler = s.emulator.scheduler

    def fire() -> None:
        if s.ch.up:
            s.transfer(ext, dialplan, context)

    task_id = scheduler.add(seconds, s.ch.uuid, fire)
    s.ch.set_var("last_sched_id", str(task_id))


async def app_sched_cancel(s: "CallSession", data: str) -> None:
    s.emulator.scheduler.delete(data.strip() or s.ch.uuid)
