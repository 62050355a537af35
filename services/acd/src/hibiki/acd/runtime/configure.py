"""Configuration (codec dicts from the config bucket) applied to a tenant's machine.

``restore`` builds the machine a replica starts owning: the last snapshot (or a new machine),
then the configuration as it is now: queues in dependency order (a queue that overflows to
another after that one), agents, and whatever was removed meanwhile. ``apply_change`` applies
one entry of the watch. A definition the domain refuses is logged and skipped: the rest of the
tenant keeps working.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from hibiki.acd.domain import AcdError, Acd, AgentProfile, AgentState, Event, InvalidArgument
from hibiki.acd.domain.codec import queue_from_dict
from hibiki.acd.runtime.mirror import TenantConfig
from hibiki.common.dialstring import DEVICE
from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.configure")


def agent_from_dict(agent_id: str, data: Mapping[str, Any]) -> AgentProfile:
    skills, queues = data.get("skills", {}), data.get("queues", [])
    if not isinstance(skills, dict):
        raise InvalidArgument("skills must be an object of name to level")
    if not isinstance(queues, list) or not all(isinstance(q, str) and q for q in queues):
        raise InvalidArgument("queues must be a list of queue ids")
    return AgentProfile(agent_id, skills, frozenset(queues))


def agent_to_dict(profile: AgentProfile) -> dict[str, Any]:
    return {"id": profile.id, "skills": dict(profile.skills), "queues": sorted(profile.queues)}


def dependency_order(queues: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Queue ids with every overflow target before the queues that overflow to it (targets
    outside ``queues`` and cycles are left to the domain to refuse)."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(queue_id: str) -> None:
        if state.get(queue_id):
            return
        state[queue_id] = 1
        overflow = queues[queue_id].get("overflow")
        target = overflow.get("queue_id") if isinstance(overflow, dict) else None
        if isinstance(target, str) and target in queues:
            visit(target)
        order.append(queue_id)

    for queue_id in sorted(queues):
        visit(queue_id)
    return order


def _guard(acd: Acd, what: str, action: Callable[[], list[Event] | None]) -> list[Event]:
    try:
        return action() or []
    except (AcdError, KeyError, TypeError, ValueError) as exc:
        log.warning("configuration_refused", tenant=acd.tenant, what=what, reason=str(exc))
        return []


def apply_change(acd: Acd, kind: str, item_id: str, data: Mapping[str, Any] | None, now: float) -> list[Event]:
    if kind == "queue":
        if data is None:
            if item_id in acd.queue_ids():
                return _guard(acd, f"remove queue {item_id}", lambda: acd.remove_queue(item_id))
            return []
        return _guard(acd, f"queue {item_id}",
                      lambda: acd.configure_queue(queue_from_dict({**data, "id": item_id}), now))
    if data is None:
        if any(a.id == item_id for a in acd.agents()):
            return _guard(acd, f"remove agent {item_id}", lambda: acd.remove_agent(item_id))
        return []
    return _guard(acd, f"agent {item_id}", lambda: acd.configure_agent(agent_from_dict(item_id, data), now))


def restore(tenant: str, timezone: str, state: Mapping[str, Any] | None, config: TenantConfig,
            now: float) -> tuple[Acd, list[Event]]:
    acd = Acd.from_state(state) if state is not None else Acd(tenant, timezone)
    events: list[Event] = []
    for queue_id in dependency_order(config.queues):
        events += apply_change(acd, "queue", queue_id, config.queues[queue_id], now)
    for agent_id in sorted(config.agents):
        events += apply_change(acd, "agent", agent_id, config.agents[agent_id], now)
    for agent in acd.agents():
        if agent.id not in config.agents:
            events += apply_change(acd, "agent", agent.id, None, now)
    removed = [q for q in acd.queue_ids() if q not in config.queues]
    for queue_id in reversed(dependency_order({q: {"overflow": _overflow(acd, q)} for q in removed})):
        events += apply_change(acd, "queue", queue_id, None, now)
    for agent in acd.agents():   # logged in before devices were checked (issue 10): never rung again
        if agent.state is not AgentState.LOGGED_OUT and not DEVICE.fullmatch(agent.device):
            log.warning("agent_device_unusable", tenant=tenant, agent_id=agent.id, device=agent.device[:80],
                        action="logged out")
            events += _guard(acd, f"logout {agent.id}", functools.partial(acd.logout, agent.id, now))
    return acd, events


def _overflow(acd: Acd, queue_id: str) -> dict[str, Any] | None:
    overflow = acd.queue_config(queue_id).overflow
    return None if overflow is None else {"queue_id": overflow.queue_id}
