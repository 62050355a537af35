"""Whether an outbound event-socket session really is a call of one of our FreeSWITCH nodes.

Anyone who reaches callcontrol's event-socket port can answer ``connect`` with made-up
channel data (``hibiki_app=agent:login:301``, another tenant's ``hibiki_tenant``). So the
data a session reports is used only once the node it claims to come from confirms it, over
the inbound event socket callcontrol keeps to every node (``HIBIKI_CALLCONTROL_FREESWITCH_NODES``):

1. its ``Core-UUID`` is that of a configured, connected node (``global_getvar core_uuid``
   when the node connects, and the ``Core-UUID`` of its events);
2. on that node the channel ``Unique-ID`` exists and is running ``socket`` right now
   (its ``current_application``);
3. every variable callcontrol acts on (``VOUCHED``) has on the node the value the session
   reported.

The node is asked once per session: ``eval uuid:<uuid> ${Unique-ID}|:|${variable_current_application}|:|...``
(mod_commands' eval expands the channel's CHANNEL_DATA headers, without expanding a value again),
one round trip on the inbound connection instead of one ``uuid_getvar`` per variable (8), whose
replies queue behind every event the node sends on that connection. No channel: ``Unique-ID`` comes
back empty. A value holding the separator gives more fields than asked for: refused.

With no node configured nothing can vouch for a session: every one is refused (and
``/readyz`` says so). The dialplan's scheduled fallback transfer (``last_sched_id`` while
``hibiki_handoff`` is set) comes back with the verdict, read from the node, not from the session.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass

from hibiki.callcontrol.esl.errors import NodeError
from hibiki.callcontrol.esl.nodes import NodePool
from hibiki.common.digits import ascii_digits

VOUCHED = ("hibiki_app", "hibiki_tenant", "hibiki_domain", "hibiki_agent_device", "hibiki_ivr_at")
HANDOFF, HANDOFF_TASK = "hibiki_handoff", "last_sched_id"   # the dialplan's timer: sched_transfer's task id
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SEPARATOR = "|:|"
ASKED = ("current_application", HANDOFF, HANDOFF_TASK, *VOUCHED)
# eval's text: the channel's Unique-ID (empty when the node has no such channel), then ASKED
QUERY = SEPARATOR.join(["${Unique-ID}", *(f"${{variable_{name}}}" for name in ASKED)])


@dataclass(frozen=True)
class Verdict:
    trusted: bool
    reason: str = ""
    node: str = ""
    handoff_task: str = ""     # sched_transfer task id to cancel once the call is taken ("" = none)


def refused(reason: str, node: str = "") -> Verdict:
    return Verdict(False, reason, node)


class NodeTrust:
    """Checks sessions against the pool's nodes (asyncio side)."""

    def __init__(self, pool: NodePool, timeout: float = 2.0) -> None:
        self._pool = pool
        self._timeout = timeout

    async def check(self, data: Mapping[str, str]) -> Verdict:
        if not self._pool.nodes:
            return refused("no FreeSWITCH node is configured (HIBIKI_CALLCONTROL_FREESWITCH_NODES)")
        call_uuid, core = data.get("Unique-ID", ""), data.get("Core-UUID", "")
        if not _UUID.match(call_uuid):
            return refused(f"Unique-ID {call_uuid[:40]!r} is not a call UUID")
        node = self._pool.node_with_core(core)
        if node is None:
            return refused(f"Core-UUID {core[:40]!r} is no connected node's")
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._pool.api_on(node, f"eval uuid:{call_uuid} {QUERY}")
        except (NodeError, TimeoutError) as exc:
            return refused(f"node {node} could not be asked: {exc or type(exc).__name__}", node)
        fields = [field.strip() for field in reply.split(SEPARATOR)]
        if len(fields) != len(ASKED) + 1:
            return refused(f"node {node} answered {len(fields)} values for channel {call_uuid}, not {len(ASKED) + 1}",
                           node)
        if fields[0] != call_uuid:
            return refused(f"no channel {call_uuid} on node {node}", node)
        values = dict(zip(ASKED, fields[1:]))
        if values["current_application"] != "socket":
            return refused(f"channel {call_uuid} on node {node} runs {values['current_application'][:40]!r}, "
                           "not socket", node)
        for name in VOUCHED:
            if values[name] != data.get(f"variable_{name}", ""):
                return refused(f"{name} differs from the channel's on node {node}", node)
        task = values[HANDOFF_TASK] if values[HANDOFF] else ""
        return Verdict(True, "", node, task if ascii_digits(task) else "")
