"""Issue 11 #4 on the real switch: an ACD decision breaks the position/expected-wait
announcement a waiting caller hears, and the agent is rung within 100 ms (it was 8.6 s: the
offer waited for the announcement to end; 10.07 s here before the fix). The time asserted is
measured here, from just before the agent's login to the bridge's CHANNEL_EXECUTE having reached
the test (an upper bound); FreeSWITCH's own event timestamps run some ms behind this clock."""

from __future__ import annotations

import time

from support.switch.bench import SwitchBench

RUNG_WITHIN_MS = 100


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
        ready = time.time()
        bench.acd.post("/api/v1/tenants/ann/agents/a1/login", {"device": "2201", "ready": True})
        broken = esl.wait_event("CHANNEL_EXECUTE_COMPLETE", timeout=20, Application="playback",
                                **{"Application-Data": announcement.get("Application-Data")})
        bridge = esl.wait_event("CHANNEL_EXECUTE", timeout=20, Application="bridge")
        seen_ms = (time.time() - ready) * 1000        # an upper bound: the bridge event had reached us by then
        started = int(announcement.get("Event-Date-Timestamp")) / 1e6
        ended_ms = (int(broken.get("Event-Date-Timestamp")) / 1e6 - ready) * 1000
        rung_ms = (int(bridge.get("Event-Date-Timestamp")) / 1e6 - ready) * 1000
        print(f"\nagent ready {ready - started:.2f} s into the announcement: by FreeSWITCH's clock it ended "
              f"{ended_ms:.0f} ms and the agent was rung {rung_ms:.0f} ms later; the bridge event was here "
              f"{seen_ms:.0f} ms after the agent became ready")
        assert seen_ms < RUNG_WITHIN_MS
        assert "hibiki_agent=a1" in bridge.get("Application-Data") and "user/2201@" in bridge.get("Application-Data")
        phone.wait("CALL_ESTABLISHED")                # the agent's phone rang and answered
        phone.wait("CALL_RTPESTAB")                   # and hears the caller
    finally:
        esl.close()
        caller.stop()
    assert ("playback", announcement.get("Application-Data")) in bench.fs.applications(mark)
