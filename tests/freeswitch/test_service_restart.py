"""Issue 11 #6 on the real switch: callcontrol killed under a running ``hibiki up`` comes back by
itself while nothing else stops (NATS and the directory keep their processes): phones go on
registering, and the next queue call is taken by the new callcontrol."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from support.switch.bench import SwitchBench


def components(pid: int) -> dict[str, int]:
    """The pid of each component a ``hibiki up`` process started (its children, from /proc)."""
    found: dict[str, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found["nats" if cmdline[0].endswith(b"nats-server") else cmdline[-2].decode()] = int(stat.parent.name)
    return found


def wait_line(bench: SwitchBench, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in bench.stack.lines if text in line]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise TimeoutError(f"{text!r} not printed:\n" + "\n".join(bench.stack.lines[-20:]))


def test_a_killed_callcontrol_comes_back_and_nothing_else_stops(bench: SwitchBench) -> None:
    bench.tenant("rs")
    phone = bench.extension("rs", "2001")[0]
    bench.acd.put("/api/v1/tenants/rs/queues/water", {"id": "water"})
    bench.directory.post("/api/v1/tenants/rs/dids", {"number": "046-251-8000", "target_kind": "queue",
                                                     "target": "water"})
    assert bench.stack.process is not None
    before = components(bench.stack.process.pid)
    os.kill(before["callcontrol"], signal.SIGKILL)
    killed = time.monotonic()
    ended = wait_line(bench, "hibiki: callcontrol ended")
    wait_line(bench, "  up   callcontrol again")
    back = time.monotonic() - killed
    after = components(bench.stack.process.pid)
    assert ended == "hibiki: callcontrol ended: killed by signal 9 (SIGKILL); starting it again in 1 s"
    assert after["callcontrol"] != before["callcontrol"]
    assert {k: v for k, v in after.items() if k != "callcontrol"} == {k: v for k, v in before.items() if k != "callcontrol"}
    assert bench.sipp_register(phone).ok                       # the directory and NATS never stopped
    esl = bench.fs.esl()
    esl.subscribe("CHANNEL_EXECUTE")
    caller = bench.carrier_call("0462518000", caller="09011112222", talk_ms=15000, background=True)
    try:
        prompts = str(bench.stack.data / "prompts")
        heard = esl.wait_event("CHANNEL_EXECUTE", timeout=20, Application="playback")
        while prompts not in heard.get("Application-Data"):     # the new callcontrol's announcement
            heard = esl.wait_event("CHANNEL_EXECUTE", timeout=20, Application="playback")
    finally:
        esl.close()
        caller.stop()
    print(f"\ncallcontrol killed, back and healthy {back:.1f} s later; NATS pid {before['nats']} unchanged; "
          f"the next queue call was announced by the new callcontrol")
