"""The ACD's mutable records of agents and calls. Only ``Acd`` changes them; readers get views.

``to_dict``/``from_dict`` give the persisted form (plain JSON types). Index bookkeeping
(``ready_epoch``, ``token``, ``member_of``) is derived and not persisted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hibiki.acd.domain.enums import AgentState, CallState
from hibiki.acd.domain.model import AgentProfile

UNDISPOSED_KEPT = 20   # calls whose disposition an agent may still save after a wrap-up limit


@dataclass(slots=True, eq=False)
class Agent:
    profile: AgentProfile
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    device: str = ""
    state_since: float = 0.0
    idle_since: float = 0.0               # when the agent last became ready (longest-idle order)
    calls_handled: int = 0                # answered since login (fewest-calls order)
    missed_offers: int = 0                # consecutive
    call_id: str = ""                     # the call offered to or talking with the agent
    wrap_call: str = ""                   # wrap-up: the call whose disposition is pending ...
    wrap_queue: str = ""                  # ... and its queue
    wrap_up_until: float | None = None    # the queue's wrap-up limit, if it has one
    undisposed: dict[str, str] = field(default_factory=dict)   # call -> queue, limit passed, not saved
    wrap_caller: str = ""                 # wrap-up: that call's caller number (the desktop's screen pop)
    # derived
    member_of: tuple[str, ...] = ()       # queues the agent serves (listed and skilled), sorted
    ready_epoch: int = 0                  # bumped on each entry to the ready index

    @property
    def id(self) -> str:
        return self.profile.id

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.profile.id, "skills": dict(self.profile.skills), "queues": sorted(self.profile.queues),
                "state": self.state.value, "reason": self.reason, "device": self.device,
                "state_since": self.state_since, "idle_since": self.idle_since,
                "calls_handled": self.calls_handled, "missed_offers": self.missed_offers, "call_id": self.call_id,
                "wrap_call": self.wrap_call, "wrap_queue": self.wrap_queue, "wrap_up_until": self.wrap_up_until,
                "undisposed": [[c, q] for c, q in self.undisposed.items()],
                "wrap_caller": self.wrap_caller}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Agent:
        profile = AgentProfile(data["id"], data["skills"], frozenset(data["queues"]))
        return cls(profile, AgentState(data["state"]), data["reason"], data["device"], data["state_since"],
                   data["idle_since"], data["calls_handled"], data["missed_offers"], data["call_id"],
                   data["wrap_call"], data["wrap_queue"], data["wrap_up_until"],
                   {c: q for c, q in data["undisposed"]}, data.get("wrap_caller", ""))


@dataclass(slots=True, eq=False)
class Call:
    id: str
    queue_id: str
    seq: int                              # arrival order in this ACD, breaks ties
    arrived_at: float                     # first entry into the ACD (kept through overflows)
    entered_at: float                     # entry into the current queue (waits, timers, service level)
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)     # wanted beyond the queue's own
    caller: str = ""
    ivr_path: tuple[str, ...] = ()        # opaque to the ACD, for the screen pop (CC-04)
    state: CallState = CallState.WAITING
    offered_to: list[str] = field(default_factory=list)
    offer_deadline: float | None = None
    attempts: int = 0
    agent_id: str = ""
    answered_at: float | None = None
    overflow_at: float | None = None
    max_wait_at: float | None = None
    node: str = ""                        # the FreeSWITCH node of the caller's channel ("" unknown)
    # derived
    token: int = 0                        # the live waiting-index entry (0: not waiting)
    extra: dict[str, int] = field(default_factory=dict)      # skills the current queue does not already demand

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "queue_id": self.queue_id, "seq": self.seq, "arrived_at": self.arrived_at,
                "entered_at": self.entered_at, "priority": self.priority, "skills": dict(self.skills),
                "caller": self.caller, "ivr_path": list(self.ivr_path), "state": self.state.value,
                "offered_to": list(self.offered_to), "offer_deadline": self.offer_deadline,
                "attempts": self.attempts, "agent_id": self.agent_id, "answered_at": self.answered_at,
                "overflow_at": self.overflow_at, "max_wait_at": self.max_wait_at, "node": self.node}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Call:
        return cls(data["id"], data["queue_id"], data["seq"], data["arrived_at"], data["entered_at"],
                   data["priority"], dict(data["skills"]), data["caller"], tuple(data["ivr_path"]),
                   CallState(data["state"]), list(data["offered_to"]), data["offer_deadline"], data["attempts"],
                   data["agent_id"], data["answered_at"], data["overflow_at"], data["max_wait_at"],
                   data.get("node", ""))
