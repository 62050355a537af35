"""``bridge`` (mod_dptools audio_bridge_function, switch_ivr_originate.c), simulated.

The dial string is split on ``|`` (try in turn) and ``,`` (ring together); ``{..}``/``[..]``
variable blocks are stripped.  What each endpoint does comes from the call's
``answering_endpoints``: ``"answer"`` (answers and stays until the caller hangs up), a number
(answers, hangs up after that many seconds), or a hangup cause (``USER_BUSY``,
``NO_ANSWER``, ...).  Endpoints not listed fail with ``NO_ANSWER``.  CHANNEL_BRIDGE /
CHANNEL_UNBRIDGE carry Bridge-A-Unique-ID / Bridge-B-Unique-ID (switch_ivr_bridge.c).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .session import HangupError

if TYPE_CHECKING:
    from .session import CallSession

__all__ = ["app_bridge"]

DIALSTATUS = {"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER", "NO_USER_RESPONSE": "NOANSWER",
              "ORIGINATOR_CANCEL": "CANCEL"}


async def app_bridge(s: "CallSession", data: str) -> None:
    ch = s.ch
    spec = re.sub(r"^\{[^}]*\}", "", data.strip())
    endpoints: dict[str, object] = getattr(s, "answering_endpoints", {}) or {}
    cause = "NO_ANSWER"
    winner: str | None = None
    behaviour: object = None
    for group in spec.split("|"):
        for ep in group.split(","):
            ep = re.sub(r"^\[[^]]*\]", "", ep.strip())
            b = endpoints.get(ep, "NO_ANSWER")
            if b == "answer" or isinstance(b, (int, float)):
                winner, behaviour = ep, b
                break
            cause = str(b)
        if winner:
            break
    if winner is None:
        ch.set_var("originate_disposition", cause)
        ch.set_var("DIALSTATUS", DIALSTATUS.get(cause, "CHANUNAVAIL"))
        cof = (ch.get_var("continue_on_fail") or "").strip()
        if cof.lower() == "true" or cause in [c.strip() for c in cof.split(",")]:
            return
        s.hangup(cause)
        return
    b_uuid = ch.switch.new_uuid()
    s.answer()
    ch.set_var("originate_disposition", "SUCCESS")
    ch.set_var("DIALSTATUS", "SUCCESS")
    ch.set_var("last_bridge_to", b_uuid)
    ch.times["bridged"] = ch.switch.clock()
    ch.executed_bridges = getattr(ch, "executed_bridges", []) + [winner]  # type: ignore[attr-defined]
    ch.fire("CHANNEL_BRIDGE", ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 0),
            post=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", b_uuid)])
    try:
        if behaviour == "answer":
            await ch.hangup_event.wait()
        else:
            await s.media_wait(float(behaviour))  # type: ignore[arg-type]
    except HangupError:
        pass
    ch.set_var("last_bridge_hangup_cause", "NORMAL_CLEARING")
    ch.fire("CHANNEL_UNBRIDGE", ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", 0),
            post=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", b_uuid)])
    if ch.up and (ch.get_var("hangup_after_bridge") or "").lower() == "true":
        s.hangup("NORMAL_CLEARING")
