"""What the controller does with a call FreeSWITCH hands it.

IVRs and queues arrive with their issues. Until a call has an application, the
controller records that the call reached it, then hands the call back: it leaves the
socket, FreeSWITCH's ``socket`` application returns, and the dialplan continues with
its fallback route, so no caller is left in silence.
"""

from __future__ import annotations

import re
from typing import Any

from hibiki.callcontrol.publisher import CallEventPublisher, meta
from hibiki.common.logging import call_context, get_logger
from hibiki.events.v1 import call_pb2

log = get_logger("hibiki.callcontrol.calls")
_TENANT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def tenant_of(channel: dict[str, str]) -> str:
    """The tenant the directory stamped on the channel (``hibiki_tenant``), else ``unknown``."""
    tenant = channel.get("variable_hibiki_tenant", "")
    return tenant if _TENANT_TOKEN.match(tenant) else "unknown"


class HandBackApplication:
    def __init__(self, session: Any, publisher: CallEventPublisher) -> None:
        self._session = session
        self._publisher = publisher

    def run(self) -> None:
        channel: dict[str, str] = dict(self._session.session_data or {})
        call_uuid = channel.get("Unique-ID", "")
        tenant = tenant_of(channel)
        with call_context(tenant, call_uuid):
            destination = channel.get("Caller-Destination-Number", "")
            log.info("call_connected", destination=destination, caller=channel.get("Caller-Caller-ID-Number", ""),
                     node=channel.get("FreeSWITCH-Hostname", ""))
            self._publisher.publish(tenant, "started", call_pb2.CallStarted(
                meta=meta(tenant, call_uuid, channel.get("FreeSWITCH-Hostname", "")),
                direction=call_pb2.CALL_DIRECTION_INBOUND,
                caller_number=channel.get("Caller-Caller-ID-Number", ""),
                caller_name=channel.get("Caller-Caller-ID-Name", ""),
                destination_number=destination,
                context=channel.get("Caller-Context", ""),
            ))
            log.warning("no_call_application", destination=destination, action="handing back to the dialplan fallback")
            self._session.send("exit")
