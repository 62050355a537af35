"""Heartbeats of the FreeSWITCH nodes this controller reaches (``FsNodeHeartbeat`` on
``hibiki_system.fs_node.heartbeat``, core NATS, not stored): every
``HIBIKI_CALLCONTROL_NODE_HEARTBEAT_SECONDS`` (1 s), one message per configured node, ``connected``
when the inbound event socket to it is up.

The ACD takes a node that no controller reports connected for its grace as lost and drops the
calls waiting in a queue on it (``hibiki.acd.nats.node_watch``). A node is never declared lost
here: a controller sees only its own socket, and when a whole data center goes, its controllers
go with it; the absence of any heartbeat is what tells. (One call is: a waiting call whose own
socket breaks while this controller's event socket to its node drops too leaves as ``node_lost``
at once, ``hibiki.callcontrol.queue.waiting``.)
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from hibiki.callcontrol.esl.nodes import NodePool
from hibiki.common import bus
from hibiki.common.logging import get_logger
from hibiki.events.v1 import node_pb2

log = get_logger("hibiki.callcontrol.node_beacon")


def controller_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class NodeBeacon:
    """A component: publishes while the service runs."""

    def __init__(self, nc: Any, pool: NodePool, interval: float = 1.0, controller: str = "") -> None:
        self._nc, self._pool, self.interval = nc, pool, interval
        self.controller = controller or controller_id()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="callcontrol-node-beacon")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def beat(self) -> None:
        """One heartbeat per configured node."""
        for state in self._pool.states():
            message = node_pb2.FsNodeHeartbeat(node=state.node, controller=self.controller, connected=state.connected,
                                               interval_ms=round(self.interval * 1000))
            message.sent_at.GetCurrentTime()
            await self._nc.publish(bus.FS_NODE_HEARTBEAT, message.SerializeToString())
            self.sent += 1

    async def _loop(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:   # NATS reconnecting: the next beat tries again
                log.warning("fs_node_heartbeat_failed", error=str(exc) or type(exc).__name__)
            await asyncio.sleep(self.interval)
