"""Requests to operation arguments and operation results to replies (AcdService)."""

from __future__ import annotations

import re

from hibiki.acd.domain import AgentState, CallState
from hibiki.acd.nats.events import AGENT_STATES
from hibiki.acd.runtime.views import Json
from hibiki.acd.v1 import acd_pb2

CALL_STATES = {CallState.WAITING.value: acd_pb2.QUEUED_CALL_STATE_WAITING,
               CallState.OFFERED.value: acd_pb2.QUEUED_CALL_STATE_OFFERED,
               CallState.TALKING.value: acd_pb2.QUEUED_CALL_STATE_TALKING}


MAX_SKILLS, MAX_STEPS, MAX_TEXT = 100, 64, 64      # as the HTTP API's models (http/schemas.py)
LEVEL = re.compile(r"[1-9][0-9]?|100")
PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]*")


def skills_from(items: list[str]) -> dict[str, int]:
    """``["water", "english:3"]`` -> ``{"water": 1, "english": 3}`` (a level defaults to 1, at most 100)."""
    if len(items) > MAX_SKILLS:
        raise ValueError(f"at most {MAX_SKILLS} skills")
    skills: dict[str, int] = {}
    for item in items:
        name, colon, level = item.partition(":")
        if not name or len(name) > MAX_TEXT or not PRINTABLE.fullmatch(name) or (colon and not LEVEL.fullmatch(level)):
            raise ValueError(f"a skill is name or name:level (1-100), not {item[:80]!r}")
        skills[name] = int(level) if colon else 1
    return skills


def enqueue_args(request: acd_pb2.EnqueueRequest) -> Json:
    for name, text in (("call_uuid", request.call_uuid), ("queue_id", request.queue_id),
                       ("caller_number", request.caller_number), ("node", request.node)):
        if len(text) > MAX_TEXT or not PRINTABLE.fullmatch(text):
            raise ValueError(f"{name} is up to {MAX_TEXT} printable characters")
    if len(request.ivr_path) > MAX_STEPS or any(len(s.menu_id) > MAX_TEXT or len(s.digits) > MAX_TEXT
                                                 for s in request.ivr_path):
        raise ValueError(f"an IVR path is up to {MAX_STEPS} steps of up to {MAX_TEXT} characters")
    return {"call_id": request.call_uuid, "queue_id": request.queue_id, "caller": request.caller_number,
            "priority": request.priority, "skills": skills_from(list(request.skills)),
            "ivr_path": [f"{step.menu_id}:{step.digits}" for step in request.ivr_path], "node": request.node}


def agent_snapshot(agent: Json) -> acd_pb2.AgentSnapshot:
    return acd_pb2.AgentSnapshot(
        agent_id=agent["id"], state=AGENT_STATES[AgentState(agent["state"])], reason=agent["reason"],
        device=agent["device"], state_since_unix_ms=round(agent["state_since"] * 1000),
        call_uuid=agent["call_id"] or agent["pending_disposition"])


def queue_snapshot(stats: Json) -> acd_pb2.QueueSnapshot:
    return acd_pb2.QueueSnapshot(
        queue_id=stats["queue_id"], agents_ready=stats["agents_ready"], agents_busy=stats["agents_busy"],
        longest_wait_ms=round(stats["longest_wait"] * 1000),
        waiting=[acd_pb2.WaitingCall(call_uuid=w["call_id"], caller_number=w["caller"], priority=w["priority"],
                                     waiting_ms=round(w["waited"] * 1000), node=w.get("node", ""))
                 for w in stats["waiting"]])


def call_status(call: Json) -> acd_pb2.CallStatus:
    return acd_pb2.CallStatus(
        call_uuid=call["call_id"], queue_id=call["queue_id"], state=CALL_STATES[call["state"]],
        position=call["position"], expected_wait_ms=call["expected_wait_ms"], waiting_ms=call["waiting_ms"],
        agent_id=call["agent_id"])
