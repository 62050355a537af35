"""The domain's read-only views as JSON types (what the HTTP API returns and peers exchange)."""

from __future__ import annotations

import math
from typing import Any

from hibiki.acd.domain import Acd, AgentView, CallState, QueueStats
from hibiki.acd.runtime.estimate import HandleTimes, expected_wait_seconds

Json = dict[str, Any]


def agent_json(view: AgentView) -> Json:
    return {"id": view.id, "state": view.state.value, "reason": view.reason, "device": view.device,
            "state_since": view.state_since, "idle_since": view.idle_since, "call_id": view.call_id,
            "pending_disposition": view.pending_disposition, "wrap_up_until": view.wrap_up_until,
            "undisposed": list(view.undisposed), "calls_handled": view.calls_handled,
            "missed_offers": view.missed_offers, "skills": dict(view.skills), "queues": list(view.queues),
            "serving": list(view.serving), "caller_number": view.caller, "call_queue_id": view.call_queue}


def stats_json(stats: QueueStats) -> Json:
    return {"queue_id": stats.queue_id, "profile": stats.profile, "strategy": stats.strategy.value,
            "priority": stats.priority,
            "waiting": [{"call_id": w.call_id, "caller": w.caller, "priority": w.priority, "waited": w.waited,
                         "node": w.node}
                        for w in stats.waiting],
            "longest_wait": stats.longest_wait, "offered": stats.offered, "talking": stats.talking,
            "agents_ready": stats.agents_ready, "agents_busy": stats.agents_busy,
            "agents_paused": stats.agents_paused, "agents_logged_in": stats.agents_logged_in,
            "entered": stats.entered, "answered": stats.answered, "answered_in_target": stats.answered_in_target,
            "abandoned": stats.abandoned, "overflowed": stats.overflowed, "timed_out": stats.timed_out,
            "cancelled": stats.cancelled, "service_level": stats.service_level, "node_lost": stats.node_lost}


class Lookup:
    """Reads of one tenant's machine for the messages and replies (see ``nats.events.Lookup``)."""

    def __init__(self, acd: Acd, handle_times: HandleTimes, now: float) -> None:
        self.acd, self.handle_times, self.now = acd, handle_times, now

    def caller(self, call_id: str) -> str:
        try:
            return self.acd.call(call_id).caller
        except LookupError:
            return ""

    def ivr_path(self, call_id: str) -> list[str]:
        try:
            return list(self.acd.call(call_id).ivr_path)
        except LookupError:
            return []

    def ring_seconds(self, queue_id: str) -> int:
        try:
            return max(1, math.ceil(self.acd.queue_config(queue_id).offer_timeout_seconds))
        except LookupError:
            return 0

    def agent_queues(self, agent_id: str) -> list[str]:
        try:
            return list(self.acd.agent(agent_id).queues)
        except LookupError:
            return []

    def expected_wait_ms(self, position: int, queue_id: str) -> int:
        agents = self.acd.agents_logged_in(queue_id) if position > 0 else 0
        return round(1000 * expected_wait_seconds(position, self.handle_times.mean(queue_id), agents))

    def queued(self, call_id: str, queue_id: str) -> tuple[int, int]:
        """Position (0: not waiting, offered already or gone) and expected wait of a call."""
        try:
            position = self.acd.position(call_id) or 0
            queue_id = self.acd.call(call_id).queue_id
        except LookupError:
            return 0, 0
        return position, self.expected_wait_ms(position, queue_id)

    def call_status(self, call_id: str) -> Json:
        call = self.acd.call(call_id)
        position, wait_ms = self.queued(call_id, call.queue_id)
        return {"call_id": call.id, "queue_id": call.queue_id, "state": call.state.value, "position": position,
                "expected_wait_ms": wait_ms, "waiting_ms": max(0, round(1000 * (self.now - call.entered_at))),
                "agent_id": call.agent_id if call.state is CallState.TALKING else ""}
