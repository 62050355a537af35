"""Issue 11 #4 on the real switch: an ACD decision breaks the position/expected-wait
announcement a waiting caller hears, and the agent is rung within 100 ms (it was 8.6 s: the
offer waited for the announcement to end; 10.07 s here before the fix). The time asserted runs
from the ACD's ``agent.state_changed`` to READY to the bridge's CHANNEL_EXECUTE, FreeSWITCH's event
timestamp corrected by how far its clock runs behind this one (~10 ms, measured with ``bgapi``)."""

from __future__ import annotations

import time
from typing import Any

from hibiki.events.v1 import agent_pb2
from support.switch.bench import SwitchBench

RUNG_WITHIN_MS = 100


def fs_clock_lag(bench: SwitchBench) -> float:
    """How far FreeSWITCH's event timestamps run behind this machine's clock (seconds): the
    BACKGROUND_JOB of a ``bgapi`` cannot be older than the moment it was asked for."""
    esl = bench.fs.esl()
    try:
        esl.subscribe("BACKGROUND_JOB")
        lags = []
        for _ in range(5):
            asked = time.time()
            esl._command("bgapi status", 5)
            job = esl.wait_event("BACKGROUND_JOB", timeout=5)
            lags.append(asked - int(job.get("Event-Date-Timestamp")) / 1e6)
        return max(0.0, max(lags))
    finally:
        esl.close()


def became_ready(bench: SwitchBench, mark: int) -> float:
    """When the ACD made agent a1 ready (its ``agent.state_changed``, this machine's clock)."""
    for event in bench.events.wait("hibiki.ann.agent.state_changed", after=mark):
        change = agent_pb2.AgentStateChanged.FromString(event.data)
        if change.agent_id == "a1" and change.current == agent_pb2.AGENT_STATE_READY:
            return change.meta.occurred_at.ToMicroseconds() / 1e6
    raise AssertionError("agent a1 never became ready")


def test_an_agent_ready_during_the_announcement_is_rung_within_100_ms(bench: SwitchBench) -> None:
    bench.tenant("ann")
    seat = bench.extension("ann", "2201")[0]
    bench.acd.put("/api/v1/tenants/ann/queues/water", {"id": "water"})
    bench.acd.put("/api/v1/tenants/ann/agents/a1", {"skills": {}, "queues": ["water"]})
    bench.directory.post("/api/v1/tenants/ann/dids", {"number": "046-251-7000", "target_kind": "queue",
                                                      "target": "water"})
    phone = bench.baresip(seat)                       # the agent's desk phone, answers by itself
    prompts = str(bench.stack.data / "prompts")
    esl = bench.fs.esl()
    esl.subscribe("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE")
    mark = bench.fs.log_mark()
    caller = bench.carrier_call("0462517000", caller="09011112222", talk_ms=30000, background=True)
    try:
        announcement = esl.wait_event("CHANNEL_EXECUTE", timeout=20, Application="playback")
        while prompts not in announcement.get("Application-Data"):     # hold music first, if any
            announcement = esl.wait_event("CHANNEL_EXECUTE", timeout=20, Application="playback")
        time.sleep(1.0)                               # the caller is a second into the announcement
        mark = bench.events.mark()
        asked = time.time()
        bench.acd.post("/api/v1/tenants/ann/agents/a1/login", {"device": "2201", "ready": True})
        broken = esl.wait_event("CHANNEL_EXECUTE_COMPLETE", timeout=20, Application="playback",
                                **{"Application-Data": announcement.get("Application-Data")})
        bridge = esl.wait_event("CHANNEL_EXECUTE", timeout=20, Application="bridge")
        seen = time.time()                            # the bridge event had reached the test by then
        ready = became_ready(bench, mark)
        lag = fs_clock_lag(bench)

        def fs_time(event: Any) -> float:
            return int(event.get("Event-Date-Timestamp")) / 1e6 + lag

        ended_ms = (fs_time(broken) - ready) * 1000
        rung_ms = (fs_time(bridge) - ready) * 1000
        print(f"\nagent ready {ready - fs_time(announcement):.2f} s into the announcement "
              f"({(ready - asked) * 1000:.0f} ms after the login was sent): the announcement stopped {ended_ms:.0f} ms "
              f"and the bridge to the agent started {rung_ms:.0f} ms later (FreeSWITCH's clock, {lag * 1000:.0f} ms "
              f"behind, corrected); its event reached the test {(seen - ready) * 1000:.0f} ms after")
        assert rung_ms < RUNG_WITHIN_MS
        assert "hibiki_agent=a1" in bridge.get("Application-Data") and "user/2201@" in bridge.get("Application-Data")
        phone.wait("CALL_ESTABLISHED")                # the agent's phone rang and answered
        phone.wait("CALL_RTPESTAB")                   # and hears the caller
    finally:
        esl.close()
        caller.stop()
    assert ("playback", announcement.get("Application-Data")) in bench.fs.applications(mark)
