"""A finished recording, from FreeSWITCH's RECORD_STOP (``RecordingStopped``'s fields).

Pure domain code: the event's headers in, the message out (None when the file is not one of
ours). Hibiki's recordings are written by ``record_session`` / ``uuid_record`` to
``<spool>/<tenant>/<yyyy>/<mm>/<dd>/<recording id>.wav`` (the directory's dialplan and
callcontrol choose the path; the recording id is a UUID): a RECORD_STOP whose
``Record-File-Path`` has another shape (voicemail greetings and messages, a file someone else
recorded) or names another tenant than the channel's ``hibiki_tenant`` is not handed on.
The index fields come from the channel variables the dialplan and callcontrol set (the same
ones CallEnded reads: ``hibiki_call_id``, ``hibiki_direction``, ``hibiki_did``, ``hibiki_queue``,
``hibiki_agent``, ``hibiki_user``/``hibiki_callee``) and ``hibiki_recording_reason``. A queue call
is recorded on each answering leg (one recording per caller/agent pair): the leg of an agent's
transfer target names no queue of its own, the queue the call came from travels as
``hibiki_recording_queue``. On such an answering leg (FreeSWITCH's outbound leg to a phone) the
callee is the user or extension it dialled (``dialed_user``), not the phone's contact; whether that
phone is an agent's is the ACD's to say (:func:`device`, asked by ``channel_events``): the index row of
a transfer target's recording then carries the agent, else the callee and user alone.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from hibiki.callcontrol.leg_record import DIRECTIONS, TEXT_LIMIT, call_id
from hibiki.callcontrol.publisher import SOURCE
from hibiki.events.v1 import meta_pb2, recording_pb2
from hibiki.common.digits import ascii_digits

NAMESPACE = uuid.UUID("0b7e4f7a-8f0c-4d55-9a57-5c1b8d2e6a3f")
SPOOL_PATH = re.compile(r"^/(?:[^/\x00]+/)*?([A-Za-z0-9_-]{1,64})/(\d{4})/(\d{2})/(\d{2})/"
                        r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.wav$")
REASONS = {"policy": recording_pb2.RECORDING_REASON_POLICY, "on_demand": recording_pb2.RECORDING_REASON_ON_DEMAND}
_TOKEN = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")


def event_id(recording_id: str) -> str:
    """The same for every controller that sees this stop (JetStream keeps one message)."""
    return str(uuid.uuid5(NAMESPACE, f"{recording_id}/stopped"))


def _number(value: str) -> int:
    return int(value) if ascii_digits(value) and len(value) < 19 else 0


def _token(value: str) -> str:
    return value if _TOKEN.fullmatch(value) else ""


def recording_id(path: str, tenant: str) -> str:
    """The recording id a spool path names, "" when the path is not a recording of ``tenant``."""
    match = SPOOL_PATH.fullmatch(path)
    if match is None or match.group(1) != tenant or ".." in path:
        return ""
    return match.group(5)


def device(headers: Mapping[str, str]) -> str:
    """The phone an answering leg rang (``dialed_user``: an extension or user name), "" on a caller's leg."""
    if headers.get("Caller-Direction", headers.get("Call-Direction", "")) != "outbound":
        return ""
    return _token(headers.get("variable_dialed_user", ""))


def stopped(headers: Mapping[str, str], node: str = "") -> recording_pb2.RecordingStopped | None:
    """The RecordingStopped for a RECORD_STOP, None when it is not a Hibiki recording."""
    tenant = headers.get("variable_hibiki_tenant", "")
    path = headers.get("Record-File-Path", "") or headers.get("variable_record_file_path", "")
    rid = recording_id(path, tenant) if _token(tenant) else ""
    if not rid:
        return None
    leg = headers.get("Unique-ID", "")
    meta = meta_pb2.EventMeta(id=event_id(rid), tenant=tenant, source=SOURCE, call_uuid=leg,
                              node=headers.get("FreeSWITCH-Hostname", "") or node)
    stop_us = _number(headers.get("Event-Date-Timestamp", ""))
    if stop_us:
        meta.occurred_at.FromMicroseconds(stop_us)
    else:
        meta.occurred_at.GetCurrentTime()
    recorded_ms = _number(headers.get("variable_record_ms", ""))
    if not recorded_ms:
        recorded_ms = _number(headers.get("variable_record_seconds", "")) * 1000
    rate = _number(headers.get("variable_record_sample_rate", "")) or _number(
        headers.get("variable_read_rate", "")) or 8000
    stereo = headers.get("variable_RECORD_STEREO", "").lower() == "true"
    message = recording_pb2.RecordingStopped(
        meta=meta, recording_id=rid, call_id=call_id(headers, leg), leg_uuid=leg, spool_path=path,
        channels=2 if stereo else 1, sample_rate=rate,
        reason=REASONS.get(headers.get("variable_hibiki_recording_reason", ""),
                           recording_pb2.RECORDING_REASON_UNSPECIFIED),
        recorded_ms=recorded_ms,
        direction=DIRECTIONS.get(headers.get("variable_hibiki_direction", ""), 0),  # type: ignore[arg-type]
        caller_number=headers.get("Caller-Caller-ID-Number", "")[:TEXT_LIMIT],
        callee_number=device(headers) or headers.get("Caller-Destination-Number", "")[:TEXT_LIMIT],
        did=_token(headers.get("variable_hibiki_did", "")),
        queue_id=_token(headers.get("variable_hibiki_queue", "") or headers.get("variable_hibiki_recording_queue", "")),
        agent_id=_token(headers.get("variable_hibiki_agent", "")),
        user=_token(headers.get("variable_hibiki_user", "") or headers.get("variable_hibiki_callee", "")),
        part=max(1, _number(headers.get("variable_hibiki_recording_part", ""))),
        policy_scope=_token(headers.get("variable_hibiki_recording_scope", "")))
    if stop_us:
        stop = Timestamp()
        stop.FromMicroseconds(stop_us)
        message.stopped_at.CopyFrom(stop)
        start_us = _number(headers.get("variable_hibiki_recording_started", "")) or (
            stop_us - recorded_ms * 1000 if recorded_ms else 0)
        if 0 < start_us <= stop_us:
            message.started_at.FromMicroseconds(start_us)
    return message
