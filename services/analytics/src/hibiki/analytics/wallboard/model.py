"""The live wallboard's state (CC-07), pure: what the ACD's events say, counted per tenant and queue.

Fed with :class:`Entered` (acd.queued, and the target queue of acd.overflowed), :class:`Answered`
(acd.answered), :class:`Left` (acd.left; ``overflowed`` for the queue an overflow leaves),
:class:`Ended` (acd.ended) and :class:`AgentChanged` (agent.state_changed), each carrying the
moment it happened (epoch seconds). Every change is idempotent and keyed by the call (a record
per queue and call) or the agent, so a redelivered or replayed event, or one that arrives after
the state was restored from ClickHouse and the ACD, counts once. IVR test-mode calls never reach
the ACD and so never count.

Counted per day of the board's time zone (a call counts on the day it entered the queue; a call
still waiting at midnight stays on the board as waiting):

- offered: calls that entered the queue; answered; abandoned (the caller hung up); timed out
  (the queue's maximum wait); cancelled (taken away by callcontrol); node lost (its FreeSWITCH
  node was lost: ``acd.left`` reason ``node_lost``, told apart from cancelled by the event itself);
  overflowed (left for another queue; at the tenant level a call that overflowed counts once, by
  its last queue's outcome).
- answer rate: answered / calls no longer waiting, node-lost calls excepted (not the caller's doing
  nor the center's).
- service level: the ACD's own definition (``hibiki.acd.domain.queues.Counters.service_level``):
  answered within the queue's threshold out of every call that left the queue, calls abandoned
  within the threshold and node-lost calls excepted.
- average handle time: talk plus after-call work of today's answered calls that ended.
- longest wait: since the oldest waiting call entered its queue (a moment: the page ticks it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

DEFAULT_SERVICE_LEVEL_SECONDS = 15.0


class Outcome(StrEnum):
    WAITING = "waiting"
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    NODE_LOST = "node_lost"
    OVERFLOWED = "overflowed"


LEAVE_REASONS = {"abandoned": Outcome.ABANDONED, "max_wait": Outcome.TIMED_OUT, "cancelled": Outcome.CANCELLED,
                 "node_lost": Outcome.NODE_LOST, "overflowed": Outcome.OVERFLOWED}
FINAL = frozenset(Outcome) - {Outcome.WAITING}


class AgentState(StrEnum):
    """What the board shows of an agent (the ACD's states; reserved counts as ringing)."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    TALKING = "talking"
    AFTER_CALL_WORK = "after_call_work"
    BREAK = "break"
    NOT_READY = "not_ready"


# --- events (what the adapters make of the NATS messages) --------------------------------------

@dataclass(frozen=True)
class Entered:
    call_id: str
    queue_id: str
    at: float


@dataclass(frozen=True)
class Answered:
    call_id: str
    queue_id: str
    agent_id: str
    wait: float
    at: float


@dataclass(frozen=True)
class Left:
    call_id: str
    queue_id: str
    reason: str          # abandoned, max_wait, cancelled, node_lost, overflowed (anything else: cancelled)
    wait: float
    at: float


@dataclass(frozen=True)
class Ended:
    call_id: str
    queue_id: str
    agent_id: str
    talk: float
    at: float


@dataclass(frozen=True)
class AgentChanged:
    agent_id: str
    state: AgentState
    at: float
    queues: tuple[str, ...] = ()
    call_id: str = ""
    previous: AgentState | None = None


Event = Entered | Answered | Left | Ended | AgentChanged


# --- state ------------------------------------------------------------------------------------

@dataclass
class QueueCall:
    """One call in one queue."""

    call_id: str
    queue_id: str
    entered_at: float
    outcome: Outcome = Outcome.WAITING
    wait: float | None = None           # seconds in the queue until answered or gone
    talk: float | None = None           # seconds talked (acd.ended)
    after_call_work: float | None = None


@dataclass
class Agent:
    id: str
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    queues: tuple[str, ...] = ()
    acw_call: str = ""                  # the call whose after-call work runs, and since when
    acw_since: float = 0.0


@dataclass(frozen=True)
class CallFigures:
    offered: int
    answered: int
    abandoned: int
    timed_out: int
    cancelled: int
    overflowed: int
    waiting: int
    answered_in_target: int
    abandoned_in_target: int
    answer_rate: float | None
    service_level: float | None
    average_handle_seconds: float | None
    oldest_waiting_since: float | None
    node_lost: int = 0               # left when their FreeSWITCH node was lost (out of both rates)

    def longest_wait(self, now: float) -> float:
        return max(0.0, now - self.oldest_waiting_since) if self.oldest_waiting_since is not None else 0.0


@dataclass
class Board:
    """One tenant's board."""

    tenant: str
    timezone: str = "Asia/Tokyo"
    calls: dict[tuple[str, str], QueueCall] = field(default_factory=dict)     # (queue, call)
    agents: dict[str, Agent] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)               # queue -> service level seconds
    queues: set[str] = field(default_factory=set)                            # every queue known (config or events)

    # -- changes --
    def apply(self, event: Event) -> None:
        if isinstance(event, Entered):
            self._entered(event.call_id, event.queue_id, event.at)
        elif isinstance(event, Answered):
            call = self._record(event.call_id, event.queue_id, event.at - event.wait)
            if call.outcome in (Outcome.WAITING, Outcome.ANSWERED):
                call.outcome, call.wait = Outcome.ANSWERED, max(0.0, event.wait)
        elif isinstance(event, Left):
            call = self._record(event.call_id, event.queue_id, event.at - event.wait)
            if call.outcome is Outcome.WAITING:
                call.outcome = LEAVE_REASONS.get(event.reason, Outcome.CANCELLED)
                call.wait = max(0.0, event.wait)
        elif isinstance(event, Ended):
            call = self._record(event.call_id, event.queue_id, event.at)
            if call.outcome is Outcome.WAITING:       # the answer was not seen (restored later than it)
                call.outcome, call.wait = Outcome.ANSWERED, 0.0
            if call.outcome is Outcome.ANSWERED:
                call.talk = max(0.0, event.talk)
        else:
            self._agent(event)

    def _entered(self, call_id: str, queue_id: str, at: float) -> None:
        self.queues.add(queue_id)
        self.calls.setdefault((queue_id, call_id), QueueCall(call_id, queue_id, at))

    def _record(self, call_id: str, queue_id: str, entered_at: float) -> QueueCall:
        self._entered(call_id, queue_id, entered_at)
        return self.calls[(queue_id, call_id)]

    def _agent(self, event: AgentChanged) -> None:
        agent = self.agents.setdefault(event.agent_id, Agent(event.agent_id))
        if event.at < agent.since:          # older than what the board knows (restored or redelivered)
            return
        if agent.state is AgentState.AFTER_CALL_WORK and event.state is not AgentState.AFTER_CALL_WORK \
                and agent.acw_call:
            self._after_call_work(agent.acw_call, event.at - agent.acw_since)
            agent.acw_call = ""
        if event.state is AgentState.AFTER_CALL_WORK and agent.state is not AgentState.AFTER_CALL_WORK:
            agent.acw_call, agent.acw_since = event.call_id, event.at
        agent.state, agent.since = event.state, event.at
        if event.queues:
            agent.queues = tuple(event.queues)
            self.queues.update(event.queues)

    def _after_call_work(self, call_id: str, seconds: float) -> None:
        for call in self.calls.values():
            if call.call_id == call_id and call.outcome is Outcome.ANSWERED and call.after_call_work is None:
                call.after_call_work = max(0.0, seconds)

    def configure(self, thresholds: Mapping[str, float], agents: Mapping[str, tuple[str, ...]]) -> None:
        """The ACD's queues (service level thresholds) and agents (their queues): agents not
        seen in an event yet are logged out."""
        self.thresholds.update(thresholds)
        self.queues.update(thresholds)
        for agent_id, queues in agents.items():
            agent = self.agents.setdefault(agent_id, Agent(agent_id))
            agent.queues = tuple(queues)
            self.queues.update(queues)

    def restore_agent(self, agent_id: str, state: AgentState, since: float, call_id: str = "") -> None:
        """The ACD's view of an agent; an event newer than it wins."""
        agent = self.agents.setdefault(agent_id, Agent(agent_id))
        if since >= agent.since:
            agent.state, agent.since = state, since
            if state is AgentState.AFTER_CALL_WORK:
                agent.acw_call, agent.acw_since = call_id, since

    def restore_call(self, call: QueueCall) -> None:
        """A call from the store (or the ACD's waiting list): kept where the board knows less."""
        self.queues.add(call.queue_id)
        known = self.calls.get((call.queue_id, call.call_id))
        if known is None or (known.outcome is Outcome.WAITING and call.outcome is not Outcome.WAITING):
            self.calls[(call.queue_id, call.call_id)] = call
        elif known.talk is None and call.talk is not None:
            known.talk, known.after_call_work = call.talk, call.after_call_work

    # -- reading --
    def day_start(self, now: float) -> float:
        zone = ZoneInfo(self.timezone)
        local = dt.datetime.fromtimestamp(now, zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def threshold(self, queue_id: str) -> float:
        return self.thresholds.get(queue_id, DEFAULT_SERVICE_LEVEL_SECONDS)

    def prune(self, now: float) -> None:
        """Forget finished calls of earlier days (waiting ones stay until they end)."""
        start = self.day_start(now)
        for key in [k for k, c in self.calls.items() if c.entered_at < start and c.outcome is not Outcome.WAITING]:
            del self.calls[key]

    def figures(self, now: float, queue_id: str | None = None) -> CallFigures:
        start = self.day_start(now)
        if queue_id is not None:
            return _figures([c for c in self.calls.values() if c.queue_id == queue_id], start, self.threshold)
        return _figures(_last_leg_per_call(self.calls.values()), start, self.threshold)

    def figures_by_queue(self, now: float) -> dict[str, CallFigures]:
        """Every known queue's figures, in one pass over the calls."""
        start = self.day_start(now)
        grouped: dict[str, list[QueueCall]] = {queue: [] for queue in self.queues}
        for call in self.calls.values():
            grouped.setdefault(call.queue_id, []).append(call)
        return {queue: _figures(calls, start, self.threshold) for queue, calls in grouped.items()}

    def agent_counts(self, queue_id: str | None = None) -> dict[str, int]:
        counts = {state.value: 0 for state in AgentState}
        for agent in self.agents.values():
            if queue_id is None or queue_id in agent.queues:
                counts[agent.state.value] += 1
        return counts


def _last_leg_per_call(calls: Iterable[QueueCall]) -> list[QueueCall]:
    """A call that overflowed counts once at the tenant level: by the queue it entered last (its
    outcome, wait and handle time there), on the day it first entered a queue."""
    last: dict[str, QueueCall] = {}
    first: dict[str, float] = {}
    for call in calls:
        first[call.call_id] = min(first.get(call.call_id, call.entered_at), call.entered_at)
        known = last.get(call.call_id)
        if known is None or (call.entered_at, call.outcome is not Outcome.OVERFLOWED) > \
                (known.entered_at, known.outcome is not Outcome.OVERFLOWED):
            last[call.call_id] = call
    return [c if c.entered_at == first[c.call_id] else dataclasses.replace(c, entered_at=first[c.call_id])
            for c in last.values()]


def _figures(calls: list[QueueCall], start: float, threshold: Callable[[str], float]) -> CallFigures:
    today = [c for c in calls if c.entered_at >= start]
    by = {outcome: 0 for outcome in Outcome}
    answered_in_target = abandoned_in_target = 0
    handle: list[float] = []
    for call in today:
        by[call.outcome] += 1
        limit = threshold(call.queue_id)
        if call.outcome is Outcome.ANSWERED:
            answered_in_target += int((call.wait or 0.0) <= limit)
            if call.talk is not None:
                handle.append(call.talk + (call.after_call_work or 0.0))
        elif call.outcome is Outcome.ABANDONED:
            abandoned_in_target += int((call.wait or 0.0) <= limit)
    waiting = [c.entered_at for c in calls if c.outcome is Outcome.WAITING]
    finished = len(today) - by[Outcome.WAITING] - by[Outcome.NODE_LOST]
    left = finished - abandoned_in_target
    return CallFigures(
        offered=len(today), answered=by[Outcome.ANSWERED], abandoned=by[Outcome.ABANDONED],
        timed_out=by[Outcome.TIMED_OUT], cancelled=by[Outcome.CANCELLED], overflowed=by[Outcome.OVERFLOWED],
        waiting=len(waiting), answered_in_target=answered_in_target, abandoned_in_target=abandoned_in_target,
        answer_rate=by[Outcome.ANSWERED] / finished if finished else None,
        service_level=answered_in_target / left if left > 0 else None,
        average_handle_seconds=sum(handle) / len(handle) if handle else None,
        oldest_waiting_since=min(waiting) if waiting else None, node_lost=by[Outcome.NODE_LOST])

