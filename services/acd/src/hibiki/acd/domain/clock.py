"""The machine's own time: ``tick(now)`` fires the timers that are due (offer timeouts, overflow,
maximum wait, wrap-up limit; see ``timers``), ``next_deadline()`` says when it next has work.
"""

from __future__ import annotations

from hibiki.acd.domain.core import OFFERED, WAITING, Core
from hibiki.acd.domain.enums import LeaveReason
from hibiki.acd.domain.events import Event
from hibiki.acd.domain.timers import Timer, TimerKind


class Clock(Core):
    def tick(self, now: float) -> list[Event]:
        """Fire every timer due at or before ``now``, in deadline order, each at its own time."""
        events: list[Event] = []
        timers = self._timers
        while (top := timers.peek()) is not None and top[0] <= now:
            timer = timers.pop()
            if self._live(timer):
                self._fire(timer, events)
        return events

    def next_deadline(self) -> float | None:
        """When ``tick`` next has something to do; None: nothing until the next command."""
        timers = self._timers
        while (top := timers.peek()) is not None:
            if self._live(top):
                return top[0]
            timers.pop()
        return None

    def _live(self, timer: Timer) -> bool:
        due, kind, key = timer
        if kind is TimerKind.WRAP_UP:
            agent = self._agents.get(key)
            return agent is not None and bool(agent.wrap_call) and agent.wrap_up_until == due
        call = self._calls.get(key)
        if call is None:
            return False
        if kind is TimerKind.OFFER:
            return call.state is OFFERED and call.offer_deadline == due
        if kind is TimerKind.OVERFLOW:
            return call.state is WAITING and call.overflow_at == due
        return call.state is WAITING and call.max_wait_at == due

    def _fire(self, timer: Timer, events: list[Event]) -> None:
        """A live timer, handled at its own time (not the tick's: a late tick changes nothing)."""
        due, kind, key = timer
        if kind is TimerKind.WRAP_UP:
            self._wrap_up_expired(self._agents[key], due, events)
        elif kind is TimerKind.OFFER:
            call = self._calls[key]
            self._missed(call, list(call.offered_to), "no answer", due, events)
        elif kind is TimerKind.OVERFLOW:
            self._overflow(self._calls[key], due, events)
        else:
            self._leave(self._calls[key], LeaveReason.MAX_WAIT, due, events)
