"""A FreeSWITCH node no controller reaches any more, on the emulator (issue 16; README "Failover
between data centers"): callcontrol enqueues each call with its node and reports, once a
heartbeat, the nodes its inbound event socket is connected to; a cut shorter than the ACD's grace
drops nothing; a longer one makes the ACD drop the node's waiting call as ``node_lost``, and the
caller (whose own socket still works) goes to the dialplan's fallback route, not left waiting."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from fsemu.outbound import OutboundListener
from hibiki.callcontrol.queue.waiting import NODE_CHECK_SECONDS
from hibiki.common import bus
from hibiki.common.auth import TokenAuthority
from hibiki.events.v1 import node_pb2
from support.fsnode import vouching
from test_acd_end_to_end import center

SILENT, LOST = 0.5, 3.0


async def test_a_cut_longer_than_the_grace_drops_the_nodes_waiting_call_as_node_lost(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    beats: list[node_pb2.FsNodeHeartbeat] = []

    async def heard(msg: Any) -> None:
        beats.append(node_pb2.FsNodeHeartbeat.FromString(msg.data))

    sub = await nats_client.subscribe(bus.FS_NODE_HEARTBEAT, cb=heard)
    queues = [{"id": "night"}, {"id": "water", "skills": {"water": 1}}]
    async with center(tmp_path, nats_server, nats_client, authority, queues,
                      acd_settings={"node_silent_seconds": SILENT, "node_lost_seconds": LOST},
                      node_heartbeat_seconds=0.2) as c:
        call = await c.dial(["1", "1", "3"])                  # nobody is logged in: it waits
        await c.bus.wait("queued", lambda m: m.meta.call_uuid == call.uuid)
        waiting = (await c.snapshot("water")).waiting
        assert [(w.call_uuid, w.node) for w in waiting] == [(call.uuid, "fs")]

        # a blip: callcontrol's inbound socket to the node closes and comes back within the grace
        await c.emu.inbound.stop()
        await asyncio.sleep(1.0)
        await c.emu.inbound.start()
        await vouching(c.callcontrol.port)
        await asyncio.sleep(LOST + 1.0)
        assert not c.bus.of("left", call)
        assert [w.call_uuid for w in (await c.snapshot("water")).waiting] == [call.uuid]

        # cut for good: no controller reaches the node (the call's own socket still works)
        await c.emu.inbound.stop()
        cut_at = time.monotonic()
        left = await c.bus.wait("left", lambda m: m.meta.call_uuid == call.uuid, timeout=LOST + 10)
        dropped_after = time.monotonic() - cut_at
        await asyncio.wait_for(call.finished, 15)             # handed back to the dialplan, not left waiting
        assert not (await c.snapshot("water")).waiting
    await sub.unsubscribe()
    assert left.reason == "node_lost" and left.queue_id == "water"
    assert LOST - 0.5 < dropped_after < LOST + 8
    from_fs = [(b.node, b.connected) for b in beats if b.node == "fs"]
    assert ("fs", True) in from_fs and ("fs", False) in from_fs
    assert all(b.controller and b.interval_ms == 200 for b in beats)


def _outbound_socket(c: Any, call_uuid: str) -> OutboundListener:
    """The emulated node's outbound event socket of one call (to callcontrol)."""
    for sink in c.emu.switch.sinks:
        owner = getattr(sink, "__self__", None)
        if isinstance(owner, OutboundListener) and owner.session is not None and owner.session.ch.uuid == call_uuid:
            return owner
    raise AssertionError(f"no outbound socket for {call_uuid}")


async def test_callcontrol_outliving_its_node_reports_the_waiting_call_node_lost_at_once(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    """FreeSWITCH dies, callcontrol lives: the call's socket and the node's inbound event socket
    close together, and callcontrol cancels the waiting call as ``node_lost`` (long before the
    ACD's own grace); a call whose socket alone breaks (the node lives on and takes it to the
    dialplan's fallback) still leaves as ``cancelled``."""
    queues = [{"id": "night"}, {"id": "water", "skills": {"water": 1}}]
    async with center(tmp_path, nats_server, nats_client, authority, queues,
                      acd_settings={"node_silent_seconds": 20.0, "node_lost_seconds": 60.0},
                      node_heartbeat_seconds=0.2) as c:
        first = await c.dial(["1", "1", "3"])                 # nobody is logged in: they wait
        await c.bus.wait("queued", lambda m: m.meta.call_uuid == first.uuid)
        _outbound_socket(c, first.uuid).writer.transport.abort()   # this call's socket only
        left_first = await c.bus.wait("left", lambda m: m.meta.call_uuid == first.uuid, timeout=15)
        await asyncio.sleep(NODE_CHECK_SECONDS + 1.0)         # callcontrol's look at the node is over
        assert (await c.acd_http.get("/queues/water/stats")).json()["node_lost"] == 0

        second = await c.dial(["1", "1", "3"])
        await c.bus.wait("queued", lambda m: m.meta.call_uuid == second.uuid)
        assert [w.call_uuid for w in (await c.snapshot("water")).waiting] == [second.uuid]
        await c.emu.crash()                                   # kill -9 of the node
        crashed_at = time.monotonic()
        left_second = await c.bus.wait("left", lambda m: m.meta.call_uuid == second.uuid, timeout=15)
        dropped_after = time.monotonic() - crashed_at
        assert not (await c.snapshot("water")).waiting
        stats = (await c.acd_http.get("/queues/water/stats")).json()
    # the node took the first caller to the fallback route, which the emulator ends at once
    # (no operator there): cancelled, or abandoned when call.ended came first; never node_lost
    assert left_first.reason in ("cancelled", "abandoned") and left_first.queue_id == "water"
    assert (left_second.reason, left_second.queue_id) == ("node_lost", "water")
    assert dropped_after < 10                                 # callcontrol's report, not the ACD's 60 s grace
    assert stats["node_lost"] == 1 and stats["cancelled"] + stats["abandoned"] == 1
