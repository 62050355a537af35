"""The machine's records (queues, agents, calls, devices, timers) and their lookups.

``Records`` is the base of ``Core`` and so of ``Acd``: it checks the tenant and timezone, holds
the state the other modules share, and finds a record by id, raising the domain's error
(``UnknownQueue``, ``UnknownAgent``, ``UnknownCall``, ``NoSuchOffer``) when there is none.
"""

from __future__ import annotations

from collections.abc import Container
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hibiki.acd.domain.entities import Agent, Call
from hibiki.acd.domain.enums import CallState
from hibiki.acd.domain.errors import InvalidArgument, NoSuchOffer, UnknownAgent, UnknownCall, UnknownQueue
from hibiki.acd.domain.queues import QueueRuntime
from hibiki.acd.domain.timers import Timers


class Records:
    def __init__(self, tenant: str, timezone: str = "Asia/Tokyo") -> None:
        if not tenant:
            raise InvalidArgument("an ACD belongs to a tenant")
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(f"unknown timezone {timezone!r}") from None
        self._tz = tz
        self._queues: dict[str, QueueRuntime] = {}
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, Call] = {}
        self._devices: dict[str, str] = {}          # device -> agent logged in there
        self._timers = Timers()
        self._seq = 0                               # arrival order of calls (persisted)
        self._token = 0                             # waiting-index entries (derived)
        # Seconds the ACD's own offer timer waits beyond the queue's offer timeout: callcontrol
        # rings for the offer timeout and reports the outcome; the timer is the safety net for
        # an outcome that never comes (a service setting, not persisted).
        self.offer_grace = 0.0
        # FreeSWITCH nodes no callcontrol has reported connected for a while (the service's
        # view, shared, not persisted): an offer of a call on one of them that fails is released,
        # not held against the agent (their phone could not ring); see ``CallCommands.nodes_lost``.
        self.silent_nodes: Container[str] = frozenset()
        self.tenant = tenant
        self.timezone = timezone

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
