"""Commands about calls: a call enters a queue, leaves it, ends; an offer rings, is answered or
rejected. Each validates, applies (see ``core`` for the rules) and returns its events in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hibiki.acd.domain.core import Core
from hibiki.acd.domain.entities import Call
from hibiki.acd.domain.enums import AgentState, CallState, LeaveReason
from hibiki.acd.domain.errors import CallExists, InvalidArgument, InvalidState
from hibiki.acd.domain.events import CallAnswered, CallEnded, Enqueued, Event, OfferReleased
from hibiki.acd.domain.model import check_skills
from hibiki.acd.domain.timers import TimerKind


class CallCommands(Core):
    def enqueue(self, call_id: str, queue_id: str, now: float, *, priority: int = 0,
                skills: Mapping[str, int] | None = None, caller: str = "",
                ivr_path: Iterable[str] = (), node: str = "") -> list[Event]:
        """A call enters a queue: offered in this reply if a member may take it, else waiting."""
        if not call_id:
            raise InvalidArgument("a call needs an id")
        if call_id in self._calls:
            raise CallExists(f"call {call_id} is already in the ACD")
        queue = self._queue(queue_id)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidArgument(f"call {call_id}: priority must be an integer")
        wanted = check_skills(skills or {}, f"call {call_id}")
        if not isinstance(node, str) or len(node) > 128:
            raise InvalidArgument(f"call {call_id}: node must be a name of at most 128 characters")
        self._seq += 1
        call = self._calls[call_id] = Call(call_id, queue_id, self._seq, now, now, priority, wanted, caller,
                                           tuple(ivr_path), node=node)
        queue.counters.entered += 1
        self._arm(call, queue, now)
        events: list[Event] = [Enqueued(call_id, queue_id, priority)]
        self._place(call, queue, now, events)
        return events

    def cancel(self, call_id: str, now: float, reason: LeaveReason = LeaveReason.ABANDONED) -> list[Event]:
        """A call leaves before an answer: the caller hung up (``ABANDONED``), callcontrol took
        it elsewhere (``CANCELLED``) or lost the call's socket and its node's event socket
        together (``NODE_LOST``: the node died under a live callcontrol). Agents it rang are
        released (not blamed) and matched again."""
        call = self._call(call_id)
        try:
            reason = LeaveReason(reason)
        except ValueError:
            raise InvalidArgument(f"no leave reason {reason!r}") from None
        if reason is LeaveReason.MAX_WAIT:
            raise InvalidArgument(f"{reason.value} is the ACD's own decision")
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
        agent.wrap_call, agent.wrap_queue, agent.wrap_caller = call_id, queue.config.id, call.caller
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

    # -- FreeSWITCH nodes -----------------------------------------------------------------------

    def nodes_lost(self, nodes: Iterable[str], now: float) -> list[Event]:
        """No callcontrol reaches these FreeSWITCH nodes any more: their channels are gone with
        them. A call on one that waits or rings agents leaves its queue as ``NODE_LOST`` (its
        agents are released, not blamed, and matched again); one talking to an agent ends (the
        agent goes to after-call work, as when callcontrol reports the end). Calls with no node
        (an older callcontrol) are never touched. Idempotent: a call is dropped once."""
        lost = {node for node in nodes if node}
        events: list[Event] = []
        for call in [c for c in self._calls.values() if c.node in lost]:
            if call.state is CallState.TALKING:
                events += self.call_ended(call.id, now)
            else:
                self._leave(call, LeaveReason.NODE_LOST, now, events)
        return events

    def nodes_heard(self, nodes: Iterable[str], now: float) -> list[Event]:
        """Nodes heard from again after a silence: their waiting calls, held meanwhile (no offer
        while their node is silent), are matched with the ready agents, in their order."""
        heard = {node for node in nodes if node}
        events: list[Event] = []
        held = sorted((c for c in self._calls.values() if c.node in heard and c.state is CallState.WAITING),
                      key=lambda c: c.seq)
        for call in held:
            if self._silent(call) or call.id not in self._calls or call.state is not CallState.WAITING:
                continue
            queue = self._queues[call.queue_id]
            queue.waiting.remove(call)
            self._place(call, queue, now, events)
        return events

    def call_nodes(self) -> set[str]:
        """The nodes the calls in the ACD live on ("" excepted)."""
        return {call.node for call in self._calls.values() if call.node}
