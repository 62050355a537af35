"""The generated calls as analytics stores them: rows of ``calls``, ``legs`` and ``agent_states``.

Columns and meanings are the ``ingest`` schema's (services/analytics/README.md, ``migrations.py``);
rows are tuples in the order of ``CALLS``, ``LEGS`` and ``AGENT_STATES`` and are inserted with those
column lists, so a column the schema adds later takes its default.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from benchmarks._callcenter import TOKYO, Call

CALLS = ("tenant", "call_id", "version", "direction", "caller_number", "caller_name", "callee_number", "did",
         "user_id", "agent_id", "answered_by", "start_time", "ring_time", "answer_time", "end_time", "ring_ms",
         "wait_ms", "talk_ms", "hold_ms", "acw_ms", "ivr_path", "queue_id", "queues", "overflowed", "result",
         "hangup_cause", "sip_code", "disposition", "transfer_target", "recording_id", "test_mode", "legs", "node",
         "retention_days")
LEGS = ("tenant", "call_id", "leg_uuid", "version", "leg", "direction", "caller_number", "caller_name",
        "callee_number", "did", "user_id", "agent_id", "queue_id", "start_time", "ring_time", "answer_time",
        "bridge_time", "end_time", "talk_ms", "hold_ms", "result", "hangup_cause", "sip_code", "transfer_target",
        "recording_id", "test_mode", "node", "retention_days")
AGENT_STATES = ("tenant", "agent_id", "start_time", "event_id", "version", "state", "reason", "end_time",
                "duration_ms", "call_id", "queue_ids", "device", "retention_days")
TABLES = {"calls": CALLS, "legs": LEGS, "agent_states": AGENT_STATES}
VERSION = 1
RETENTION = 1095
NODE = "fs1"
_SIP = {"NORMAL_CLEARING": 200, "USER_BUSY": 486, "NO_ANSWER": 480, "ORIGINATOR_CANCEL": 487}


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def call_row(c: Call) -> tuple[Any, ...]:
    person_answer = c.legs[1].answered_at if len(c.legs) > 1 and c.direction == "inbound" else c.answered_at
    if c.result in ("abandoned_ivr", "abandoned_queue", "voicemail", "refused"):
        person_answer = None
    ring_ms = _ms(((person_answer or c.ended_at) - c.ring_at).total_seconds()) if c.ring_at else 0
    inbound = c.direction == "inbound"
    return (
        c.tenant, c.call_uuid, VERSION, c.direction, c.caller, "", c.callee, c.did,
        c.agent_id, c.agent_id if inbound else "", c.agent_id if inbound else "", c.started_at, c.ring_at,
        person_answer, c.ended_at, ring_ms, _ms(c.wait_s), _ms(c.talk_s), _ms(c.hold_s),
        _ms(c.acw_s) if inbound else 0, [f"{m}:{d}" for m, d in c.ivr_path],
        c.queues[-1] if c.queues else "", list(c.queues), int(len(c.queues) > 1), c.result,
        c.hangup_cause, _SIP.get(c.hangup_cause, 0), c.disposition, c.transfer_target, c.recording_id,
        int(c.test_mode), len(c.legs), NODE, RETENTION,
    )


def leg_rows(c: Call) -> Iterator[tuple[Any, ...]]:
    for i, leg in enumerate(c.legs):
        uuid = c.call_uuid if i == 0 else leg.leg_uuid
        talk = (leg.ended_at - leg.answered_at).total_seconds() if leg.answered_at else 0.0
        hint = leg.result if leg.result in ("voicemail", "refused") else (
            "transferred" if c.result == "transferred" and leg.role == "agent" else "")
        yield (
            c.tenant, c.call_uuid, uuid, VERSION, "a" if i == 0 else "b", c.direction,
            c.caller, "", leg.party if leg.role != "caller" else c.callee, c.did,
            c.agent_id if leg.role == "agent" else "",
            c.agent_id if leg.role == "agent" and c.direction == "inbound" else "",
            c.queues[-1] if leg.role == "agent" and c.queues else "",
            leg.started_at, leg.started_at if i > 0 else None, leg.answered_at,
            leg.answered_at if i > 0 else None, leg.ended_at, _ms(talk),
            _ms(c.hold_s) if leg.role == "agent" else 0, hint, leg.hangup_cause, _SIP.get(leg.hangup_cause, 0),
            c.transfer_target if hint == "transferred" else "", c.recording_id if leg.role == "agent" else "",
            int(c.test_mode), NODE, RETENTION,
        )


class Interval(NamedTuple):
    tenant: str
    agent_id: str
    start: datetime
    state: str
    end: datetime | None
    reason: str
    call_id: str

    @property
    def event_id(self) -> str:
        return f"{self.agent_id}:{self.start.timestamp():.3f}:{self.state}"


AGENT_QUEUES = ["general", "exchange", "covid", "general-backup"]


def agent_intervals(calls: Iterable[Call]) -> Iterator[Interval]:
    """One day's intervals of each agent: ready from 5 minutes before the first call, ringing,
    talking, after-call work, ready again until the next ring, logged out after the last call
    until 7:55 the next morning; from the calls the agent took (queued and outbound)."""
    by_agent: dict[str, list[Call]] = {}
    for c in calls:
        if c.agent_id and c.ring_at is not None and (c.result in ("answered", "transferred")
                                                      or c.direction == "outbound"):
            by_agent.setdefault(c.agent_id, []).append(c)
    for agent, taken in by_agent.items():
        taken.sort(key=lambda c: c.ring_at or c.started_at)
        tenant = taken[0].tenant
        first = taken[0].ring_at or taken[0].started_at
        previous_end = first - timedelta(minutes=5)
        yield Interval(tenant, agent, previous_end, "ready", first, "login", "")
        for c in taken:
            ring_at = c.ring_at or c.started_at
            agent_leg = next((leg for leg in c.legs if leg.role == "agent"), None)
            answer = agent_leg.answered_at if agent_leg and agent_leg.answered_at else ring_at
            hung_up = agent_leg.ended_at if agent_leg else c.ended_at
            acw_end = hung_up + timedelta(seconds=c.acw_s)
            if ring_at > previous_end:
                yield Interval(tenant, agent, previous_end, "ready", ring_at, "", "")
            ring_at = max(ring_at, previous_end)
            answer, hung_up, acw_end = max(answer, ring_at), max(hung_up, ring_at), max(acw_end, ring_at)
            yield Interval(tenant, agent, ring_at, "ringing", answer, "", c.call_uuid)
            yield Interval(tenant, agent, answer, "talking", hung_up, "", c.call_uuid)
            yield Interval(tenant, agent, hung_up, "after_call_work", acw_end, "", c.call_uuid)
            previous_end = max(previous_end, acw_end)
        local = previous_end.astimezone(TOKYO)
        next_login = datetime(local.year, local.month, local.day, 7, 55, tzinfo=TOKYO) + timedelta(days=1)
        yield Interval(tenant, agent, previous_end, "logged_out", next_login.astimezone(UTC), "", "")


def agent_state_rows(calls: Iterable[Call]) -> Iterator[tuple[Any, ...]]:
    for i in agent_intervals(calls):
        duration = _ms((i.end - i.start).total_seconds()) if i.end is not None else 0
        yield (i.tenant, i.agent_id, i.start, i.event_id, VERSION, i.state, i.reason, i.end, duration, i.call_id,
               AGENT_QUEUES, f"seat-{i.agent_id[-2:]}", RETENTION)
