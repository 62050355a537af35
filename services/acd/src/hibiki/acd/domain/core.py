"""The routing core under ``Acd``: every decision and transition on the records (``records``).

Commands (``configure``, ``calls``, ``agents``, ``clock``) validate, then call these helpers,
which never fail. The rules:

- *Work-conserving*: after every command no waiting call has a ready agent who may take it.
  A call entering a queue (``_place``) is offered at once to the best ready member; an agent
  entering READY (``_make_ready``/``_seek``) is offered at once the best waiting call among its
  queues. Nothing waits for a poll.
- An agent may take a call when READY, a member of the call's queue (listed and with the
  queue's minimum levels) and with the levels the call asks for beyond those.
- Among calls, an agent takes the one first by (higher queue priority, higher call priority,
  earlier arrival in the ACD, arrival order); among agents, a queue picks by its strategy
  (``index.ReadyAgents``); ring-all offers to every ready member at once.
- An offer (RESERVED, then RINGING once callcontrol says so) always has a deadline, so no agent
  stays reserved. It ends as answered (ring-all: the others are released), missed (rejected, or
  not answered within the queue's offer timeout: the call goes back to its place, the agent to
  the back of the longest-idle order, or to NOT_READY at the queue's missed-offer limit of
  misses in a row) or released (the caller left, or the agent logged out or paused while it
  rang: the agent keeps its place and is not blamed).
- ``idle_since`` is when the agent last became ready (after a call: when the disposition was
  saved or the wrap-up limit passed).
- A call that ends after an answer puts its agent in after-call work with the disposition
  pending: no offer until it is saved or the queue's wrap-up limit (if any) passes, whatever
  state the agent goes through meanwhile (a break, say).
- Timers (``clock``): offer timeouts, overflow and maximum wait measured from the entry into the
  current queue, the wrap-up limit; each handled at its own deadline, however late the tick.
  A call whose overflow or maximum wait passes while it rings an agent stays with that agent;
  should the offer fail, the earlier of the two applies at once.
"""

from __future__ import annotations

from hibiki.acd.domain.entities import UNDISPOSED_KEPT, Agent, Call
from hibiki.acd.domain.enums import AgentState, CallState, LeaveReason, Strategy
from hibiki.acd.domain.events import (
    AgentStateChanged,
    CallLeft,
    CallOverflowed,
    Event,
    Offered,
    OfferMissed,
    OfferReleased,
    Requeued,
    WrapUpExpired,
)
from hibiki.acd.domain.queues import QueueRuntime
from hibiki.acd.domain.records import Records
from hibiki.acd.domain.timers import TimerKind

NODE_SILENT = "node not reachable"     # an offer released because the call's FreeSWITCH node is silent
NODE_LOST = "node lost"                # ... or lost
READY, RESERVED, WAITING, OFFERED = AgentState.READY, AgentState.RESERVED, CallState.WAITING, CallState.OFFERED


