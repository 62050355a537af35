"""FreeSWITCH nodes as the ACD sees them, from callcontrol's heartbeats (``FsNodeHeartbeat`` on
``hibiki_system.fs_node.heartbeat``, core NATS): the safety net for calls whose node is gone.

A call in a queue lives on one FreeSWITCH node (``EnqueueRequest.node``). When that node dies
(its data center is lost), nobody is left to report the call's end: its callcontrol may have died
with it, and the call would wait, and be offered to agents, until the queue's maximum wait. Every
callcontrol replica reports, once a second, each node its inbound event socket is connected to.
A node is

* *reachable* while some replica reported it connected within ``silent_seconds``;
* *silent* after that: its waiting calls are held (offered to nobody: nobody may be there to
  ring), and an offer of one of its calls that fails (rejected, not answered) is released, not
  held against the agent (``Acd.silent_nodes``); heard again, its held calls are matched
  (``nodes_heard``);
* *lost* when no replica reported it connected for ``lost_seconds`` (the grace: a short blip of
  one replica's socket, a reconnecting node, a callcontrol restart drop nothing): every owned
  tenant's waiting and offered calls on it leave as ``node_lost``, the talking ones end
  (``nodes_lost``), and a tenant this replica takes over later drops them as it restores.

Several callcontrol replicas: a node counts as reachable when any of them reaches it (each holds
an event socket to every node of its data center). Several ACD replicas: each watches, the owner
of a tenant applies. A node never heard since this replica started (a call restored after a
takeover, the node's data center already gone) counts from the replica's start. A replica that
hears no heartbeat at all (its own NATS link is down, or no controller runs anywhere) decides
nothing, and when heartbeats come back every node starts a fresh grace: its own deafness is not
taken for the nodes' loss. A node heard
again after it was lost is reachable again; its calls, already gone, are not brought back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError

from hibiki.acd.domain import AcdError
from hibiki.acd.runtime.replica import NotOwner, Replica
from hibiki.acd.runtime.tenant import TenantLost
from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.events.v1 import node_pb2

log = get_logger("hibiki.acd.node_watch")
MAX_NODE = 64


class NodeWatch:
    """A component: subscribes and checks the nodes while the service runs."""

    def __init__(self, nc: Any, replica: Replica, silent_seconds: float = 3.0, lost_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._nc, self._replica, self._clock = nc, replica, clock
        self.silent_seconds, self.lost_seconds = silent_seconds, lost_seconds
        self._sub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._last_up: dict[str, float] = {}          # node -> when a replica last reported it connected
        self._last_any = 0.0                          # when any heartbeat last arrived (of any node, any state)
        self._heard: set[str] = set()                 # nodes heard again since the last check
        self.dropped = 0                              # calls dropped (metrics, tests)

    async def start(self) -> None:
        self._started = self._clock()
        self._sub = await self._nc.subscribe(bus.FS_NODE_HEARTBEAT, cb=self._handle)
        self._task = asyncio.create_task(self._loop(), name="acd-node-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:   # the connection is closing anyway
                pass
            self._sub = None

    async def _handle(self, msg: Any) -> None:
        try:
            beat = node_pb2.FsNodeHeartbeat.FromString(msg.data)
        except DecodeError:
            log.error("fs_node_heartbeat_unreadable", size=len(msg.data))
            return
        node = beat.node
        if not node or len(node) > MAX_NODE or not node.isprintable():
            return
        now = self._clock()
        if now - self._last_any > self.silent_seconds:
            # heartbeats come back after this replica heard none at all (its own NATS link, or no
            # controller anywhere): what it did not hear meanwhile says nothing of the nodes
            self._started = now
            for known in self._last_up:
                self._last_up[known] = now
        self._last_any = now
        if not beat.connected:
            self._last_up.setdefault(node, self._started)   # known, not vouched for
            return
        self._last_up[node] = now
        if node in self._replica.silent_nodes or node in self._replica.lost_nodes:
            self._heard.add(node)
            log.info("fs_node_reachable", node=node, controller=beat.controller[:MAX_NODE],
                     was="lost" if node in self._replica.lost_nodes else "silent")
            self._replica.silent_nodes.discard(node)
            self._replica.lost_nodes.discard(node)

    def check(self) -> set[str]:
        """Update the silent and lost sets; the nodes newly lost. Hearing no heartbeat at all
        (this replica cut from NATS, or no controller anywhere), it decides nothing."""
        now = self._clock()
        if now - self._last_any > self.silent_seconds:
            return set()
        known = set(self._last_up)
        for rt in list(self._replica.tenants.values()):
            known |= rt.acd.call_nodes()
        newly_lost: set[str] = set()
        for node in known:
            quiet = now - self._last_up.get(node, self._started)
            if quiet > self.silent_seconds and node not in self._replica.silent_nodes:
                self._replica.silent_nodes.add(node)
                log.warning("fs_node_silent", node=node, quiet_seconds=round(quiet, 1))
            if quiet > self.lost_seconds and node not in self._replica.lost_nodes:
                self._replica.lost_nodes.add(node)
                newly_lost.add(node)
                log.warning("fs_node_lost", node=node, quiet_seconds=round(quiet, 1),
                            reason="no callcontrol reported it connected within HIBIKI_ACD_NODE_LOST_SECONDS")
        return newly_lost

    async def apply(self) -> None:
        """Drop the calls of every lost node from the tenants this replica owns; match the calls
        held while a node now heard again was silent."""
        self.check()
        heard, self._heard = self._heard, set()
        if heard:
            await self._each_tenant("nodes_heard", heard)
        if self._replica.lost_nodes:
            await self._each_tenant("nodes_lost", self._replica.lost_nodes)

    async def _each_tenant(self, op: str, of: set[str]) -> None:
        for tenant, rt in list(self._replica.tenants.items()):
            nodes = sorted(rt.acd.call_nodes() & of)
            if not nodes or not self._replica.owns(tenant):
                continue
            try:
                before = len(rt.acd.calls())
                await self._replica.execute(tenant, op, {"nodes": nodes})
                if op == "nodes_lost":
                    self.dropped += before - len(rt.acd.calls())
                    log.warning("fs_node_calls_dropped", tenant=tenant, nodes=nodes,
                                calls=before - len(rt.acd.calls()))
            except (AcdError, NotOwner, TenantLost) as exc:
                log.warning("fs_node_op_not_applied", op=op, tenant=tenant, nodes=nodes, error=str(exc))

    async def _loop(self) -> None:
        step = min(1.0, self.silent_seconds / 3)
        while True:
            await asyncio.sleep(step)
            try:
                await self.apply()
            except Exception:   # a bug here must not stop the watch
                log.exception("fs_node_watch_failed")
