"""Issue 10 items 3, 5 and 8 on the real switch (FreeSWITCH 1.10.12 on the project's conf, the
stack as ``hibiki up`` starts it, sipp and baresip phones).

* 3: a phone with no outbound classes dials ``hibiki_route_external_09012345678``: SIP 404, no
  bridge to the carrier (an IVR branch still reaches it: the grant callcontrol sets is the
  only way in, tests/security/test_route_forgery.py).
* 5: a fake outbound event-socket session with this node's real Core-UUID, ``hibiki_app=agent:login:301``
  and the tenant's name: callcontrol does nothing (0 commands), the agent stays logged out.
* 8: callcontrol frozen (SIGSTOP: the kernel still accepts its connections, nobody acts): a
  carrier call to a DID whose IVR is in callcontrol reaches the number's fallback (the desk phone
  rings) within a few seconds through the scheduled transfer; callcontrol running takes the call
  (the IVR runs, the timer is cancelled)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from security.esl_peer import fake_session
from support.switch.bench import Extension, SwitchBench

DID = "0265781111"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchBench]:
    """The tier's bench, with callcontrol pointed at the moved gRPC ports (``hibiki up`` leaves
    HIBIKI_CALLCONTROL_DIRECTORY_GRPC / _ACD_GRPC on their defaults when the ports move)."""
    bench = SwitchBench(tmp_path_factory.mktemp("bench"))
    bench.stack.env["HIBIKI_CALLCONTROL_DIRECTORY_GRPC"] = f"127.0.0.1:{bench.stack.port('DIRECTORY_GRPC_PORT')}"
    bench.stack.env["HIBIKI_CALLCONTROL_ACD_GRPC"] = f"127.0.0.1:{bench.stack.port('ACD_GRPC_PORT')}"
    try:
        bench.start()                         # returns once callcontrol is connected to this FreeSWITCH
        yield bench
    finally:
        bench.stop()


@pytest.fixture(scope="module")
def office(bench: SwitchBench) -> dict[str, Extension]:
    bench.tenant("sec")
    bench.carrier_gateway("sec", "sec-carrier")
    lobby = bench.extension("sec", "3003", outbound_classes=[])[0]
    desk = bench.extension("sec", "3001")[0]
    bench.directory.post("/api/v1/tenants/sec/ivrs", {"id": "main", "name": "代表", "root_menu": "top", "menus": [
        {"id": "top", "greeting": {"sound": "ivr/top.wav"}, "choices": {"1": {"extension": "3001"}}}]})
    bench.directory.post("/api/v1/tenants/sec/dids", {"number": DID, "target_kind": "ivr", "target": "main",
                                                      "closed_kind": "user", "closed_target": desk.user_id})
    bench.acd.put("/api/v1/tenants/sec/agents/301", {"skills": {}, "queues": []})
    return {"lobby": lobby, "desk": desk}


def callcontrol_pid(bench: SwitchBench) -> int:
    """The callcontrol process ``hibiki up`` started (a descendant of the bench's ``hibiki up``)."""
    assert bench.stack.process is not None
    parents = {bench.stack.process.pid}
    for _ in range(3):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(stat[1]) in parents:
                if "serve callcontrol" in cmdline:
                    return int(entry.name)
                parents.add(int(entry.name))
    raise AssertionError("callcontrol process not found")


@pytest.fixture
def frozen_callcontrol(bench: SwitchBench) -> Iterator[int]:
    pid = callcontrol_pid(bench)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_phone_cannot_dial_an_internal_route(bench: SwitchBench, office: dict[str, Extension]) -> None:
    mark = bench.fs.log_mark()
    bench.sipp_call(office["lobby"], "hibiki_route_external_09012345678", talk_ms=500)   # the announcement answers
    ran = bench.fs.applications(mark)
    carrier_legs = [data for app, data in ran if app == "bridge" and "sofia/gateway" in data]
    print(f"real switch: forged hibiki_route_external_09012345678 -> {[app for app, _ in ran]}, "
          f"carrier legs {len(carrier_legs)}")
    assert carrier_legs == []
    assert ("playback", "system/unallocated.wav") in ran
    assert bench.fs.wait_log(r"hibiki_route_external_09012345678 refused", mark)


def test_a_fake_session_with_the_nodes_core_uuid_does_nothing(bench: SwitchBench,
                                                              office: dict[str, Extension]) -> None:
    import asyncio

    core = bench.fs.api("global_getvar core_uuid").strip()
    host, port = bench.stack.callcontrol_esl.rsplit(":", 1)
    channel = {"Event-Name": "CHANNEL_DATA", "Core-UUID": core, "FreeSWITCH-Hostname": "fs",
               "Unique-ID": str(uuid.uuid4()), "Caller-Destination-Number": "*50301",
               "variable_current_application": "socket", "variable_hibiki_app": "agent:login:301",
               "variable_hibiki_tenant": "sec", "variable_hibiki_domain": bench.domain("sec"),
               "variable_hibiki_agent_device": "attacker-seat"}
    sent = asyncio.run(fake_session(host, int(port), channel, linger=3))
    acted = [c for c in sent if c != "exit"]
    state = bench.acd.get("/api/v1/tenants/sec/agents/301/state")
    print(f"real switch: fake session with the node's Core-UUID {core}: actions taken {len(acted)}, "
          f"agent 301 {state['state']!r}")
    assert acted == [] and state["state"] == "logged_out"
    assert "session not vouched for" in bench.stack.log("callcontrol")


def test_a_running_callcontrol_takes_the_call_and_cancels_the_timer(bench: SwitchBench,
                                                                    office: dict[str, Extension]) -> None:
    mark = bench.fs.log_mark()
    caller = bench.carrier_call(DID, talk_ms=8000, background=True)
    try:
        bench.fs.wait_log(r"play_and_get_digits", mark, timeout=10)
    except TimeoutError:
        raise AssertionError(bench.fs.log_since(mark)[-3000:] + bench.stack.log("callcontrol")[-3000:]) from None
    time.sleep(6.5)
    log = bench.fs.log_since(mark)
    print(f"real switch: callcontrol took the call (IVR running); transfers to hibiki_handoff_missed after 6.5 s: "
          f"{log.count('hibiki_handoff_missed@')}")
    assert "hibiki_handoff_missed@" not in log
    caller.result(timeout=30)


def test_a_frozen_callcontrol_leaves_the_caller_on_the_fallback(bench: SwitchBench, office: dict[str, Extension],
                                                                frozen_callcontrol: int) -> None:
    desk = bench.baresip(office["desk"], auto_answer=True)
    mark = bench.fs.log_mark()
    started = time.monotonic()
    caller = bench.carrier_call(DID, talk_ms=20000, background=True)
    bench.fs.wait_log(r"Transfer .* to XML\[hibiki_handoff_missed@public\]", mark, timeout=15)
    transferred_after = time.monotonic() - started
    desk.wait("CALL_ESTABLISHED", timeout=30)      # after the apology, the number's fallback route
    rang_after = time.monotonic() - started
    ran = [app for app, _ in bench.fs.applications(mark)]
    print(f"real switch: callcontrol frozen (SIGSTOP): timer fired after {transferred_after:.1f} s, the caller "
          f"heard the apology and the fallback (desk phone) answered after {rang_after:.1f} s")
    assert transferred_after < 7.0
    assert "playback" in ran and "bridge" in ran
    caller.stop()
