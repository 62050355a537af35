"""The operations on one tenant's machine, by name, with JSON arguments and results.

One table serves the gRPC servicer, the HTTP API and forwarding between replicas (a replica
that does not own the tenant sends ``(op, args)`` to the owner). An operation returns the
domain events it caused (published by the runtime) and its result; ``READS`` change nothing
and are not persisted. Domain errors (``AcdError``) propagate unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hibiki.acd.domain import (
    Acd,
    AgentState,
    CallEnded,
    CallState,
    Event,
    InvalidArgument,
    LeaveReason,
    UnknownCall,
)
from hibiki.acd.runtime.estimate import HandleTimes
from hibiki.acd.runtime.views import Json, Lookup, agent_json, stats_json

Result = tuple[list[Event], Json]
Op = Callable[[Acd, float, HandleTimes, Json], Result]
OUTCOMES = ("ringing", "answered", "rejected", "no_answer")
CHOSEN_STATES = ("ready", "break", "not_ready", "logged_out")


def _text(args: Json, name: str) -> str:
    value = args.get(name, "")
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a string")
    return value


def _agent(acd: Acd, args: Json, events: list[Event]) -> Result:
    return events, agent_json(acd.agent(_text(args, "agent_id")))


def enqueue(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    call_id, queue_id = _text(args, "call_id"), _text(args, "queue_id")
    skills = args.get("skills") or {}
    if not isinstance(skills, dict):
        raise InvalidArgument("skills must be a mapping of name to level")
    ivr_path = args.get("ivr_path") or []
    if not isinstance(ivr_path, list) or not all(isinstance(step, str) for step in ivr_path):
        raise InvalidArgument("ivr_path must be a list of strings")
    priority = args.get("priority", 0)
    events = acd.enqueue(call_id, queue_id, now, priority=priority, skills=skills, caller=_text(args, "caller"),
                         ivr_path=ivr_path, node=_text(args, "node"))
    position, wait_ms = Lookup(acd, handle, now).queued(call_id, queue_id)
    return events, {"position": position, "expected_wait_ms": wait_ms}


CANCEL_REASONS = (LeaveReason.ABANDONED.value, LeaveReason.CANCELLED.value, LeaveReason.NODE_LOST.value)


def cancel(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    reason = _text(args, "reason") or LeaveReason.ABANDONED.value
    if reason not in CANCEL_REASONS:
        raise InvalidArgument(f"a cancel reason is abandoned, cancelled or node_lost, not {reason!r}")
    return acd.cancel(_text(args, "call_id"), now, LeaveReason(reason)), {}


def end_call(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    events = acd.call_ended(_text(args, "call_id"), now)
    ended = next((e for e in events if isinstance(e, CallEnded)), None)
    if ended is None:
        return events, {"agent_id": "", "talk_ms": 0}
    return events, {"agent_id": ended.agent_id, "talk_ms": max(0, round(ended.talked * 1000))}


def call_gone(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    """FreeSWITCH says the call hung up (``call.ended``): whatever callcontrol could not report
    (it restarted, its socket broke). Talking: the agent goes to after-call work; waiting or
    ringing: abandoned; a call the ACD no longer has: nothing."""
    try:
        view = acd.call(_text(args, "call_id"))
    except UnknownCall:
        return [], {}
    if view.state is CallState.TALKING:
        return acd.call_ended(view.id, now), {}
    return acd.cancel(view.id, now, LeaveReason.ABANDONED), {}


def nodes_lost(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    """No callcontrol reaches these FreeSWITCH nodes any more (``nats.node_watch``): their calls
    leave as ``node_lost`` (see ``Acd.nodes_lost``)."""
    nodes = args.get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(node, str) for node in nodes):
        raise InvalidArgument("nodes must be a list of node names")
    return acd.nodes_lost(nodes, now), {}


def nodes_heard(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    """Nodes heard from again after a silence: their held calls are matched (``Acd.nodes_heard``)."""
    nodes = args.get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(node, str) for node in nodes):
        raise InvalidArgument("nodes must be a list of node names")
    return acd.nodes_heard(nodes, now), {}


def report_offer(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    call_id, agent_id, outcome = _text(args, "call_id"), _text(args, "agent_id"), _text(args, "outcome")
    if outcome == "ringing":
        return acd.ringing(call_id, agent_id, now), {}
    if outcome == "answered":
        return acd.answer(call_id, agent_id, now), {}
    if outcome == "rejected":
        return acd.reject(call_id, agent_id, now, reason="rejected"), {}
    if outcome == "no_answer":
        return acd.reject(call_id, agent_id, now, reason="no answer"), {}
    raise InvalidArgument(f"an offer outcome is one of {', '.join(OUTCOMES)}, not {outcome!r}")


def login(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    ready = args.get("ready", False)
    if not isinstance(ready, bool):
        raise InvalidArgument("ready must be true or false")
    return _agent(acd, args, acd.login(_text(args, "agent_id"), _text(args, "device"), now, ready=ready))


def logout(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    return _agent(acd, args, acd.logout(_text(args, "agent_id"), now))


def set_state(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    state = _text(args, "state")
    if state not in CHOSEN_STATES:
        raise InvalidArgument(f"an agent chooses one of {', '.join(CHOSEN_STATES)}, not {state!r}")
    events = acd.set_state(_text(args, "agent_id"), AgentState(state), now, _text(args, "reason"))
    return _agent(acd, args, events)


def save_disposition(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    events = acd.save_disposition(_text(args, "agent_id"), _text(args, "call_id"), _text(args, "case_type"), now,
                                  _text(args, "note"))
    return _agent(acd, args, events)


def agent(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    """An agent by id, or with no id the agent logged in on ``device`` (feature codes)."""
    if not args.get("agent_id") and args.get("device"):
        args = {**args, "agent_id": acd.agent_on(_text(args, "device"))}
    return _agent(acd, args, [])


def queue_stats(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    return [], stats_json(acd.queue_stats(_text(args, "queue_id"), now))


def call(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    return [], Lookup(acd, handle, now).call_status(_text(args, "call_id"))


def overview(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    """The whole tenant at ``now`` (the supervisor page): every agent's view, every queue's figures."""
    return [], {"now": now, "agents": [agent_json(view) for view in acd.agents()],
                "queues": [stats_json(acd.queue_stats(queue_id, now)) for queue_id in acd.queue_ids()]}


def remove_queue(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    acd.remove_queue(_text(args, "queue_id"))
    return [], {}


def remove_agent(acd: Acd, now: float, handle: HandleTimes, args: Json) -> Result:
    acd.remove_agent(_text(args, "agent_id"))
    return [], {}


OPS: dict[str, Op] = {
    "enqueue": enqueue, "cancel": cancel, "end_call": end_call, "call_gone": call_gone, "nodes_lost": nodes_lost, "nodes_heard": nodes_heard,
    "report_offer": report_offer, "login": login,
    "logout": logout, "set_state": set_state, "save_disposition": save_disposition, "agent": agent,
    "queue_stats": queue_stats, "call": call, "overview": overview, "remove_queue": remove_queue, "remove_agent": remove_agent,
}
READS = frozenset({"agent", "queue_stats", "call", "overview"})


def observe(events: list[Event], handle: HandleTimes) -> None:
    """Feed talk times into the mean handle times."""
    for event in events:
        if isinstance(event, CallEnded):
            handle.observe(event.queue_id, event.talked)


def lookup(op: str) -> Op:
    found = OPS.get(op)
    if found is None:
        raise InvalidArgument(f"no operation {op!r}")
    return found


def describe(args: Json) -> dict[str, Any]:
    """The identifiers of an operation, for logs."""
    return {k: v for k, v in args.items() if k in ("call_id", "agent_id", "queue_id")}
