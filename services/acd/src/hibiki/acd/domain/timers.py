"""The deadlines the ACD acts on by itself, in one heap: ``tick(now)`` pops what is due.

Entries are ``(due, kind, key)``. Nothing is ever removed early: an entry is checked against
its record when it surfaces (the call's ``offer_deadline``, ``overflow_at``, ``max_wait_at``,
the agent's ``wrap_up_until``) and dropped when that no longer matches, so re-arming is a push
and cancelling is free. The order of equal deadlines is fixed by ``kind`` then ``key``, never by
insertion, so a machine restored from a snapshot fires the same timers in the same order.
Dead entries leave when their time comes: the heap holds at most the deadlines set within the
longest configured duration (maximum wait, overflow, offer timeout, wrap-up limit).
"""

from __future__ import annotations

import heapq
from enum import IntEnum


class TimerKind(IntEnum):
    WRAP_UP = 0      # key: agent id
    OFFER = 1        # key: call id
    MAX_WAIT = 2     # key: call id
    OVERFLOW = 3     # key: call id


Timer = tuple[float, TimerKind, str]


class Timers:
    __slots__ = ("heap",)

    def __init__(self) -> None:
        self.heap: list[Timer] = []

    def __len__(self) -> int:
        return len(self.heap)

    def push(self, due: float, kind: TimerKind, key: str) -> None:
        heapq.heappush(self.heap, (due, kind, key))

    def peek(self) -> Timer | None:
        return self.heap[0] if self.heap else None

    def pop(self) -> Timer:
        return heapq.heappop(self.heap)
