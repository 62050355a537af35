"""Expected wait for a caller's announcements: position x mean handle time / agents serving.

The mean handle time of a queue is an exponential moving average of the talk times of its
calls (from ``CallEnded``), starting at ``START_SECONDS``; it lives in the owner's memory
(a new owner starts again from the default).
"""

from __future__ import annotations

START_SECONDS = 120.0
ALPHA = 0.2


def expected_wait_seconds(position: int, mean_handle_seconds: float, agents: int) -> float:
    """0 for a call not waiting (position 0); grows with the position, shrinks with agents."""
    if position <= 0:
        return 0.0
    return position * max(0.0, mean_handle_seconds) / max(1, agents)


class HandleTimes:
    """Mean talk time per queue (seconds)."""

    def __init__(self, start: float = START_SECONDS, alpha: float = ALPHA) -> None:
        self._start, self._alpha = start, alpha
        self._means: dict[str, float] = {}

    def mean(self, queue_id: str) -> float:
        return self._means.get(queue_id, self._start)

    def observe(self, queue_id: str, talked: float) -> None:
        if talked < 0:
            return
        previous = self.mean(queue_id)
        self._means[queue_id] = previous + self._alpha * (talked - previous)
