"""The scripted day of ``scripted_day`` as the events callcontrol, the ACD and the agents publish."""

from __future__ import annotations

import uuid
from typing import Any

from hibiki.events.v1 import agent_pb2, call_pb2

from support import scripted_day as sd
from support.call_events import Call, Published, agent_state

A = agent_pb2
T = call_pb2


def day_of_calls(tenant: str) -> list[Published]:
    """The calls of ``support.scripted_day`` (same ids and times, same hand figures) as events."""
    def call(name: str) -> Call:
        spec = next(c for c in sd.CALLS if c.call_id == name)
        return Call(tenant, start=sd.at(spec.start), call_id=f"{name}-{uuid.uuid4().hex[:8]}")

    inbound: dict[str, Any] = {"did": sd.DID, "caller_number": "0312345678", "destination_number": sd.DID}
    events: list[Published] = []
    c1 = call("c1-answered").started()
    c1.ivr(3, "main", "1").queued(5, "general").agent_answered(15, "general", "a1", 10_000)
    c1.leg(b=True, start=6, progress=6.5, answer=15, end=165, agent_id="a1", hold_ms=20_000)
    c1.leg(answer=0.5, end=165, **inbound)
    c1.disposition(170, "a1", "住民票", "general")
    c2 = call("c2-answered-late").started()
    c2.ivr(3, "main", "1").queued(5, "general").agent_answered(45, "general", "a2", 40_000)
    c2.leg(b=True, start=40, answer=45, end=135, agent_id="a2")
    c2.leg(answer=0.5, end=135, **inbound)
    c2.disposition(150, "a2", "escalated", "general")
    c3 = call("c3-abandoned-queue").started()
    c3.ivr(3, "main", "1").queued(5, "general").left_queue(30, "general", 25_000)
    c3.leg(answer=0.5, end=30, **inbound)
    c4 = call("c4-abandoned-ivr").started()
    c4.ivr(3, "main", "").leg(answer=0.5, end=9, **inbound)
    c5 = call("c5-overflowed").started()
    c5.ivr(3, "main", "2").queued(5, "general", (("main", "2"),)).overflowed(35, "general", "backup", 30_000)
    c5.agent_answered(75, "backup", "a1", 40_000)
    c5.leg(b=True, start=70, answer=75, end=275, agent_id="a1")
    c5.leg(answer=0.5, end=275, **inbound)
    c5.disposition(280, "a1", "税", "backup")
    c6 = call("c6-transferred").started()
    c6.ivr(3, "main", "1").queued(5, "general").agent_answered(10, "general", "a2", 5_000)
    c6.leg(b=True, start=8, answer=10, end=70, agent_id="a2", hint=T.CALL_RESULT_HINT_TRANSFERRED,
           transfer_target="2001")
    c6.leg(answer=0.5, end=130, **inbound)
    c7 = call("c7-after-hours").started()                 # the closed message, then voicemail
    c7.leg(answer=0.5, end=40, hint=T.CALL_RESULT_HINT_VOICEMAIL, **inbound)
    c8 = call("c8-test-mode").started()
    c8.ivr(3, "main", "1").queued(5, "general").agent_answered(8, "general", "a1", 3_000)
    c8.leg(b=True, start=6, answer=8, end=38, agent_id="a1", test_mode=True)
    c8.leg(answer=0.5, end=38, test_mode=True, **inbound)
    c9 = call("c9-outbound").started(direction=T.CALL_DIRECTION_OUTBOUND, caller="2001", destination="0311112222")
    outbound: dict[str, Any] = {"caller_number": "2001", "destination_number": "0311112222",
                                "direction": T.CALL_DIRECTION_OUTBOUND}
    c9.leg(b=True, start=0.2, progress=1, answer=6, end=51, **outbound)
    c9.leg(answer=6, end=51, user="2001", **outbound)
    for c in (c1, c2, c3, c4, c5, c6, c7, c8, c9):
        events.extend(c.events)

    def state(agent: str, hhmmss: str, current: int, c: Call | None = None) -> Published:
        h, m, s = (int(x) for x in hhmmss.split(":"))
        return agent_state(tenant, agent, sd.at(f"{h}:{m}").replace(second=s), current, c.call_id if c else "")

    events += [
        state("a1", "09:00:00", A.AGENT_STATE_READY), state("a1", "09:05:15", A.AGENT_STATE_TALKING, c1),
        state("a1", "09:07:45", A.AGENT_STATE_AFTER_CALL_WORK, c1), state("a1", "09:08:15", A.AGENT_STATE_READY),
        state("a1", "10:31:15", A.AGENT_STATE_TALKING, c5),
        state("a1", "10:34:35", A.AGENT_STATE_AFTER_CALL_WORK, c5), state("a1", "10:34:55", A.AGENT_STATE_READY),
        state("a1", "12:00:00", A.AGENT_STATE_LOGGED_OUT),
        state("a2", "09:00:00", A.AGENT_STATE_READY), state("a2", "09:20:45", A.AGENT_STATE_TALKING, c2),
        state("a2", "09:22:15", A.AGENT_STATE_AFTER_CALL_WORK, c2), state("a2", "09:23:15", A.AGENT_STATE_READY),
        state("a2", "11:00:10", A.AGENT_STATE_TALKING, c6), state("a2", "11:01:10", A.AGENT_STATE_READY),
        state("a2", "12:00:00", A.AGENT_STATE_LOGGED_OUT),
    ]
    return events
