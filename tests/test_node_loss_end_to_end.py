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
