"""Calls that ended in FreeSWITCH, from callcontrol's inbound event sockets (``call.ended`` on
``hibiki.<tenant>.call.ended``): the safety net for an outcome callcontrol could not report.

Callcontrol reports the end of a queued call itself (``EndCall``, ``Cancel``). When it cannot
(it was restarted while the caller talked to an agent, its socket to FreeSWITCH broke), the
agent would stay *talking* and a waiting call would be offered to agents for nobody. Every
replica receives these events; the owner of the tenant applies them (``call_gone``): a call
the ACD no longer has (reported already) changes nothing.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError

from hibiki.acd.domain import AcdError
from hibiki.acd.runtime.replica import NotOwner, Replica
from hibiki.acd.runtime.tenant import TenantLost
from hibiki.common.logging import get_logger
from hibiki.events.v1 import call_pb2

log = get_logger("hibiki.acd.call_endings")
SUBJECT = "hibiki.*.call.ended"


class CallEndings:
    """A component: subscribes while the service runs."""

    def __init__(self, nc: Any, replica: Replica) -> None:
        self._nc, self._replica = nc, replica
        self._sub: Any = None
        self.applied = 0

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(SUBJECT, cb=self._handle)

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:   # the connection is closing anyway
                pass
            self._sub = None

    async def _handle(self, msg: Any) -> None:
        tenant = msg.subject.split(".")[1]
        if not self._replica.owns(tenant):
            return
        try:
            call_uuid = call_pb2.CallEnded.FromString(msg.data).meta.call_uuid
        except DecodeError:
            log.error("call_ended_unreadable", tenant=tenant, size=len(msg.data))
            return
        if not call_uuid:
            return
        try:
            await self._replica.execute(tenant, "call_gone", {"call_id": call_uuid})
            self.applied += 1
        except (AcdError, NotOwner, TenantLost) as exc:
            log.warning("call_ended_not_applied", tenant=tenant, call_uuid=call_uuid, error=str(exc))
