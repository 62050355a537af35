"""Call events from the inbound event sockets: every answered and every ended call of a tenant.

The IVR publishes its own steps; what happens on the switch around it (a call answered by a
phone, a call that ends anywhere) arrives as CHANNEL_ANSWER and CHANNEL_HANGUP_COMPLETE on
each node's inbound connection, with the channel's variables. Channels without
``hibiki_tenant`` (set by the directory on its users and numbers) are not ours to report.
Event ids are derived from the leg's UUID and the event, so two controllers connected to the same
node publish the same message id and JetStream keeps one. ``CallEnded`` carries one leg each, with
the call it belongs to and FreeSWITCH's own times (``leg_record``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter

from hibiki.callcontrol import recording_stop
from hibiki.callcontrol.esl.model import NodeEvent
from hibiki.callcontrol.esl.nodes import NodePool
from hibiki.callcontrol.leg_record import MAX_MICROS, attended_target_leg, fill, number
from hibiki.callcontrol.publisher import SOURCE, EventSink
from hibiki.common.logging import get_logger
from hibiki.events.v1 import call_pb2, meta_pb2

log = get_logger("hibiki.callcontrol.channels")
NAMESPACE = uuid.UUID("6f1d3c52-5b0e-4c59-a1a5-2f8f4e0c2a11")

# Every ended leg of a tenant by leg (a: the caller's, b: the callee's) and result: the call-setup
# SLO is failed / all. Each controller connected to a node counts that node's legs (every replica
# sees every event), so compare rates, never add them up across replicas.
LEGS_ENDED = Counter("hibiki_callcontrol_legs_ended_total", "Ended call legs of a tenant, by leg and result",
                     ["leg", "result"])
# Causes that say the platform or the network failed to set the call up (Q.850 as FreeSWITCH names
# them); a busy, unanswered, cancelled or misdialled call is not a setup failure.
SETUP_FAILURES = frozenset({
    "DESTINATION_OUT_OF_ORDER", "NETWORK_OUT_OF_ORDER", "NORMAL_TEMPORARY_FAILURE", "SWITCH_CONGESTION",
    "REQUESTED_CHAN_UNAVAIL", "NORMAL_CIRCUIT_CONGESTION", "RECOVERY_ON_TIMER_EXPIRE", "SERVICE_UNAVAILABLE",
    "BEARERCAPABILITY_NOTAVAIL", "INCOMPATIBLE_DESTINATION", "PROTOCOL_ERROR", "INTERWORKING",
    "MEDIA_TIMEOUT", "GATEWAY_DOWN", "SYSTEM_SHUTDOWN", "CHAN_NOT_IMPLEMENTED", "MANDATORY_IE_MISSING",
})


def leg_result(message: call_pb2.CallEnded) -> str:
    """``answered``, ``failed`` (a setup failure, SETUP_FAILURES) or ``unanswered``."""
    if message.HasField("answered_at"):
        return "answered"
    return "failed" if message.hangup_cause in SETUP_FAILURES else "unanswered"


def _stamp(micros: str) -> Timestamp | None:
    """FreeSWITCH's ``*-Time`` headers: microseconds since the epoch, 0 when it did not happen."""
    value = number(micros)
    if value is None or not 0 < value <= MAX_MICROS:
        return None
    stamp = Timestamp()
    stamp.FromMicroseconds(value)
    return stamp


def _meta(event: NodeEvent, tenant: str, kind: str) -> meta_pb2.EventMeta:
    meta = meta_pb2.EventMeta(id=str(uuid.uuid5(NAMESPACE, f"{event.call_uuid}/{kind}")), tenant=tenant,
                              source=SOURCE, call_uuid=event.call_uuid,
                              node=event.get("FreeSWITCH-Hostname") or event.node)
    stamp = _stamp(event.get("Event-Date-Timestamp"))
    if stamp is not None:
        meta.occurred_at.CopyFrom(stamp)
    else:
        meta.occurred_at.GetCurrentTime()
    return meta


