"""An agent code on a call (outbound event socket): answer, ask the ACD (``desk.apply``), play
the confirmation or the refusal tone, hang up. A refusal is logged with its reason.

A request that cannot be read (no device, a malformed ``hibiki_app``), a crash or a stopping
service hands the call back: the dialplan's fallback plays the refusal tone (CC-11).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hibiki.callcontrol.agent.desk import AgentAcd, Done, Refusal, Refused, Result, apply
from hibiki.callcontrol.agent.request import device_of, parse
from hibiki.callcontrol.ivr.bridge import LoopBridge
from hibiki.callcontrol.ivr.channel import CallerGone, EslChannel, Released
from hibiki.common.logging import get_logger

log = get_logger("hibiki.callcontrol.agent")
CONFIRM_TONE = "tone_stream://%(150,100,880);%(150,0,1320)"
REFUSE_TONE = "tone_stream://%(500,100,480,620);loops=2"


@dataclass(frozen=True)
class AgentServices:
    acd: AgentAcd                    # queue.client.AcdClient
    bridge: LoopBridge
    timeout: float = 7.0             # the whole request (two ACD calls at most), beyond their deadlines


class Tracker(Protocol):
    """``calls.ActiveCalls``: the calls a stopping service hands back."""

    def add(self, channel: EslChannel, hub: Any) -> None: ...

    def discard(self, channel: EslChannel) -> None: ...


def run_agent_call(session: Any, services: AgentServices, tenant: str, target: str,
                   active: Tracker | None = None) -> None:
    """The ``agent:<target>`` application on ``session`` (a greenswitch outbound session)."""
    import gevent

    channel = EslChannel(session)
    request, device = parse(target), device_of(channel.data)
    if request is None or not device:
        log.warning("agent_code_unreadable", app=target[:40], device=device,
                    action="handing back to the dialplan fallback")
        channel.hand_back()
        return
    if active is not None:
        active.add(channel, gevent.get_hub())
    try:
        channel.subscribe()
        channel.execute("answer")
        try:
            result: Result = services.bridge.call(apply(services.acd, tenant, device, request), services.timeout)
        except TimeoutError as exc:
            result = Refused(Refusal.ACD_UNAVAILABLE, str(exc))
        if isinstance(result, Done):
            log.info("agent_code_applied", code=str(request.action), argument=request.argument, device=device,
                     agent_id=result.agent_id, state=result.state)
        else:
            log.warning("agent_code_refused", code=str(request.action), argument=request.argument, device=device,
                        agent_id=result.agent_id, reason=str(result.reason), detail=result.detail)
        channel.execute("playback", CONFIRM_TONE if isinstance(result, Done) else REFUSE_TONE)
        channel.execute("hangup", "NORMAL_CLEARING")
    except Released:
        log.warning("agent_code_released", code=str(request.action), action="handing back to the dialplan fallback")
        channel.break_media()
    except CallerGone:      # hung up (by the caller, or by our hangup): nothing more to do
        pass
    except Exception:
        log.exception("agent_code_crashed", code=str(request.action), action="handing back to the dialplan fallback")
    finally:
        channel.hand_back()
        if active is not None:
            active.discard(channel)
