"""What an agent code asks the ACD, and why it may be refused.

``login`` names the agent (``AgentLogin`` on this phone, ready). Every other code acts for the
agent logged in on this phone, found with ``GetAgentSnapshot(device=...)``: ``logout``
(``AgentLogout``), ``ready``/``not_ready``/``break`` (``SetAgentState``, a break with its
reason code), ``disposition`` (``SaveDisposition`` of the call in the snapshot, which must be
waiting for its case type: after-call work, or a pause taken from it).

A request ends ``Done`` or ``Refused`` with one of ``Refusal``'s reasons; nothing here raises
for the ACD's answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from hibiki.acd.v1 import acd_pb2
from hibiki.callcontrol.agent.request import Action, AgentRequest
from hibiki.callcontrol.queue.client import AcdRefused, AcdUnavailable
from hibiki.events.v1 import agent_pb2

STATES = {Action.READY: agent_pb2.AGENT_STATE_READY, Action.NOT_READY: agent_pb2.AGENT_STATE_NOT_READY,
          Action.BREAK: agent_pb2.AGENT_STATE_BREAK}
# States in which the snapshot's call is the one waiting for its case type (else: on a call).
WRAPPING = frozenset({agent_pb2.AGENT_STATE_AFTER_CALL_WORK, agent_pb2.AGENT_STATE_BREAK,
                      agent_pb2.AGENT_STATE_NOT_READY})


class AgentAcd(Protocol):
    """The ACD calls an agent code needs (``queue.client.AcdClient``)."""

    async def agent_login(self, tenant: str, agent_id: str, device: str, ready: bool) -> acd_pb2.AgentSnapshot: ...

    async def agent_logout(self, tenant: str, agent_id: str) -> acd_pb2.AgentSnapshot: ...

    async def set_agent_state(self, tenant: str, agent_id: str, state: agent_pb2.AgentState.ValueType,
                              reason: str = "") -> acd_pb2.AgentSnapshot: ...

    async def save_disposition(self, tenant: str, agent_id: str, call_uuid: str,
                               case_type: str) -> acd_pb2.AgentSnapshot: ...

    async def agent_on_device(self, tenant: str, device: str) -> acd_pb2.AgentSnapshot: ...


class Refusal(StrEnum):
    UNKNOWN_AGENT = "unknown agent"                      # *50 with an id the ACD does not know
    NOT_LOGGED_IN = "not logged in here"                 # no agent on this phone
    NOT_PENDING = "disposition not pending"              # *55 with no call waiting for a case type
    REFUSED = "refused by the ACD"                       # busy, seat taken, disposition required first
    ACD_UNAVAILABLE = "ACD unavailable"


@dataclass(frozen=True)
class Done:
    agent_id: str
    state: str              # the agent's state now (AgentState name)


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    detail: str = ""
    agent_id: str = ""


Result = Done | Refused


def _done(snapshot: acd_pb2.AgentSnapshot, agent_id: str) -> Done:
    return Done(snapshot.agent_id or agent_id, agent_pb2.AgentState.Name(snapshot.state))


async def apply(acd: AgentAcd, tenant: str, device: str, request: AgentRequest) -> Result:
    """Carry out ``request`` for the phone ``device`` of ``tenant``."""
    try:
        return await _apply(acd, tenant, device, request)
    except AcdUnavailable as exc:
        return Refused(Refusal.ACD_UNAVAILABLE, str(exc))
    except AcdRefused as exc:
        return Refused(Refusal.REFUSED, f"{exc.code}: {exc}")


async def _apply(acd: AgentAcd, tenant: str, device: str, request: AgentRequest) -> Result:
    if request.action is Action.LOGIN:
        agent_id = request.argument
        try:
            return _done(await acd.agent_login(tenant, agent_id, device, ready=True), agent_id)
        except AcdRefused as exc:
            if exc.code == "NOT_FOUND":
                return Refused(Refusal.UNKNOWN_AGENT, str(exc), agent_id)
            raise
    try:
        snapshot = await acd.agent_on_device(tenant, device)
    except AcdRefused as exc:
        if exc.code in ("NOT_FOUND", "INVALID_ARGUMENT"):
            return Refused(Refusal.NOT_LOGGED_IN, str(exc))
        raise
    agent_id = snapshot.agent_id
    if not agent_id or snapshot.device != device or snapshot.state == agent_pb2.AGENT_STATE_LOGGED_OUT:
        return Refused(Refusal.NOT_LOGGED_IN, f"the ACD has no agent on {device}", agent_id)
    if request.action is Action.LOGOUT:
        return _done(await acd.agent_logout(tenant, agent_id), agent_id)
    if request.action is Action.DISPOSITION:
        if not snapshot.call_uuid or snapshot.state not in WRAPPING:
            return Refused(Refusal.NOT_PENDING, f"agent {agent_id} is {agent_pb2.AgentState.Name(snapshot.state)}"
                                                f" with no call waiting for its case type", agent_id)
        try:
            return _done(await acd.save_disposition(tenant, agent_id, snapshot.call_uuid, request.argument), agent_id)
        except AcdRefused as exc:
            if exc.code == "NOT_FOUND":
                return Refused(Refusal.NOT_PENDING, str(exc), agent_id)
            raise
    return _done(await acd.set_agent_state(tenant, agent_id, STATES[request.action], request.argument), agent_id)