class Core(Records):
    # -- agents ---------------------------------------------------------------------------------

    def _set_state(self, agent: Agent, state: AgentState, reason: str, now: float, events: list[Event]) -> None:
        previous = agent.state
        agent.state, agent.reason, agent.state_since = state, reason, now
        events.append(AgentStateChanged(agent.profile.id, previous, state, reason, agent.device,
                                        agent.call_id or agent.wrap_call))

    def _make_ready(self, agent: Agent, now: float, events: list[Event], reason: str = "",
                    idle_since: float | None = None) -> None:
        agent.idle_since = now if idle_since is None else idle_since
        self._set_state(agent, READY, reason, now, events)
        self._seek(agent, now, events)

    def _seek(self, agent: Agent, now: float, events: list[Event]) -> None:
        """A READY agent: offered the best waiting call it may take, else put in the ready index."""
        call = self._call_for(agent, now)
        if call is not None:
            self._queues[call.queue_id].waiting.remove(call)
            self._offer(call, [agent], now, events)
            return
        agent.ready_epoch += 1
        for queue_id in agent.member_of:
            self._queues[queue_id].ready.add(agent)

    def _unindex(self, agent: Agent) -> None:
        for queue_id in agent.member_of:
            self._queues[queue_id].ready.discard(agent.profile.id)

    def _call_for(self, agent: Agent, now: float) -> Call | None:
        best: tuple[int, int, float, int] | None = None
        best_id = ""
        skills = agent.profile.skills
        for queue_id in agent.member_of:
            queue = self._queues[queue_id]
            waiting = queue.waiting
            if not waiting.count:
                continue
            queue.refresh(now, self._tz)
            for sig in waiting.parts:
                if sig and not all(skills.get(name, 0) >= level for name, level in sig):
                    continue
                entry = waiting.head(sig)
                key = (-queue.priority, entry[0], entry[1], entry[2])
                if best is None or key < best:
                    best, best_id = key, entry[3]
        if best is not None and self._silent(self._calls[best_id]):
            return self._reachable_call_for(agent, now)
        return self._calls[best_id] if best is not None else None

    def _silent(self, call: Call) -> bool:
        return bool(call.node) and call.node in self.silent_nodes

    def _reachable_call_for(self, agent: Agent, now: float) -> Call | None:
        """``_call_for`` when the best call is on a silent node (rare, so a plain scan): the best
        call the agent may take whose node is heard from."""
        best: tuple[int, int, float, int] | None = None
        found = None
        skills = agent.profile.skills
        for queue_id in agent.member_of:
            queue = self._queues[queue_id]
            for call in queue.waiting.ordered():
                if self._silent(call) or not all(skills.get(n, 0) >= level for n, level in call.extra.items()):
                    continue
                key = (-queue.priority, -call.priority, call.arrived_at, call.seq)
                if best is None or key < best:
                    best, found = key, call
                break                       # ordered: the first one this agent may take is the queue's best
        return found

    def _set_aside_disposition(self, agent: Agent) -> None:
        """The pending disposition stops blocking offers; it can still be saved (the latest few)."""
        agent.undisposed[agent.wrap_call] = agent.wrap_queue
        while len(agent.undisposed) > UNDISPOSED_KEPT:
            del agent.undisposed[next(iter(agent.undisposed))]
        agent.wrap_call = agent.wrap_queue = agent.wrap_caller = ""
        agent.wrap_up_until = None

    def _wrap_up_expired(self, agent: Agent, now: float, events: list[Event]) -> None:
        call_id, queue_id = agent.wrap_call, agent.wrap_queue
        self._set_aside_disposition(agent)
        events.append(WrapUpExpired(agent.profile.id, call_id, queue_id))
        if agent.state is AgentState.AFTER_CALL_WORK:
            self._make_ready(agent, now, events, reason="wrap-up limit")

    # -- calls ----------------------------------------------------------------------------------

    def _arm(self, call: Call, queue: QueueRuntime, now: float) -> None:
        """Deadlines of a call entering ``queue`` (or of a queue whose settings changed)."""
        config = queue.config
        call.overflow_at = now + config.overflow.after_seconds if config.overflow is not None else None
        call.max_wait_at = now + config.max_wait.seconds if config.max_wait is not None else None
        self._push_call_timers(call)

    def _push_call_timers(self, call: Call) -> None:
        if call.overflow_at is not None:
            self._timers.push(call.overflow_at, TimerKind.OVERFLOW, call.id)
        if call.max_wait_at is not None:
            self._timers.push(call.max_wait_at, TimerKind.MAX_WAIT, call.id)

    def _place(self, call: Call, queue: QueueRuntime, now: float, events: list[Event]) -> None:
        """A call entering ``queue``'s line: offered at once if a member is ready, else waiting."""
        wanted = queue.config.skills
        call.extra = {name: level for name, level in call.skills.items() if wanted.get(name, 0) < level}
        agents = [] if self._silent(call) else self._agents_for(call, queue, now)
        if agents:
            self._offer(call, agents, now, events)
        else:
            self._token += 1
            queue.waiting.add(call, self._token)

    def _agents_for(self, call: Call, queue: QueueRuntime, now: float) -> list[Agent]:
        ready = queue.ready
        if not ready.ids:
            return []
        queue.refresh(now, self._tz)
        if ready.strategy is Strategy.RING_ALL:
            return ready.every(call.extra)
        agent = ready.best(call.extra)
        return [agent] if agent is not None else []

    def _offer(self, call: Call, agents: list[Agent], now: float, events: list[Event]) -> None:
        queue = self._queues[call.queue_id]
        call.state = OFFERED
        call.offered_to = [agent.profile.id for agent in agents]
        call.attempts += 1
        call.offer_deadline = deadline = now + queue.config.offer_timeout_seconds + self.offer_grace
        self._timers.push(deadline, TimerKind.OFFER, call.id)
        ring_all = queue.ready.strategy is Strategy.RING_ALL
        for agent in agents:
            self._unindex(agent)
            agent.call_id = call.id
            events.append(Offered(call.id, queue.config.id, agent.profile.id, agent.device, call.attempts, ring_all))
            self._set_state(agent, RESERVED, "", now, events)

    def _requeue(self, call: Call, now: float, events: list[Event]) -> None:
        """An offer that ended without an answer: back to its place, unless a deadline passed meanwhile."""
        call.state = WAITING
        call.offer_deadline = None
        overdue = [(at, kind) for at, kind in ((call.max_wait_at, TimerKind.MAX_WAIT),
                                              (call.overflow_at, TimerKind.OVERFLOW)) if at is not None and at <= now]
        if overdue:
            _, kind = min(overdue)
            if kind is TimerKind.MAX_WAIT:
                self._leave(call, LeaveReason.MAX_WAIT, now, events)
            else:
                self._overflow(call, now, events)
            return
        self._push_call_timers(call)                # their entries were dropped while it rang
        events.append(Requeued(call.id, call.queue_id))
        self._place(call, self._queues[call.queue_id], now, events)

    def _missed(self, call: Call, agent_ids: list[str], reason: str, now: float, events: list[Event]) -> None:
        if call.node and call.node in self.silent_nodes:
            # the call's node is not heard from: the phone could not ring, the agent is not to blame
            released = [self._agents[agent_id] for agent_id in agent_ids]
            for agent in released:
                self._release(call, agent, NODE_SILENT, events)
            if not call.offered_to:
                self._requeue(call, now, events)
            for agent in released:
                self._make_ready(agent, now, events, idle_since=agent.idle_since)
            return
        limit = self._queues[call.queue_id].config.missed_offer_limit
        missed = []
        for agent_id in agent_ids:
            call.offered_to.remove(agent_id)
            agent = self._agents[agent_id]
            agent.call_id = ""
            agent.missed_offers += 1
            events.append(OfferMissed(call.id, agent_id, reason))
            missed.append(agent)
        if not call.offered_to:
            self._requeue(call, now, events)
        for agent in missed:
            if limit is not None and agent.missed_offers >= limit:
                self._set_state(agent, AgentState.NOT_READY, "missed offers", now, events)
            else:
                self._make_ready(agent, now, events)

    def _release(self, call: Call, agent: Agent, reason: str, events: list[Event]) -> None:
        call.offered_to.remove(agent.profile.id)
        agent.call_id = ""
        events.append(OfferReleased(call.id, agent.profile.id, reason))

    def _leave(self, call: Call, reason: LeaveReason, now: float, events: list[Event]) -> None:
        queue = self._queues[call.queue_id]
        if call.token:
            queue.waiting.remove(call)
        released = [self._agents[agent_id] for agent_id in call.offered_to]
        for agent in released:
            self._release(call, agent, NODE_LOST if reason is LeaveReason.NODE_LOST else "caller left", events)
        waited = now - call.entered_at
        counters = queue.counters
        destination = ""
        if reason is LeaveReason.ABANDONED:
            counters.abandoned += 1
            counters.abandoned_in_target += int(waited <= queue.config.service_level_seconds)
        elif reason is LeaveReason.MAX_WAIT:
            counters.timed_out += 1
            destination = queue.config.max_wait.destination if queue.config.max_wait is not None else ""
        elif reason is LeaveReason.NODE_LOST:
            counters.node_lost += 1
        else:
            counters.cancelled += 1
        del self._calls[call.id]
        events.append(CallLeft(call.id, queue.config.id, reason, destination, waited))
        for agent in released:
            self._make_ready(agent, now, events, idle_since=agent.idle_since)

    def _overflow(self, call: Call, now: float, events: list[Event]) -> None:
        source = self._queues[call.queue_id]
        assert source.config.overflow is not None
        target = self._queues[source.config.overflow.queue_id]
        if call.token:
            source.waiting.remove(call)
        source.counters.overflowed += 1
        target.counters.entered += 1
        events.append(CallOverflowed(call.id, source.config.id, target.config.id, now - call.entered_at))
        call.queue_id, call.entered_at, call.state = target.config.id, now, WAITING
        self._arm(call, target, now)
        self._place(call, target, now, events)

    # -- derived state --------------------------------------------------------------------------

    def _membership(self, agent: Agent) -> tuple[str, ...]:
        queues = self._queues
        return tuple(sorted(q for q in agent.profile.queues if q in queues and agent.profile.serves(queues[q].config)))
