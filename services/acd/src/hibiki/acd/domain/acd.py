"""``Acd``: one tenant's queues, agents and waiting calls as a pure, event-driven state machine.

Every command takes the time ``now`` (seconds since the epoch; the machine has no clock of its
own), validates (an error leaves the machine untouched), applies, and returns the events it
decided, in order: an ``Offered`` in the reply is the routing decision (see ``core`` for the
rules). ``tick(now)`` fires the timers that are due; the service calls it at ``next_deadline()``
and may call it before every command (nothing is polled: no timer, no tick). ``to_state()`` and
``Acd.from_state()`` persist and restore the whole machine as plain dicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hibiki.acd.domain.codec import queue_from_dict, queue_to_dict
from hibiki.acd.domain.core import Core
from hibiki.acd.domain.entities import Agent, Call
from hibiki.acd.domain.enums import ON_CALL, PAUSED, AgentState, CallState, LeaveReason
from hibiki.acd.domain.errors import (
    AgentBusy,
    CallExists,
    DeviceInUse,
    DispositionRequired,
    InvalidArgument,
    InvalidState,
    NoSuchOffer,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
from hibiki.acd.domain.events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    DispositionSaved,
    Enqueued,
    Event,
    OfferReleased,
)
from hibiki.acd.domain.model import AgentProfile, QueueConfig, check_skills
from hibiki.acd.domain.queues import Counters, QueueRuntime
from hibiki.acd.domain.timers import TimerKind
from hibiki.acd.domain.views import AgentView, CallView, QueueStats, WaitingCall

STATE_VERSION = 1


class Acd(Core):
    def __init__(self, tenant: str, timezone: str = "Asia/Tokyo") -> None:
        if not tenant:
            raise InvalidArgument("an ACD belongs to a tenant")
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(f"unknown timezone {timezone!r}") from None
        super().__init__(tz)
        self.tenant = tenant
        self.timezone = timezone

    # -- configuration --------------------------------------------------------------------------

    def configure_queue(self, config: QueueConfig, now: float) -> list[Event]:
        """Create or change a queue. Waiting calls keep their place; their overflow and maximum
        wait follow the new settings from their entry; members are recomputed."""
        if config.overflow is not None and config.overflow.queue_id not in self._queues:
            raise UnknownQueue(f"queue {config.id}: overflow queue {config.overflow.queue_id} is not configured")
        queue = self._queues.get(config.id)
        if queue is None:
            queue = self._queues[config.id] = QueueRuntime(config, self._agents, self._calls)
        queue.config = config
        queue.profile_from = queue.profile_until = -math.inf
        for agent in self._agents.values():
            member_of = self._membership(agent)
            if member_of != agent.member_of:
                if agent.state is AgentState.READY:
                    self._unindex(agent)
                    agent.member_of = member_of
                    agent.ready_epoch += 1
                    for queue_id in member_of:
                        self._queues[queue_id].ready.add(agent)
                agent.member_of = member_of
        queue.members = {a.profile.id for a in self._agents.values() if config.id in a.member_of}
        queue.refresh(now, self._tz)
        queue.ready.rebuild(queue.ready.strategy, config.skills)
        events: list[Event] = []
        for call in [c for c in self._calls.values() if c.queue_id == config.id]:
            if call.state is not CallState.TALKING:
                self._arm(call, queue, call.entered_at)
        for call in queue.waiting.ordered():
            queue.waiting.remove(call)
            self._place(call, queue, now, events)
        return events

    def remove_queue(self, queue_id: str) -> None:
        queue = self._queue(queue_id)
        if any(call.queue_id == queue_id for call in self._calls.values()):
            raise InvalidState(f"queue {queue_id} still has calls")
        if any(q.config.overflow is not None and q.config.overflow.queue_id == queue_id for q in self._queues.values()):
            raise InvalidState(f"another queue overflows to {queue_id}")
        for agent_id in queue.members:
            agent = self._agents[agent_id]
            agent.member_of = tuple(q for q in agent.member_of if q != queue_id)
        del self._queues[queue_id]

    def configure_agent(self, profile: AgentProfile, now: float) -> list[Event]:
        """Create or change an agent (skills, queues); a ready agent is matched again at once."""
        agent = self._agents.get(profile.id)
        if agent is None:
            agent = self._agents[profile.id] = Agent(profile)
        ready = agent.state is AgentState.READY
        if ready:
            self._unindex(agent)
        for queue_id in agent.member_of:
            self._queues[queue_id].members.discard(profile.id)
        agent.profile = profile
        agent.member_of = self._membership(agent)
        for queue_id in agent.member_of:
            self._queues[queue_id].members.add(profile.id)
        events: list[Event] = []
        if ready:
            self._seek(agent, now, events)
        return events

    def remove_agent(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        if agent.state is not AgentState.LOGGED_OUT:
            raise InvalidState(f"agent {agent_id} is logged in")
        for queue_id in agent.member_of:
            self._queues[queue_id].members.discard(agent_id)
        del self._agents[agent_id]

    # -- calls ----------------------------------------------------------------------------------

    def enqueue(self, call_id: str, queue_id: str, now: float, *, priority: int = 0,
                skills: Mapping[str, int] | None = None, caller: str = "",
                ivr_path: Iterable[str] = ()) -> list[Event]:
        """A call enters a queue: offered in this reply if a member may take it, else waiting."""
        if not call_id:
            raise InvalidArgument("a call needs an id")
        if call_id in self._calls:
            raise CallExists(f"call {call_id} is already in the ACD")
        queue = self._queue(queue_id)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidArgument(f"call {call_id}: priority must be an integer")
        wanted = check_skills(skills or {}, f"call {call_id}")
        self._seq += 1
        call = self._calls[call_id] = Call(call_id, queue_id, self._seq, now, now, priority, wanted, caller,
                                           tuple(ivr_path))
        queue.counters.entered += 1
        self._arm(call, queue, now)
        events: list[Event] = [Enqueued(call_id, queue_id, priority)]
        self._place(call, queue, now, events)
        return events

    def cancel(self, call_id: str, now: float, reason: LeaveReason = LeaveReason.ABANDONED) -> list[Event]:
        """A call leaves before an answer: the caller hung up (``ABANDONED``) or callcontrol took
        it elsewhere (``CANCELLED``). Agents it rang are released and matched again."""
        call = self._call(call_id)
        try:
            reason = LeaveReason(reason)
        except ValueError:
            raise InvalidArgument(f"no leave reason {reason!r}") from None
        if reason is LeaveReason.MAX_WAIT:
            raise InvalidArgument("the maximum wait is the ACD's own decision")
        if call.state is CallState.TALKING:
            raise InvalidState(f"call {call_id} was answered: end it with call_ended")
        events: list[Event] = []
        self._leave(call, reason, now, events)
        return events

    def call_ended(self, call_id: str, now: float) -> list[Event]:
        """The call hung up. Answered: the agent goes to after-call work. Not answered: abandoned."""
        call = self._call(call_id)
        if call.state is not CallState.TALKING:
            return self.cancel(call_id, now, LeaveReason.ABANDONED)
        agent = self._agents[call.agent_id]
        queue = self._queues[call.queue_id]
        del self._calls[call_id]
        events: list[Event] = [CallEnded(call_id, queue.config.id, agent.profile.id,
                                         now - (call.answered_at if call.answered_at is not None else now))]
        agent.call_id = ""
        agent.wrap_call, agent.wrap_queue = call_id, queue.config.id
        self._set_state(agent, AgentState.AFTER_CALL_WORK, "", now, events)
        limit = queue.config.wrap_up_limit_seconds
        if limit == 0:
            self._wrap_up_expired(agent, now, events)
        elif limit is not None:
            agent.wrap_up_until = now + limit
            self._timers.push(agent.wrap_up_until, TimerKind.WRAP_UP, agent.profile.id)
        return events

    # -- offers ---------------------------------------------------------------------------------

    def ringing(self, call_id: str, agent_id: str, now: float) -> list[Event]:
        """Callcontrol reports the agent's device ringing (RESERVED -> RINGING)."""
        _, agent = self._offer_of(call_id, agent_id)
        events: list[Event] = []
        if agent.state is AgentState.RESERVED:
            self._set_state(agent, AgentState.RINGING, "", now, events)
        return events

    def answer(self, call_id: str, agent_id: str, now: float) -> list[Event]:
        """The agent answered; in a ring-all offer the others are released (and matched again)."""
        call, agent = self._offer_of(call_id, agent_id)
        queue = self._queues[call.queue_id]
        others = [self._agents[other] for other in call.offered_to if other != agent_id]
        call.state, call.agent_id, call.answered_at = CallState.TALKING, agent_id, now
        call.offered_to, call.offer_deadline, call.overflow_at, call.max_wait_at = [], None, None, None
        waited = now - call.entered_at
        queue.counters.answered += 1
        queue.counters.answered_in_target += int(waited <= queue.config.service_level_seconds)
        agent.missed_offers = 0
        agent.calls_handled += 1
        events: list[Event] = [CallAnswered(call_id, queue.config.id, agent_id, waited)]
        self._set_state(agent, AgentState.TALKING, "", now, events)
        for other in others:
            other.call_id = ""
            events.append(OfferReleased(call_id, other.profile.id, "answered elsewhere"))
            self._make_ready(other, now, events, idle_since=other.idle_since)
        return events

    def reject(self, call_id: str, agent_id: str, now: float, reason: str = "rejected") -> list[Event]:
        """The agent declined (or callcontrol rang out: ``reason`` "no answer"): a missed offer."""
        call, _ = self._offer_of(call_id, agent_id)
        events: list[Event] = []
        self._missed(call, [agent_id], reason or "rejected", now, events)
        return events

    # -- agents ---------------------------------------------------------------------------------

    def login(self, agent_id: str, device: str, now: float, *, ready: bool = False) -> list[Event]:
        """The agent logs in with their own ID on ``device`` (any seat, any device of theirs).

        A logged-out agent becomes NOT_READY (READY with ``ready``). A logged-in agent moves to the
        new device unless on a call. Another agent still logged in on the seat is logged out,
        unless on a call (``DeviceInUse``)."""
        agent = self._agent(agent_id)
        if not device:
            raise InvalidArgument("login needs a device")
        holder_id = self._devices.get(device)
        holder = self._agents[holder_id] if holder_id is not None and holder_id != agent_id else None
        if holder is not None and holder.state in ON_CALL:
            raise DeviceInUse(f"agent {holder.profile.id} is on a call on {device}")
        if agent.state in ON_CALL and agent.device != device:
            raise AgentBusy(f"agent {agent_id} is on a call on {agent.device}")
        events: list[Event] = []
        if holder is not None:
            self._logout(holder, now, events, f"seat taken by {agent_id}")
        if agent.state is AgentState.LOGGED_OUT:
            agent.device = device
            self._devices[device] = agent_id
            agent.calls_handled = agent.missed_offers = 0
            self._set_state(agent, AgentState.NOT_READY, "logged in", now, events)
            if ready:
                self._make_ready(agent, now, events)
        elif agent.device != device:
            del self._devices[agent.device]
            agent.device = device
            self._devices[device] = agent_id
            events.append(AgentStateChanged(agent_id, agent.state, agent.state, "device changed", device,
                                            agent.call_id or agent.wrap_call))
        return events

    def logout(self, agent_id: str, now: float) -> list[Event]:
        """Not while talking. A call ringing the agent goes back to its place; a pending
        disposition stays saveable but no longer blocks anything."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            return []
        if agent.state is AgentState.TALKING:
            raise AgentBusy(f"agent {agent_id} is talking")
        events: list[Event] = []
        self._logout(agent, now, events, "")
        return events

    def _logout(self, agent: Agent, now: float, events: list[Event], reason: str) -> None:
        call = self._calls[agent.call_id] if agent.state in ON_CALL else None
        if call is not None:
            self._release(call, agent, "agent logged out", events)
        if agent.state is AgentState.READY:
            self._unindex(agent)
        if agent.wrap_call:
            self._set_aside_disposition(agent)
        self._set_state(agent, AgentState.LOGGED_OUT, reason, now, events)
        del self._devices[agent.device]
        agent.device = ""
        if call is not None and not call.offered_to:
            self._requeue(call, now, events)

    def set_ready(self, agent_id: str, now: float) -> list[Event]:
        """Ready (the missed-offer count starts again): offered a waiting call in this reply if
        one fits. Refused while a disposition is pending (CC-03)."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise InvalidState(f"agent {agent_id} is not logged in")
        if agent.state is AgentState.READY:
            return []
        if agent.state in ON_CALL:
            raise AgentBusy(f"agent {agent_id} is {agent.state.value}")
        if agent.wrap_call:
            raise DispositionRequired(f"agent {agent_id}: save the disposition of call {agent.wrap_call} first")
        agent.missed_offers = 0
        events: list[Event] = []
        self._make_ready(agent, now, events)
        return events

    def set_break(self, agent_id: str, reason: str, now: float) -> list[Event]:
        if not reason:
            raise InvalidArgument("a break needs a reason")
        return self._pause(agent_id, AgentState.BREAK, reason, now)

    def set_not_ready(self, agent_id: str, now: float, reason: str = "") -> list[Event]:
        return self._pause(agent_id, AgentState.NOT_READY, reason, now)

    def set_state(self, agent_id: str, state: AgentState, now: float, reason: str = "") -> list[Event]:
        """The states an agent chooses (the others are the ACD's): READY, BREAK, NOT_READY, LOGGED_OUT."""
        if state is AgentState.READY:
            return self.set_ready(agent_id, now)
        if state is AgentState.BREAK:
            return self.set_break(agent_id, reason, now)
        if state is AgentState.NOT_READY:
            return self.set_not_ready(agent_id, now, reason)
        if state is AgentState.LOGGED_OUT:
            return self.logout(agent_id, now)
        raise InvalidArgument(f"an agent cannot choose the state {state.value}")

    def _pause(self, agent_id: str, state: AgentState, reason: str, now: float) -> list[Event]:
        """Break or not ready. From after-call work the disposition stays pending; while an offer
        rings, the offer is released (not counted as missed)."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise InvalidState(f"agent {agent_id} is not logged in")
        if agent.state is AgentState.TALKING:
            raise AgentBusy(f"agent {agent_id} is talking")
        if agent.state is state and agent.reason == reason:
            return []
        events: list[Event] = []
        call = self._calls[agent.call_id] if agent.state in ON_CALL else None
        if call is not None:
            self._release(call, agent, "agent unavailable", events)
        if agent.state is AgentState.READY:
            self._unindex(agent)
        self._set_state(agent, state, reason, now, events)
        if call is not None and not call.offered_to:
            self._requeue(call, now, events)
        return events

    def save_disposition(self, agent_id: str, call_id: str, case_type: str, now: float,
                         note: str = "") -> list[Event]:
        """The case type of a call the agent handled (CC-03): ends after-call work (READY, and
        offered a waiting call in this reply if one fits). Also accepted for a call whose
        wrap-up limit already passed."""
        agent = self._agent(agent_id)
        if not case_type:
            raise InvalidArgument("a disposition needs a case type")
        if call_id and agent.wrap_call == call_id:
            queue_id = agent.wrap_queue
            agent.wrap_call = agent.wrap_queue = ""
            agent.wrap_up_until = None
            events: list[Event] = [DispositionSaved(agent_id, call_id, queue_id, case_type, note)]
            if agent.state is AgentState.AFTER_CALL_WORK:
                self._make_ready(agent, now, events)
            return events
        if call_id in agent.undisposed:
            return [DispositionSaved(agent_id, call_id, agent.undisposed.pop(call_id), case_type, note)]
        raise UnknownCall(f"agent {agent_id} has no disposition to save for call {call_id}")

    # -- time -----------------------------------------------------------------------------------

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

    def reset_counters(self) -> None:
        """Start every queue's counters (entered, answered, service level, ...) from zero."""
        for queue in self._queues.values():
            queue.counters = Counters()

    # -- reading --------------------------------------------------------------------------------

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def queue_config(self, queue_id: str) -> QueueConfig:
        return self._queue(queue_id).config

    def agent(self, agent_id: str) -> AgentView:
        a = self._agent(agent_id)
        return AgentView(a.profile.id, a.state, a.reason, a.device, a.state_since, a.idle_since, a.call_id,
                         a.wrap_call, a.wrap_up_until, tuple(a.undisposed), a.calls_handled, a.missed_offers,
                         dict(a.profile.skills), tuple(sorted(a.profile.queues)), a.member_of)

    def agent_on(self, device: str) -> str:
        """The agent logged in on ``device``; ``UnknownAgent`` if none is."""
        agent_id = self._devices.get(device)
        if agent_id is None:
            raise UnknownAgent(f"no agent is logged in on {device!r}")
        return agent_id

    def agents(self) -> list[AgentView]:
        return [self.agent(agent_id) for agent_id in self._agents]

    def call(self, call_id: str) -> CallView:
        c = self._call(call_id)
        return CallView(c.id, c.queue_id, c.state, c.priority, dict(c.skills), c.caller, c.ivr_path, c.seq,
                        c.arrived_at, c.entered_at, tuple(c.offered_to), c.offer_deadline, c.attempts, c.agent_id,
                        c.overflow_at, c.max_wait_at)

    def calls(self) -> list[CallView]:
        return [self.call(call_id) for call_id in self._calls]

    def position(self, call_id: str) -> int | None:
        """The call's place in its queue (1: next), None when it is not waiting."""
        call = self._call(call_id)
        return self._queues[call.queue_id].waiting.position(call) if call.state is CallState.WAITING else None

    def queue_stats(self, queue_id: str, now: float) -> QueueStats:
        queue = self._queue(queue_id)
        queue.refresh(now, self._tz)
        waiting = tuple(WaitingCall(c.id, c.caller, c.priority, now - c.entered_at) for c in queue.waiting.ordered())
        in_queue = [c for c in self._calls.values() if c.queue_id == queue_id]
        states = [self._agents[agent_id].state for agent_id in queue.members]
        busy = ON_CALL | {AgentState.AFTER_CALL_WORK}
        c = queue.counters
        return QueueStats(
            queue_id, queue.profile.name if queue.profile is not None else None, queue.ready.strategy, queue.priority,
            waiting, max((w.waited for w in waiting), default=0.0),
            sum(1 for call in in_queue if call.state is CallState.OFFERED),
            sum(1 for call in in_queue if call.state is CallState.TALKING),
            len(queue.ready.ids), sum(1 for s in states if s in busy), sum(1 for s in states if s in PAUSED),
            sum(1 for s in states if s is not AgentState.LOGGED_OUT),
            c.entered, c.answered, c.answered_in_target, c.abandoned, c.overflowed, c.timed_out, c.cancelled,
            c.service_level())

    # -- persistence ----------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The whole machine as plain JSON types; ``Acd.from_state`` gives an equivalent machine."""
        return {"version": STATE_VERSION, "tenant": self.tenant, "timezone": self.timezone, "seq": self._seq,
                "queues": [{"config": queue_to_dict(q.config), "counters": q.counters.to_dict()}
                           for q in self._queues.values()],
                "agents": [agent.to_dict() for agent in self._agents.values()],
                "calls": [call.to_dict() for call in self._calls.values()]}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Acd:
        """The machine ``to_state`` wrote (its version, queues and references are checked; the
        rest is trusted): indexes and timers are rebuilt from the records."""
        if state.get("version") != STATE_VERSION:
            raise InvalidArgument(f"ACD state version {state.get('version')!r}, this code reads {STATE_VERSION}")
        acd = cls(state["tenant"], state["timezone"])
        acd._seq = int(state["seq"])
        for item in state["queues"]:
            queue = QueueRuntime(queue_from_dict(item["config"]), acd._agents, acd._calls)
            queue.counters = Counters.from_dict(item["counters"])
            acd._queues[queue.config.id] = queue
        for queue in acd._queues.values():
            overflow = queue.config.overflow
            if overflow is not None and overflow.queue_id not in acd._queues:
                raise InvalidArgument(f"queue {queue.config.id} overflows to an unknown queue")
        for data in state["agents"]:
            agent = Agent.from_dict(data)
            acd._agents[agent.profile.id] = agent
            if agent.state is not AgentState.LOGGED_OUT:
                acd._devices[agent.device] = agent.profile.id
        for data in state["calls"]:
            call = Call.from_dict(data)
            if call.queue_id not in acd._queues:
                raise InvalidArgument(f"call {call.id} is in an unknown queue")
            acd._calls[call.id] = call
        acd._rebuild()
        return acd

    # -- lookups --------------------------------------------------------------------------------

    def _queue(self, queue_id: str) -> QueueRuntime:
        queue = self._queues.get(queue_id)
        if queue is None:
            raise UnknownQueue(f"no queue {queue_id}")
        return queue

    def _agent(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"no agent {agent_id}")
        return agent

    def _call(self, call_id: str) -> Call:
        call = self._calls.get(call_id)
        if call is None:
            raise UnknownCall(f"no call {call_id}")
        return call

    def _offer_of(self, call_id: str, agent_id: str) -> tuple[Call, Agent]:
        call, agent = self._call(call_id), self._agent(agent_id)
        if call.state is not CallState.OFFERED or agent_id not in call.offered_to:
            raise NoSuchOffer(f"call {call_id} is not offered to agent {agent_id}")
        return call, agent
