"""Putting a queued caller through to the agents an offer names (``acd.offered``).

Callcontrol ``bridge``s to the agents' devices (``user/<device>@<domain>``, ``leg_timeout`` = the
offer's ring time, the hold music as ringback, ``continue_on_fail`` so a busy agent does not end
the call) and reports RINGING while they ring. CHANNEL_BRIDGE (fired on the caller's channel with
``Bridge-B-Unique-ID``, src/switch_ivr_bridge.c) is the answer, reported ANSWERED at once; in a
ring-all offer the agent is the answering leg's ``hibiki_agent``, read with ``uuid_getvar``.
When the bridge ends the call is over: ``EndCall`` puts the agent in after-call work. A bridge
that fails reports NO_ANSWER (rang out) or REJECTED (busy, declined, unreachable): the caller
waits again at the head of the queue (the ACD's rule).
"""

from __future__ import annotations

from typing import Any

from hibiki.acd.v1 import acd_pb2 as acd_rpc
from hibiki.callcontrol.ivr.channel import EslChannel
from hibiki.callcontrol.queue.services import AcdLine
from hibiki.common import dialstring
from hibiki.common.logging import get_logger
from hibiki.events.v1 import acd_pb2

log = get_logger("hibiki.callcontrol.queue")
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE"})


class AgentRinger:
    def __init__(self, channel: EslChannel, line: AcdLine, hold_music: str) -> None:
        self._ch, self._line, self._hold_music = channel, line, hold_music
        self._ringing: list[acd_pb2.OfferTarget] = []
        self._answer_report: Any = None     # the greenlet reporting the answer (after CHANNEL_BRIDGE)
        self._ring_report: Any = None       # the greenlet reporting RINGING (while the phones ring)
        self.answered_by = ""

    @property
    def answered(self) -> bool:
        """An agent answered (the call is, or was, bridged to them)."""
        return self._answer_report is not None

    def ring(self, offer: acd_pb2.CallOffer) -> bool:
        """Ring the offer's agents; True once one answered and the call ended."""
        import gevent

        domain = self._ch.data.get("variable_hibiki_domain", "")
        targets = list(offer.targets)
        if not targets:
            return False
        if not domain:
            log.error("agent_unreachable", queue_id=offer.queue_id, reason="no hibiki_domain on the call")
            for target in targets:
                self._line.report(target.agent_id, acd_rpc.OFFER_OUTCOME_REJECTED)
            return False
        ring = max(1, offer.ring_seconds)
        try:   # the ACD resolved each device through the directory; checked again where the string is built
            legs = [dialstring.user_leg(t.device, domain, {"hibiki_agent": t.agent_id, "hibiki_queue": offer.queue_id,
                                                           "leg_timeout": ring})
                    for t in targets]
        except dialstring.UnsafeValue as exc:
            log.error("agent_unreachable", queue_id=offer.queue_id, reason=str(exc))
            for target in targets:
                self._line.report(target.agent_id, acd_rpc.OFFER_OUTCOME_REJECTED)
            return False
        self._ringing = targets
        # RINGING goes to the ACD while the phones already ring: the round trip (the ACD persists
        # it) would otherwise delay every offer; the answer and the outcome are reported after it.
        self._ring_report = gevent.spawn(self._report_all, targets, acd_rpc.OFFER_OUTCOME_RINGING)
        log.info("agent_ringing", queue_id=offer.queue_id, agents=[t.agent_id for t in targets],
                 attempt=offer.attempt, ring_seconds=ring)
        self._ch.set("continue_on_fail", "true")
        self._ch.set("hangup_after_bridge", "true")
        self._ch.set("ringback", self._hold_music)
        self._ch.on("CHANNEL_BRIDGE", self._bridged)
        headers = self._ch.execute("bridge", dialstring.at_once(legs))
        if self.answered:
            self.end_call()
            return True
        cause = headers.get("variable_originate_disposition", "") or headers.get("variable_DIALSTATUS", "")
        outcome = acd_rpc.OFFER_OUTCOME_NO_ANSWER if cause in NO_ANSWER_CAUSES else acd_rpc.OFFER_OUTCOME_REJECTED
        log.info("agent_not_reached", queue_id=offer.queue_id, cause=cause, agents=[t.agent_id for t in targets])
        self._ring_report.join()
        self._report_all(targets, outcome)
        self._ringing = []
        return False

    def _report_all(self, targets: list[acd_pb2.OfferTarget], outcome: acd_rpc.OfferOutcome.ValueType) -> None:
        for target in targets:
            self._line.report(target.agent_id, outcome)

    def end_call(self) -> None:
        """The answered call is over: the agent goes to after-call work."""
        if self._answer_report is not None:
            self._answer_report.join()
        self._line.end()
        log.info("queue_call_ended", queue_id=self._line.queue_id, agent_id=self.answered_by)

    def _bridged(self, event: Any) -> None:
        """CHANNEL_BRIDGE (on the event greenlet): an agent answered; reported on a greenlet
        of its own (finding the agent may take an API command)."""
        import gevent

        if self._answer_report is None and self._ringing:
            self._answer_report = gevent.spawn(self._answered, event, self._ringing)

    def _answered(self, event: Any, targets: list[acd_pb2.OfferTarget]) -> None:
        agent = targets[0].agent_id
        if len(targets) > 1:
            b_leg = event.headers.get("Bridge-B-Unique-ID", "") or event.headers.get("Other-Leg-Unique-ID", "")
            try:
                named = self._ch.api(f"uuid_getvar {b_leg} hibiki_agent").strip()
            except Exception as exc:   # noqa: BLE001 - the ACD's safety timer settles it
                log.warning("answering_agent_unknown", error=str(exc))
                named = ""
            agent = next((t.agent_id for t in targets if t.agent_id == named), agent)
        self.answered_by = agent
        log.info("agent_answered", queue_id=self._line.queue_id, agent_id=agent)
        if self._ring_report is not None:
            self._ring_report.join()               # RINGING reaches the ACD before ANSWERED
        self._line.report(agent, acd_rpc.OFFER_OUTCOME_ANSWERED)
