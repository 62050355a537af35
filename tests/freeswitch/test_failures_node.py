"""FreeSWITCH killed (SIGKILL) while a caller waits in a queue and callcontrol lives on (issue 16):
the call's outbound socket and callcontrol's inbound event socket to the node close together, so
callcontrol cancels the waiting call as ``node_lost`` at once: not as ``cancelled`` (there is no
caller left for a fallback route) and long before the ACD's own node watch would (3 s silent,
10 s lost). A module of its own: the bench's FreeSWITCH is gone after it."""

from __future__ import annotations

import os
import signal
import time

import httpx

from hibiki.events.v1 import acd_pb2
from support.switch import sipp
from support.switch.bench import SwitchBench

T = "nodekill"
NUMBER = "0762207777"


def test_freeswitch_killed_under_a_live_callcontrol_drops_the_waiting_call_as_node_lost(bench: SwitchBench) -> None:
    bench.tenant(T)
    bench.acd.put(f"/api/v1/tenants/{T}/queues/water", {})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": NUMBER, "target_kind": "queue", "target": "water"})
    mark = bench.events.mark()
    call = bench.carrier_call(NUMBER, talk_ms=90000, remote_bye=True, background=True)   # nobody logged in: it waits
    assert isinstance(call, sipp.Sipp)
    queued = acd_pb2.CallQueued.FromString(bench.events.wait(f"hibiki.{T}.acd.queued", after=mark, timeout=20)[0].data)
    time.sleep(1)
    assert bench.fs.process is not None
    killed_at = time.monotonic()
    os.killpg(bench.fs.process.pid, signal.SIGKILL)          # FreeSWITCH only: callcontrol lives on
    bench.fs.process.wait(10)
    left_event = bench.events.wait(f"hibiki.{T}.acd.left", after=mark, timeout=30)[0]
    left = acd_pb2.CallLeftQueue.FromString(left_event.data)
    dropped_after = left_event.at - killed_at
    stats = bench.acd.get(f"/api/v1/tenants/{T}/queues/water/stats")
    alive = httpx.get(f"{bench.stack.callcontrol_url}/healthz", timeout=5).status_code
    print(f"\nnode killed: the waiting call left as {left.reason} {dropped_after:.2f} s after FreeSWITCH's SIGKILL")
    assert (left.meta.call_uuid, left.queue_id, left.reason) == (queued.meta.call_uuid, "water", "node_lost")
    assert dropped_after < 3.0, "callcontrol's report, not the ACD's node watch (silent 3 s, lost 10 s)"
    assert (stats["node_lost"], stats["cancelled"], stats["abandoned"], stats["waiting"]) == (1, 0, 0, [])
    assert alive == 200
