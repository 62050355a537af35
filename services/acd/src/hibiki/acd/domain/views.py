"""Read-only snapshots handed out by ``Acd`` (copies: changing the machine never changes them)."""

from __future__ import annotations

from dataclasses import dataclass

from hibiki.acd.domain.enums import AgentState, CallState, Strategy


@dataclass(frozen=True)
class AgentView:
    id: str
    state: AgentState
    reason: str
    device: str
    state_since: float
    idle_since: float
    call_id: str                       # offered or talking
    pending_disposition: str           # the call whose disposition blocks the next offer, if any
    wrap_up_until: float | None
    undisposed: tuple[str, ...]        # calls whose wrap-up limit passed without a disposition
    calls_handled: int
    missed_offers: int
    skills: dict[str, int]
    queues: tuple[str, ...]            # configured
    serving: tuple[str, ...]           # of those, the queues whose skills the agent has
    caller: str = ""                   # the caller number of call_id, else of pending_disposition
    call_queue: str = ""               # that call's queue


@dataclass(frozen=True)
class CallView:
    id: str
    queue_id: str
    state: CallState
    priority: int
    skills: dict[str, int]
    caller: str
    ivr_path: tuple[str, ...]
    seq: int
    arrived_at: float
    entered_at: float
    offered_to: tuple[str, ...]
    offer_deadline: float | None
    attempts: int
    agent_id: str
    overflow_at: float | None
    max_wait_at: float | None
    node: str = ""                     # the FreeSWITCH node of the caller's channel


@dataclass(frozen=True)
class WaitingCall:
    call_id: str
    caller: str
    priority: int
    waited: float                      # in this queue
    node: str = ""


@dataclass(frozen=True)
class QueueStats:
    queue_id: str
    profile: str | None                # the routing profile in force, None: the queue's own settings
    strategy: Strategy
    priority: int
    waiting: tuple[WaitingCall, ...]   # first served first
    longest_wait: float
    offered: int                       # calls ringing agents now
    talking: int
    agents_ready: int
    agents_busy: int                   # reserved, ringing, talking or in after-call work
    agents_paused: int                 # break or not ready
    agents_logged_in: int
    entered: int
    answered: int
    answered_in_target: int
    abandoned: int
    overflowed: int
    timed_out: int
    cancelled: int
    service_level: float | None        # see ``queues.Counters.service_level``
    abandoned_in_target: int = 0       # short abandons, left out of the service level
    node_lost: int = 0                 # left when their FreeSWITCH node was lost
