"""Persistence: ``to_state()`` writes the whole machine as plain JSON types, ``from_state()``
reads it back; the indexes and timers are not written but rebuilt from the records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from hibiki.acd.domain.codec import queue_from_dict, queue_to_dict
from hibiki.acd.domain.core import OFFERED, READY, WAITING, Core
from hibiki.acd.domain.entities import Agent, Call
from hibiki.acd.domain.enums import AgentState, CallState
from hibiki.acd.domain.errors import InvalidArgument
from hibiki.acd.domain.queues import Counters, QueueRuntime
from hibiki.acd.domain.timers import TimerKind

STATE_VERSION = 1


class Snapshot(Core):
    def to_state(self) -> dict[str, Any]:
        """The whole machine as plain JSON types; ``Acd.from_state`` gives an equivalent machine."""
        return {"version": STATE_VERSION, "tenant": self.tenant, "timezone": self.timezone, "seq": self._seq,
                "queues": [{"config": queue_to_dict(q.config), "counters": q.counters.to_dict()}
                           for q in self._queues.values()],
                "agents": [agent.to_dict() for agent in self._agents.values()],
                "calls": [call.to_dict() for call in self._calls.values()]}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
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

    def _rebuild(self) -> None:
        """Indexes and timers from the records alone (after a restore)."""
        for queue in self._queues.values():
            queue.members.clear()
        for agent in self._agents.values():
            agent.member_of = self._membership(agent)
            for queue_id in agent.member_of:
                self._queues[queue_id].members.add(agent.profile.id)
            if agent.state is READY:
                agent.ready_epoch += 1
                for queue_id in agent.member_of:
                    self._queues[queue_id].ready.add(agent)
            if agent.wrap_call and agent.wrap_up_until is not None:
                self._timers.push(agent.wrap_up_until, TimerKind.WRAP_UP, agent.profile.id)
        for call in self._calls.values():
            queue = self._queues[call.queue_id]
            if call.state is WAITING:
                wanted = queue.config.skills
                call.extra = {n: level for n, level in call.skills.items() if wanted.get(n, 0) < level}
                self._token += 1
                queue.waiting.add(call, self._token)
            elif call.state is OFFERED and call.offer_deadline is not None:
                self._timers.push(call.offer_deadline, TimerKind.OFFER, call.id)
            if call.state is not CallState.TALKING:
                self._push_call_timers(call)
