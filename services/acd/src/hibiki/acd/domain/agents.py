"""Commands about agents: login (any seat), logout, ready, break, not ready, and the disposition
that ends after-call work (CC-03). Each validates, applies and returns its events in order.
"""

from __future__ import annotations

from hibiki.acd.domain.core import Core
from hibiki.common.dialstring import DEVICE
from hibiki.acd.domain.entities import Agent
from hibiki.acd.domain.enums import ON_CALL, AgentState
from hibiki.acd.domain.errors import (
    AgentBusy,
    DeviceInUse,
    DispositionRequired,
    InvalidArgument,
    InvalidState,
    UnknownCall,
    UnknownDevice,
)
from hibiki.acd.domain.events import AgentStateChanged, DispositionSaved, Event


class AgentCommands(Core):
    def login(self, agent_id: str, device: str, now: float, *, ready: bool = False) -> list[Event]:
        """The agent logs in with their own ID on ``device`` (any seat, any device of theirs).

        A logged-out agent becomes NOT_READY (READY with ``ready``). A logged-in agent moves to the
        new device unless on a call. Another agent still logged in on the seat is logged out,
        unless on a call (``DeviceInUse``)."""
        agent = self._agent(agent_id)
        if not device:
            raise InvalidArgument("login needs a device")
        if DEVICE.fullmatch(device) is None:   # it rings as user/<device>@<domain>: never a separator
            raise UnknownDevice(f"{device[:80]!r} is not a device name (a SIP username or extension)")
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
            agent.wrap_call = agent.wrap_queue = agent.wrap_caller = ""
            agent.wrap_up_until = None
            events: list[Event] = [DispositionSaved(agent_id, call_id, queue_id, case_type, note)]
            if agent.state is AgentState.AFTER_CALL_WORK:
                self._make_ready(agent, now, events)
            return events
        if call_id in agent.undisposed:
            return [DispositionSaved(agent_id, call_id, agent.undisposed.pop(call_id), case_type, note)]
        raise UnknownCall(f"agent {agent_id} has no disposition to save for call {call_id}")
