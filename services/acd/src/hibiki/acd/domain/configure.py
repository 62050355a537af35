"""Commands that configure the machine: queues and agents created, changed or removed, and the
queues' counters started again. A change applies at once: members are recomputed, waiting calls
keep their place and are matched again, a ready agent is offered a call if one now fits.
"""

from __future__ import annotations

import math

from hibiki.acd.domain.core import Core
from hibiki.acd.domain.entities import Agent
from hibiki.acd.domain.enums import AgentState, CallState
from hibiki.acd.domain.errors import InvalidState, UnknownQueue
from hibiki.acd.domain.events import Event
from hibiki.acd.domain.model import AgentProfile, QueueConfig
from hibiki.acd.domain.queues import Counters, QueueRuntime


class Configuration(Core):
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

    def reset_counters(self) -> None:
        """Start every queue's counters (entered, answered, service level, ...) from zero."""
        for queue in self._queues.values():
            queue.counters = Counters()
