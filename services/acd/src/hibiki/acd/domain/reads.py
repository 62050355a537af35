"""The reads: snapshots of agents, calls and queues (``views``), positions and lookups by device.
They change nothing but a queue's current routing profile, refreshed for the time asked.
"""

from __future__ import annotations

from hibiki.acd.domain.core import Core
from hibiki.acd.domain.enums import ON_CALL, PAUSED, AgentState, CallState
from hibiki.acd.domain.errors import UnknownAgent
from hibiki.acd.domain.model import QueueConfig
from hibiki.acd.domain.views import AgentView, CallView, QueueStats, WaitingCall


class Reads(Core):
    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def queue_config(self, queue_id: str) -> QueueConfig:
        return self._queue(queue_id).config

    def agent(self, agent_id: str) -> AgentView:
        a = self._agent(agent_id)
        current = self._calls.get(a.call_id) if a.call_id else None
        caller, call_queue = ((current.caller, current.queue_id) if current is not None
                              else (a.wrap_caller, a.wrap_queue) if a.wrap_call else ("", ""))
        return AgentView(a.profile.id, a.state, a.reason, a.device, a.state_since, a.idle_since, a.call_id,
                         a.wrap_call, a.wrap_up_until, tuple(a.undisposed), a.calls_handled, a.missed_offers,
                         dict(a.profile.skills), tuple(sorted(a.profile.queues)), a.member_of,
                         caller, call_queue)

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
                        c.overflow_at, c.max_wait_at, c.node)

    def calls(self) -> list[CallView]:
        return [self.call(call_id) for call_id in self._calls]

    def position(self, call_id: str) -> int | None:
        """The call's place in its queue (1: next), None when it is not waiting."""
        call = self._call(call_id)
        return self._queues[call.queue_id].waiting.position(call) if call.state is CallState.WAITING else None

    def agents_logged_in(self, queue_id: str) -> int:
        """The queue's members that are logged in (what ``queue_stats`` counts, without the rest)."""
        agents = self._agents
        return sum(1 for agent_id in self._queue(queue_id).members
                   if agents[agent_id].state is not AgentState.LOGGED_OUT)

    def queue_stats(self, queue_id: str, now: float) -> QueueStats:
        queue = self._queue(queue_id)
        queue.refresh(now, self._tz)
        waiting = tuple(WaitingCall(c.id, c.caller, c.priority, now - c.entered_at, c.node) for c in queue.waiting.ordered())
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
            c.service_level(), abandoned_in_target=c.abandoned_in_target, node_lost=c.node_lost)