AgentOnDevice = Callable[[str, str], Awaitable[str]]      # (tenant, device) -> agent id, "" for nobody

# what ``uuid_getvar`` may hand back as a transfer target (a number, an extension, a user part)
TARGET = re.compile(r"^[0-9A-Za-z*#+._-]{1,64}$")


class ChannelEvents:
    def __init__(self, pool: NodePool, sink: EventSink, agent_on: AgentOnDevice | None = None) -> None:
        self._sink, self._agent_on, self._pool = sink, agent_on, pool
        pool.on("CHANNEL_ANSWER", self.answered)
        pool.on("CHANNEL_HANGUP_COMPLETE", self.ended)
        pool.on("RECORD_STOP", self.recording_stopped)

    async def recording_stopped(self, event: NodeEvent) -> None:
        """A finished Hibiki recording goes to the recording service (``recording_stop``)."""
        message = recording_stop.stopped(event.headers, event.node)
        if message is None:
            return
        phone = recording_stop.device(event.headers)
        if message.queue_id and not message.agent_id and phone and self._agent_on is not None:
            # a queue call's leg the ACD did not offer (a transfer target): an agent's phone or a user's
            message.agent_id = await self._agent_on(message.meta.tenant, phone)
        log.info("recording_stopped", tenant=message.meta.tenant, call_uuid=message.leg_uuid,
                 recording_id=message.recording_id, path=message.spool_path, recorded_ms=message.recorded_ms,
                 agent_id=message.agent_id, queue_id=message.queue_id)
        self._sink.publish(message.meta.tenant, "stopped", message, category="recording")

    async def answered(self, event: NodeEvent) -> None:
        tenant = event.get("variable_hibiki_tenant")
        if not tenant:
            return
        by = (event.get("variable_hibiki_callee") or event.get("variable_hibiki_user")
              or event.get("Caller-Callee-ID-Number") or event.get("Caller-Destination-Number"))
        message = call_pb2.CallAnswered(meta=_meta(event, tenant, "answered"), answered_by=by,
                                        queue_id=event.get("variable_hibiki_queue"))
        log.info("call_answered", tenant=tenant, call_uuid=event.call_uuid, answered_by=by, node=event.node)
        self._sink.publish(tenant, "answered", message)

    async def ended(self, event: NodeEvent) -> None:
        tenant = event.get("variable_hibiki_tenant")
        if not tenant:
            return
        message = fill(call_pb2.CallEnded(meta=_meta(event, tenant, "ended")), event.headers, event.call_uuid)
        if (target_leg := attended_target_leg(event.headers)) and not message.transfer_target:
            message.transfer_target = await self._attended_target(event, tenant, target_leg)
        result = leg_result(message)
        LEGS_ENDED.labels("b" if message.leg == call_pb2.CALL_LEG_B else "a", result).inc()
        log.info("call_ended", tenant=tenant, call_uuid=event.call_uuid, call_id=message.call_id,
                 leg=call_pb2.CallLeg.Name(message.leg), cause=message.hangup_cause, result=result, node=event.node)
        self._sink.publish(tenant, "ended", message)

    async def _attended_target(self, event: NodeEvent, tenant: str, target_leg: str) -> str:
        """The number the target's channel rang (``dialed_user`` of a user's leg, else its
        destination) while it still talks to the caller; "" when it is gone or FreeSWITCH is
        unreachable (the leg is still reported as transferred)."""
        for variable in ("dialed_user", "destination_number"):
            try:
                reply = (await self._pool.api_on(event.node, f"uuid_getvar {target_leg} {variable}", timeout=2.0)).strip()
            except Exception as exc:        # noqa: BLE001 - the record goes out without the target
                log.warning("transfer_target_unknown", tenant=tenant, call_uuid=event.call_uuid, reason=str(exc))
                return ""
            if TARGET.match(reply) and reply != "_undef_":
                return reply
        log.warning("transfer_target_unknown", tenant=tenant, call_uuid=event.call_uuid, reason="target leg gone")
        return ""
