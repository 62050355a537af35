"""Issue 16, updates without downtime, on the real switch: callcontrol replaced while calls are up
drops none. The stack's callcontrol (the old replica) holds a caller waiting in a queue and two
callers in an IVR; a new replica
starts on the same event-socket address (``HIBIKI_CALLCONTROL_ESL_REUSEPORT=on``, as a Kubernetes
Service puts pods behind one address); the old one gets SIGTERM and drains: ``/readyz`` turns 503,
a new call is taken by the new replica and runs its IVR, the two callers in progress press their
key after the SIGTERM and hear their IVR to its end on the old replica, an agent who logs in after
the SIGTERM gets the waiting caller from the old replica, and only then does the old process exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.switch import sipp
from support.switch.bench import SwitchBench
from support.switch.net import free_port

T = "upd"
NUMBER = "0422209999"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchBench]:
    """The module's own bench: the stack's callcontrol shares its event-socket address."""
    bench = SwitchBench(tmp_path_factory.mktemp("bench"))
    bench.stack.env.update({"HIBIKI_CALLCONTROL_ESL_REUSEPORT": "on", "HIBIKI_CALLCONTROL_DRAIN_SECONDS": "120"})
    try:
        bench.start()
        yield bench
    finally:
        bench.stop()


def lines(text: str) -> list[dict[str, object]]:
    found = []
    for line in text.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def calls(log: list[dict[str, object]], event: str) -> list[str]:
    return [str(line.get("call_uuid")) for line in log if line.get("event") == event]


def readyz(url: str) -> httpx.Response | None:
    try:
        return httpx.get(f"{url}/readyz", timeout=2)
    except httpx.HTTPError:
        return None


def wait_until(what: str, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


def new_replica(bench: SwitchBench, old_pid: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A second ``hibiki serve callcontrol`` with the old one's settings (its environment), its
    own HTTP port and the same event-socket address."""
    env = dict(item.split("=", 1) for item in Path(f"/proc/{old_pid}/environ").read_text().split("\0") if "=" in item)
    port = free_port("127.0.0.1")
    env["HIBIKI_CALLCONTROL_PORT"] = str(port)
    process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "serve", "callcontrol"], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def test_callcontrol_replaced_while_callers_are_in_the_ivr_drops_none(bench: SwitchBench, tmp_path: Path) -> None:
    bench.tenant(T)
    seat = bench.extension(T, "7001")[0]
    bench.acd.put(f"/api/v1/tenants/{T}/queues/water", {"offer_timeout_seconds": 10})
    bench.acd.put(f"/api/v1/tenants/{T}/agents/701", {"skills": {}, "queues": ["water"]})
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "main", "name": "代表", "root_menu": "top",
        "menus": [{"id": "top", "name": "トップ", "greeting": {"text": "ご用件の番号を押してください。"},
                   "timeout_seconds": 10, "max_tries": 6,
                   "choices": {"1": {"message": {"prompt": {"text": "ありがとうございました。"}}},
                               "2": {"queue": {"queue_id": "water"}}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": NUMBER, "target_kind": "ivr", "target": "main"})
    old_pid = bench.stack.service_pid("callcontrol")
    agent_phone = bench.baresip(seat)                         # answers by itself; not logged in yet
    mark = bench.events.mark()
    # a caller waiting in the queue on the old replica (nobody logged in), then two callers in
    # the IVR there; they press 1 well after the SIGTERM below
    waiting = bench.carrier_call(NUMBER, digits="2", before_digits_ms=2000, talk_ms=45000, background=True)
    assert isinstance(waiting, sipp.Sipp)
    bench.events.wait(f"hibiki.{T}.acd.queued", after=mark, timeout=30)
    in_progress = [bench.carrier_call(NUMBER, digits="1", before_digits_ms=25000, talk_ms=60000, remote_bye=True,
                                      background=True) for _ in range(2)]
    bench.events.wait(f"hibiki.{T}.call.ivr_entered", after=mark, timeout=20, count=3)
    replica, replica_url = new_replica(bench, old_pid, tmp_path / "new-callcontrol.log")
    try:
        wait_until("the new replica is ready", lambda: (r := readyz(replica_url)) is not None and r.status_code == 200)
        os.kill(old_pid, signal.SIGTERM)
        sigterm = time.monotonic()
        wait_until("the old replica leaves readiness",
                   lambda: (r := readyz(bench.stack.callcontrol_url)) is not None and r.status_code == 503, 10)
        assert readyz(bench.stack.callcontrol_url).json()["checks"]["accepting_calls"] is False  # type: ignore[union-attr]
        drained_mark = bench.events.mark()

        # the waiting caller: an agent logs in after the SIGTERM and gets the call from the old replica
        bench.acd.post(f"/api/v1/tenants/{T}/agents/701/login", {"device": "7001", "ready": True})
        agent_phone.wait("CALL_ESTABLISHED", timeout=40)
        for event in ("offered", "answered"):
            bench.events.wait(f"hibiki.{T}.acd.{event}", after=drained_mark, timeout=20)

        # a new call during the drain: taken by the new replica, its IVR runs to its end
        fresh = bench.carrier_call(NUMBER, digits="1", before_digits_ms=3000, talk_ms=30000, remote_bye=True)
        assert isinstance(fresh, sipp.SippResult)
        assert fresh.ok and fresh.final() == 200, fresh.output

        # the calls in progress: their key is pressed after the SIGTERM, their IVR ends normally
        results = [call.result(timeout=90) for call in in_progress if isinstance(call, sipp.Sipp)]
        assert len(results) == 2
        for result in results:
            assert result.ok and result.final() == 200, result.output
            assert result.requests("BYE"), "the switch ended the call after the IVR's message"
        queued = waiting.result(timeout=90)                    # the caller talked, then hung up
        assert queued.ok and queued.final() == 200, queued.output
        calls_ended = time.monotonic()
        wait_until("the old replica exits", lambda: not Path(f"/proc/{old_pid}").exists()
                   or Path(f"/proc/{old_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", 30)
        exited = time.monotonic()
    finally:
        replica.send_signal(signal.SIGTERM)
        replica.wait(30)

    old = lines(bench.stack.log("callcontrol"))
    new = lines((tmp_path / "new-callcontrol.log").read_text(errors="replace"))
    drain = next(i for i, line in enumerate(old) if line.get("event") == "drain_started")
    before, during = old[:drain], old[drain:]
    held = calls(before, "call_connected")
    assert len(held) == 3 and old[drain].get("calls") == 3
    queue_call, ivr_calls = held[0], held[1:]
    assert calls(during, "call_connected") == []                       # no new call on the draining replica
    assert sorted(calls(during, "ivr_choice")) == sorted(ivr_calls)    # both callers went on in their IVR
    assert sorted(calls(during, "ivr_hangup")) == sorted(ivr_calls)    # ... to its end
    assert queue_call in {str(line.get("call_uuid")) for line in during}   # the queue call was served there
    assert not [line for line in during if line.get("event") in ("handing_back_calls", "ivr_handed_back",
                                                                   "drain_timed_out", "call_application_failed")]
    assert [line.get("event") for line in during].count("drain_done") == 1
    fresh_calls = calls(new, "call_connected")
    assert len(fresh_calls) == 1 and set(fresh_calls).isdisjoint(held)
    # the new replica only saw the queue call's channel events, as every replica does (its inbound event
    # socket; the published events carry the same ids, so JetStream keeps one of each)
    assert {line.get("event") for line in new if line.get("call_uuid") == queue_call} <= {"call_answered", "call_ended"}
    assert calls(new, "ivr_hangup") == fresh_calls                     # the new call's IVR ran to its end
    assert any("hibiki: callcontrol ended: exited with code 0" in line for line in bench.stack.lines)
    assert exited >= calls_ended - 1.0
    print(f"\nold callcontrol drained: 2 calls in progress finished their IVR after SIGTERM, the waiting "
          f"caller was answered by an agent who logged in after it, "
          f"the new call went to the new replica; the old process exited {exited - sigterm:.1f} s after SIGTERM")
