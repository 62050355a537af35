"""The ACD learns from callcontrol's heartbeats (real NATS, the real service) which FreeSWITCH
nodes are still reached: a node no replica reports connected for the grace is lost, and its
waiting and offered calls leave as ``node_lost``; a shorter silence drops nothing, and an offer
that fails meanwhile is released, not missed; a node one replica still reaches is not lost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from hibiki.common import bus
from hibiki.events.v1 import node_pb2
from support.servers import running

SILENT, LOST = 0.5, 2.0


class Controllers:
    """Heartbeats as callcontrol replicas send them: ``reach[controller]`` is the nodes it is connected to."""

    def __init__(self, nc: Any) -> None:
        self.nc = nc
        self.reach: dict[str, set[str]] = {}
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            for controller, nodes in list(self.reach.items()):
                for node in sorted(nodes):
                    beat = node_pb2.FsNodeHeartbeat(node=node, controller=controller, connected=True, interval_ms=100)
                    await self.nc.publish(bus.FS_NODE_HEARTBEAT, beat.SerializeToString())
            await asyncio.sleep(0.1)

    async def __aenter__(self) -> Controllers:
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_calls_of_a_node_no_callcontrol_reaches_leave_as_node_lost(
        make_config: Any, clients: Any, tenant: str, events: Any, nats_client: Any) -> None:
    config = make_config(node_silent_seconds=SILENT, node_lost_seconds=LOST)
    async with running(main, config), Controllers(nats_client) as controllers:
        controllers.reach["cc-1"] = {"fs-a", "fs-b"}
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/water", {"missed_offer_limit": 1})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a1", {"skills": {}, "queues": ["water"]})
        await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="seat-1", ready=True),
                                metadata=c.metadata)
        await asyncio.sleep(0.3)                            # the ACD has heard both nodes

        async def enqueue(call_uuid: str, node: str) -> None:
            await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call_uuid, queue_id="water",
                                                        node=node), metadata=c.metadata)

        await enqueue("ringing", "fs-a")                    # offered to a1 at once
        await enqueue("waiting", "fs-a")
        await enqueue("other", "fs-b")
        await enqueue("old", "")                            # an older callcontrol: no node
        await events.next("acd.offered", lambda m: m.meta.call_uuid == "ringing")

        # a blip: fs-a silent for less than the grace; an offer that fails meanwhile is not missed
        controllers.reach["cc-1"] = {"fs-b"}
        await asyncio.sleep(SILENT + 0.5)
        await c.stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="ringing", agent_id="a1",
                                                            outcome=acd_pb2.OFFER_OUTCOME_REJECTED), metadata=c.metadata)
        released = await events.next("acd.offer_released", lambda m: m.meta.call_uuid == "ringing")
        await events.next("acd.offered", lambda m: m.meta.call_uuid == "other")    # a1 skips fs-a's held calls
        held = await c.stub.GetQueueSnapshot(acd_pb2.GetQueueSnapshotRequest(tenant=tenant, queue_id="water"),
                                             metadata=c.metadata)
        controllers.reach["cc-1"] = {"fs-a", "fs-b"}
        await asyncio.sleep(LOST)                           # heard again before the grace: nothing left
        assert not events.of("acd.left") and not events.of("acd.offer_missed")

        # a second replica reaches fs-a; the first loses it: still reached, nothing dropped
        controllers.reach["cc-2"] = {"fs-a"}
        controllers.reach["cc-1"] = {"fs-b"}
        await asyncio.sleep(LOST + 1.0)
        assert not events.of("acd.left")

        controllers.reach["cc-2"] = set()                   # no replica reaches fs-a any more
        lost_at = time.monotonic()
        first = await events.next("acd.left", timeout=LOST + 10)
        second = await events.next("acd.left", timeout=5)
        dropped_after = time.monotonic() - lost_at
        snapshot = await c.stub.GetQueueSnapshot(acd_pb2.GetQueueSnapshotRequest(tenant=tenant, queue_id="water"),
                                                 metadata=c.metadata)
        stats = (await c.http.get(f"/api/v1/tenants/{tenant}/queues/water/stats")).json()
    assert released.agent_id == "a1" and released.reason == "node not reachable"
    assert [w.call_uuid for w in held.waiting] == ["ringing", "waiting", "old"]
    assert [m.meta.call_uuid for m in events.of("acd.offered")] == ["ringing", "other"]   # none while silent
    assert {(m.meta.call_uuid, m.reason) for m in (first, second)} == {("ringing", "node_lost"), ("waiting", "node_lost")}
    assert LOST - 0.5 < dropped_after < LOST + 5
    ring_end = [m for m in events.of("acd.offer_released") if m.meta.call_uuid == "ringing"]
    assert [m.reason for m in ring_end] == ["node not reachable"]
    assert not events.of("acd.offer_missed")                # a1 blamed for nothing
    assert [(w.call_uuid, w.node) for w in snapshot.waiting] == [("old", "")]
    assert stats["node_lost"] == 2 and stats["abandoned"] == 0


async def test_hearing_no_heartbeat_at_all_drops_nothing(make_config: Any, clients: Any, tenant: str, events: Any,
                                                         nats_client: Any) -> None:
    """No heartbeat of any node (the ACD's own link, or no controller anywhere): not a node loss."""
    config = make_config(node_silent_seconds=SILENT, node_lost_seconds=LOST)
    async with running(main, config), Controllers(nats_client) as controllers:
        controllers.reach["cc-1"] = {"fs-a"}
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/water", {})
        await asyncio.sleep(0.3)
        await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="waiting", queue_id="water",
                                                    node="fs-a"), metadata=c.metadata)
        controllers.reach["cc-1"] = set()                   # nothing at all for longer than the grace
        await asyncio.sleep(LOST + 1.0)
        controllers.reach["cc-1"] = {"fs-b"}                # heartbeats again, of another node only
        await asyncio.sleep(LOST - 0.8)                     # within the fresh grace: still nothing
        assert not events.of("acd.left")
        left = await events.next("acd.left", timeout=5)     # fs-a still unheard past it: lost now
        snapshot = await c.stub.GetQueueSnapshot(acd_pb2.GetQueueSnapshotRequest(tenant=tenant, queue_id="water"),
                                                 metadata=c.metadata)
    assert (left.meta.call_uuid, left.reason) == ("waiting", "node_lost")
    assert not snapshot.waiting
