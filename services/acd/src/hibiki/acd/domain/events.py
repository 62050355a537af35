"""What a command decided, in order: the ACD's output (the service publishes and acts on it).

Every agent state change is an ``AgentStateChanged``, so replaying the events of a run gives each
agent's state at every point. ``Offered`` is the routing decision: callcontrol rings ``device``;
an offer ends with exactly one of ``CallAnswered``, ``OfferMissed`` or ``OfferReleased``.
A call leaves the ACD with ``CallLeft`` (before an answer) or ``CallEnded`` (after one).
Durations are seconds. Events are read-only by convention (not ``frozen``: a frozen dataclass
costs five times as much to build, and a decision builds three or more).
"""

from __future__ import annotations

from dataclasses import dataclass

from hibiki.acd.domain.enums import AgentState, LeaveReason


@dataclass(slots=True)
class Enqueued:
    call_id: str
    queue_id: str
    priority: int


@dataclass(slots=True)
class Requeued:
    """Back to its place in the queue (an offer missed or released): ahead of later arrivals."""

    call_id: str
    queue_id: str


@dataclass(slots=True)
class Offered:
    call_id: str
    queue_id: str
    agent_id: str
    device: str
    attempt: int               # 1 for the first offer of the call, counting every offer (ring-all: one)
    ring_all: bool


@dataclass(slots=True)
class OfferMissed:
    """Rejected or not answered in time: counts towards the agent's missed-offer limit."""

    call_id: str
    agent_id: str
    reason: str                # "rejected", "no answer"


@dataclass(slots=True)
class OfferReleased:
    """Withdrawn through no fault of the agent: another agent answered (ring-all), the caller
    left, or the agent logged out or paused while it rang. Callcontrol stops ringing ``agent_id``."""

    call_id: str
    agent_id: str
    reason: str


@dataclass(slots=True)
class CallAnswered:
    call_id: str
    queue_id: str
    agent_id: str
    waited: float              # since the call entered this queue


@dataclass(slots=True)
class CallOverflowed:
    call_id: str
    from_queue: str
    to_queue: str
    waited: float


@dataclass(slots=True)
class CallLeft:
    call_id: str
    queue_id: str
    reason: LeaveReason
    destination: str           # for MAX_WAIT: where callcontrol sends the caller; else ""
    waited: float


@dataclass(slots=True)
class CallEnded:
    call_id: str
    queue_id: str
    agent_id: str
    talked: float


@dataclass(slots=True)
class AgentStateChanged:
    agent_id: str
    previous: AgentState
    current: AgentState
    reason: str                # break reason, "missed offers", "wrap-up limit", "device changed", ...
    device: str
    call_id: str               # the call offered, talking or in wrap-up, if any


@dataclass(slots=True)
class WrapUpExpired:
    """The queue's wrap-up limit passed without a disposition: the agent may take calls again and
    can still save the disposition later."""

    agent_id: str
    call_id: str
    queue_id: str


@dataclass(slots=True)
class DispositionSaved:
    agent_id: str
    call_id: str
    queue_id: str
    case_type: str
    note: str


Event = (Enqueued | Requeued | Offered | OfferMissed | OfferReleased | CallAnswered | CallOverflowed | CallLeft
         | CallEnded | AgentStateChanged | WrapUpExpired | DispositionSaved)
