"""Where a caller whose maximum wait passed goes (``acd.left`` with reason ``max_wait``): the
queue's destination, checked by the ACD when the queue was configured.

``extension:<ext>``, ``ring_group:<id>``, ``voicemail:<box>``, ``external:<number>``: a
``transfer`` into the dialplan (``<ext>`` or ``hibiki_route_<kind>_<target>``, which the
directory routes); ``queue:<id>``: enqueued there; ``message:<prompt id>``: played, then the
call ends; ``hangup``. Anything else, or a message that cannot be had: the dialplan's fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from hibiki.common import dialstring
from hibiki.callcontrol.ivr.channel import EslChannel
from hibiki.callcontrol.ivr.instructions import TRANSFER_KINDS, PromptRef, Transfer
from hibiki.callcontrol.ivr.prompts import PromptUnavailable
from hibiki.callcontrol.outcome import Outcome
from hibiki.callcontrol.queue.services import AcdLine
from hibiki.common.logging import get_logger
from hibiki.events.v1 import acd_pb2

log = get_logger("hibiki.callcontrol.queue")


@dataclass(frozen=True)
class Leaving:
    result: Outcome | None      # None: enqueue again, in ``queue_id``
    destination: str                # for the caller's events (the dialplan destination of a transfer)
    queue_id: str = ""


def transfer_for(target: str) -> Transfer | None:
    """``kind:target`` of a queue's maximum-wait destination as a transfer, if it is one."""
    kind, _, rest = target.partition(":")
    for known in TRANSFER_KINDS:
        if kind == known and rest:
            return Transfer(known, rest)
    return None


def leave(channel: EslChannel, line: AcdLine, context: str, left: acd_pb2.CallLeftQueue) -> Leaving:
    log.info("queue_max_wait", queue_id=left.queue_id, destination=left.destination, wait_ms=left.wait_ms)
    kind, _, target = left.destination.partition(":")
    if kind == "queue" and dialstring.TOKEN.fullmatch(target):
        channel.set("hibiki_queue", target)
        return Leaving(None, left.destination, target)
    if kind == "message" and target and _message(channel, line, target):
        channel.execute("hangup", "NORMAL_CLEARING")
        return Leaving(Outcome.HUNG_UP, left.destination)
    transfer = transfer_for(left.destination)
    to = "" if transfer is None else \
        transfer.target if transfer.kind == "extension" else f"hibiki_route_{transfer.kind}_{transfer.target}"
    if to and dialstring.TARGET.fullmatch(to) and dialstring.CONTEXT.fullmatch(context):
        channel.queue("unset", "playback_terminators")
        channel.transfer(to, context)
        return Leaving(Outcome.TRANSFERRED, to)
    if left.destination == "hangup":
        channel.execute("hangup", "NORMAL_CLEARING")
        return Leaving(Outcome.HUNG_UP, left.destination)
    log.error("queue_destination_unusable", queue_id=left.queue_id, destination=left.destination,
              action="handing back to the dialplan fallback")
    return Leaving(Outcome.HAND_BACK, left.destination)


def _message(channel: EslChannel, line: AcdLine, prompt_id: str) -> bool:
    """Play the prompt; False if it cannot be had (the caller goes to the fallback instead)."""
    try:
        path = line.prompt(PromptRef("prompt_id", prompt_id))
    except (PromptUnavailable, TimeoutError) as exc:
        log.error("queue_message_unavailable", queue_id=line.queue_id, prompt_id=prompt_id, error=str(exc))
        return False
    channel.execute("playback", path)
    return True
