"""``bridge`` (mod_dptools audio_bridge_function over switch_ivr_originate), simulated.

The dial string is originated by ``originate.Originator`` (variable blocks, ``|`` groups, ``,``
legs, ``user/`` expansion through the directory, ``error/`` endpoints).  What each endpoint
does comes from the call's ``answering_endpoints``: ``"answer"`` (answers and stays until the
caller hangs up), a number (answers, hangs up after that many seconds), or a hangup cause
(``USER_BUSY``, ``NO_ANSWER``, ...).  Endpoints not listed ring out (``NO_ANSWER``).
On failure: ``originate_disposition`` = the cause, ``DIALSTATUS`` as switch_ivr_originate maps it,
``originate_failed_cause``, then ``switch_channel_handle_cause`` (``continue_on_fail`` true or a
list of causes/numbers, ``failure_causes``; without either NO_ANSWER, NO_USER_RESPONSE and
ORIGINATOR_CANCEL continue, anything else hangs the caller up with that cause).
CHANNEL_BRIDGE / CHANNEL_UNBRIDGE carry Bridge-A-Unique-ID / Bridge-B-Unique-ID
(switch_ivr_bridge.c).  Every endpoint tried is in ``channel.originations`` (``Leg``), the one
that answered also in ``channel.executed_bridges``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .causes import CAUSES
from .dialstring import separate_string, switch_true
from .originate import Originator
from .session import HangupError

if TYPE_CHECKING:
    from .session import CallSession

__all__ = ["app_bridge", "handle_cause"]

#: switch_ivr_originate: DIALSTATUS after a failed originate (any other cause: its name)
DIALSTATUS = {"ORIGINATOR_CANCEL": "CANCEL", "USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER",
              "DESTINATION_OUT_OF_ORDER": "INVALIDARGS", "INVALID_PROFILE": "INVALIDARGS",
              "CALL_REJECTED": "DONTCALL"}


def _listed(causes: str, cause: str) -> bool:
    number = str(CAUSES.get(cause, 0))
    return any(c.lower() in (cause.lower(), number) for c in separate_string(causes, ","))


def handle_cause(s: "CallSession", cause: str) -> None:
    """switch_channel_handle_cause (without transfer_on_fail)."""
    ch = s.ch
    if not ch.up:
        return
    if cause != "ATTENDED_TRANSFER":
        cof = ch.get_var("continue_on_fail")
        failure_causes = ch.get_var("failure_causes")
        if cof is not None or failure_causes is not None:
            if failure_causes is not None and not _listed(failure_causes, cause):
                return
            if cof is not None and (switch_true(cof) or _listed(cof, cause)):
                return
        elif cause in ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"):
            return
    s.hangup(cause)


async def app_bridge(s: "CallSession", data: str) -> None:
    ch = s.ch
    originator = Originator(s)
    winner, cause = await originator.originate(data)
    ch.originations += originator.legs
    if winner is None:
        ch.set_var("originate_disposition", cause)
        ch.set_var("DIALSTATUS", DIALSTATUS.get(cause, cause))
        ch.set_var("originate_failed_cause", cause)
        handle_cause(s, cause)
        return
    behaviour = winner.outcome
    b_uuid = winner.variables.get("origination_uuid") or ch.switch.new_uuid()
    peers = s.emulator.peer_vars if s.emulator is not None else {}
    peers[b_uuid] = dict(winner.variables)   # the B channel's variables (uuid_getvar)
    s.answer()
    ch.set_var("originate_disposition", "SUCCESS")
    ch.set_var("DIALSTATUS", "SUCCESS")
    ch.set_var("last_bridge_to", b_uuid)
    ch.times["bridged"] = ch.switch.clock()
    ch.executed_bridges.append(winner.endpoint)
    ch.fire("CHANNEL_BRIDGE", ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 0),
            post=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", b_uuid)])
    try:
        if behaviour == "answer":
            await ch.hangup_event.wait()
        else:
            await s.media_wait(float(behaviour))  # type: ignore[arg-type]
    except HangupError:
        pass
    peers.pop(b_uuid, None)
    ch.set_var("last_bridge_hangup_cause", "NORMAL_CLEARING")
    ch.fire("CHANNEL_UNBRIDGE", ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 0),
            post=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", b_uuid)])
    if ch.up and (ch.get_var("hangup_after_bridge") or "").lower() == "true":
        s.hangup("NORMAL_CLEARING")
