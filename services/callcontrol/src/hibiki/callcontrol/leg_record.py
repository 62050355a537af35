"""What one ended call leg was, from its CHANNEL_HANGUP_COMPLETE (``CallEnded``'s leg fields).

Pure domain code: the headers and ``variable_*`` of the event in, the fields of the message out.
Times are FreeSWITCH's own (``*_uepoch`` variables, microseconds; the ``Caller-Channel-*-Time``
headers when a variable is missing). Our own variables come from the directory's dialplan
(exported to every leg the channel bridges) and from callcontrol's agent legs:

- ``hibiki_call_id``: the originating channel's UUID (the A-leg sets it to its own ``${uuid}``);
  a leg without it falls back to FreeSWITCH's ``originating_leg_uuid`` / ``originator`` (a leg
  it originated from a channel), else the leg is its own call;
- ``hibiki_direction`` (inbound | outbound | internal), ``hibiki_did``;
- ``hibiki_user`` (a user's directory variables, or the leg variable on a device leg),
  ``hibiki_agent`` and ``hibiki_queue``;
- ``hibiki_refused`` (the directory refused the call), ``hibiki_ivr_at`` (IVR test mode),
  ``hibiki_recording_id``.

Every value a phone or a carrier could have chosen (numbers, names, the dialled destination) is
cut to a bounded length; UUIDs are taken only when they look like one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from hibiki.events.v1 import call_pb2

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TEXT_LIMIT = 128
MAX_MICROS = 253402300799 * 10**6        # the last second a protobuf Timestamp can hold (9999-12-31)
DIRECTIONS = {"inbound": call_pb2.CALL_DIRECTION_INBOUND, "outbound": call_pb2.CALL_DIRECTION_OUTBOUND,
              "internal": call_pb2.CALL_DIRECTION_INTERNAL}
# FreeSWITCH's mapping of the causes it refuses a call with to the SIP status it sends
# (mod_sofia hangup_cause_to_sip), for legs whose final response FreeSWITCH sent itself
# (sip_hangup_disposition send_refuse): no sip_term_status is set on those.
CAUSE_TO_SIP = {
    "UNALLOCATED_NUMBER": 404, "NO_ROUTE_TRANSIT_NET": 404, "NO_ROUTE_DESTINATION": 404, "USER_BUSY": 486,
    "NO_USER_RESPONSE": 408, "NO_ANSWER": 480, "SUBSCRIBER_ABSENT": 480, "NORMAL_UNSPECIFIED": 480,
    "CALL_REJECTED": 603, "INVALID_NUMBER_FORMAT": 484, "OUTGOING_CALL_BARRED": 403, "INCOMING_CALL_BARRED": 403,
    "NORMAL_CIRCUIT_CONGESTION": 503, "NORMAL_TEMPORARY_FAILURE": 503, "SWITCH_CONGESTION": 503,
    "RECOVERY_ON_TIMER_EXPIRE": 504, "ORIGINATOR_CANCEL": 487,
}
_SIP_CAUSE = re.compile(r"^sip:([1-6][0-9]{2})$")
_NUMBER = re.compile(r"[0-9]{1,24}")     # ASCII digits only: str.isdigit takes "²", which int() refuses


def number(value: str) -> int | None:
    """A header's non-negative integer, or None (anything else, or absurdly long)."""
    return int(value) if _NUMBER.fullmatch(value) else None


def _text(value: str) -> str:
    return value[:TEXT_LIMIT]


def _uuid(value: str) -> str:
    return value.lower() if UUID.fullmatch(value) else ""


def _micros(headers: Mapping[str, str], variable: str, header: str = "") -> int:
    for value in (headers.get(f"variable_{variable}", ""), headers.get(header, "") if header else ""):
        micros = number(value)
        if micros is not None and 0 < micros <= MAX_MICROS:
            return micros
    return 0


def _set_time(message: call_pb2.CallEnded, field: str, micros: int) -> None:
    if micros:
        stamp = Timestamp()
        stamp.FromMicroseconds(micros)
        getattr(message, field).CopyFrom(stamp)


def call_id(headers: Mapping[str, str], leg_uuid: str) -> str:
    """The call a leg belongs to (see the module's docstring)."""
    for name in ("variable_hibiki_call_id", "variable_originating_leg_uuid", "variable_originator"):
        found = _uuid(headers.get(name, ""))
        if found:
            return found
    return _uuid(leg_uuid) or leg_uuid[:64]


def sip_code(headers: Mapping[str, str], answered: bool) -> int:
    """The leg's final SIP status: received or sent (``sip_term_status``), else the one named by
    ``proto_specific_hangup_cause``, else 200 for an answered SIP leg, else what FreeSWITCH sends
    for the hangup cause when it refused the call itself; 0 when unknown or not a SIP leg."""
    status = number(headers.get("variable_sip_term_status", ""))
    if status is not None and 100 <= status < 700:
        return status
    match = _SIP_CAUSE.fullmatch(headers.get("variable_proto_specific_hangup_cause", ""))
    if match:
        return int(match.group(1))
    if not headers.get("Channel-Name", "").startswith("sofia/"):
        return 0
    if answered:
        return 200
    if headers.get("variable_sip_hangup_disposition", "") in ("send_refuse", "send_cancel"):
        return CAUSE_TO_SIP.get(headers.get("Hangup-Cause", ""), 0)
    return 0


# ``transfer_disposition`` of a leg whose phone transferred the call (``recv_replace``: it sent the
# REFER) or whose call an attended transfer took over (``replaced``: the consultation call). A
# leg FreeSWITCH merely bridged anew (``bridge``: the caller, the target) was not transferred.
TRANSFERRED_AWAY = frozenset({"recv_replace", "replaced"})


def attended_target_leg(headers: Mapping[str, str]) -> str:
    """The UUID of the target's channel when this leg's phone completed an attended transfer
    (REFER with Replaces: FreeSWITCH sets ``transfer_to`` to ``att:<uuid>``, and no
    ``transfer_destination``), else "". Its number is that channel's, which only FreeSWITCH knows."""
    if headers.get("variable_transfer_destination"):
        return ""
    kind, _, leg = headers.get("variable_transfer_to", "").partition(":")
    return leg if kind == "att" and UUID.match(leg) else ""


def result_hint(headers: Mapping[str, str]) -> tuple[call_pb2.CallResultHint.ValueType, str]:
    """(hint, transfer target): refused when the directory refused the call; transferred when the
    phone on this leg transferred its call away (FreeSWITCH sets ``transfer_destination``, e.g.
    ``blind:2005``, and ``transfer_disposition`` ``recv_replace`` on the transferor's leg; the
    transferred leg gets ``sip_refer_to`` and goes on) or when an attended transfer replaced this
    leg's call (the consultation call, ``replaced``: its target is the number it called; the
    transferor's leg of an attended transfer has no number here, see ``attended_target_leg``);
    voicemail when the leg's last application left a message in a box (not ``voicemail check``)."""
    if headers.get("variable_hibiki_refused"):
        return call_pb2.CALL_RESULT_HINT_REFUSED, ""
    destination = headers.get("variable_transfer_destination", "")
    disposition = headers.get("variable_transfer_disposition", "")
    if destination or disposition in TRANSFERRED_AWAY:
        if not destination and disposition == "replaced":
            return call_pb2.CALL_RESULT_HINT_TRANSFERRED, _text(headers.get("variable_sip_req_user", ""))
        return call_pb2.CALL_RESULT_HINT_TRANSFERRED, _text(destination.partition(":")[2] or destination)
    if headers.get("variable_last_app") == "voicemail" and not headers.get("variable_last_arg", "").startswith("check"):
        return call_pb2.CALL_RESULT_HINT_VOICEMAIL, ""
    return call_pb2.CALL_RESULT_HINT_UNSPECIFIED, ""


def destination(headers: Mapping[str, str], leg: call_pb2.CallLeg.ValueType) -> str:
    """As dialled: on the A-leg the user part of the INVITE's Request-URI (``sip_req_user``: a
    transfer or forward re-routes the channel to names of our own, the caller dialled this), else
    its destination number; on a B-leg the user it rang (``dialed_user``, or the ``presence_id`` a
    device leg carries), else the number it was sent to."""
    dialled = headers.get("Caller-Destination-Number", "")
    if leg == call_pb2.CALL_LEG_B:
        dialled = (headers.get("variable_dialed_user") or headers.get("variable_presence_id", "").split("@")[0]
                   or dialled)
    elif headers.get("Call-Direction", "inbound") == "inbound":
        dialled = headers.get("variable_sip_req_user") or dialled
    return _text(dialled)


def fill(message: call_pb2.CallEnded, headers: Mapping[str, str], leg_uuid: str) -> call_pb2.CallEnded:
    """Sets every leg field of ``message`` from the hangup event's ``headers``."""
    message.hangup_cause = _text(headers.get("Hangup-Cause", ""))
    created = _micros(headers, "start_uepoch", "Caller-Channel-Created-Time")
    answered = _micros(headers, "answer_uepoch", "Caller-Channel-Answered-Time")
    progress = [t for t in (_micros(headers, "progress_uepoch", "Caller-Channel-Progress-Time"),
                            _micros(headers, "progress_media_uepoch", "Caller-Channel-Progress-Media-Time")) if t]
    for field, micros in (("started_at", created), ("answered_at", answered),
                          ("ended_at", _micros(headers, "end_uepoch", "Caller-Channel-Hangup-Time")),
                          ("progress_at", min(progress, default=0)),
                          ("bridged_at", _micros(headers, "bridge_uepoch", "Caller-Channel-Bridged-Time"))):
        _set_time(message, field, micros)
    message.call_id = call_id(headers, leg_uuid)
    message.leg = call_pb2.CALL_LEG_A if message.call_id == (_uuid(leg_uuid) or leg_uuid[:64]) else call_pb2.CALL_LEG_B
    message.direction = DIRECTIONS.get(headers.get("variable_hibiki_direction", ""),
                                       call_pb2.CALL_DIRECTION_UNSPECIFIED)
    message.caller_number = _text(headers.get("Caller-Caller-ID-Number", ""))
    message.caller_name = _text(headers.get("Caller-Caller-ID-Name", ""))
    message.destination_number = destination(headers, message.leg)
    message.did = _text(headers.get("variable_hibiki_did", ""))
    message.user = _text(headers.get("variable_hibiki_user", ""))
    message.agent_id = _text(headers.get("variable_hibiki_agent", ""))
    message.queue_id = _text(headers.get("variable_hibiki_queue", ""))
    hold_ms = number(headers.get("variable_hold_accum_ms", ""))
    hold_s = number(headers.get("variable_hold_accum_seconds", ""))
    hold = hold_ms if hold_ms is not None else hold_s * 1000 if hold_s is not None else 0
    message.hold_ms = min(hold, 2**62)
    message.sip_code = sip_code(headers, answered > 0)
    message.result_hint, message.transfer_target = result_hint(headers)
    message.test_mode = bool(headers.get("variable_hibiki_ivr_at"))
    message.recording_id = _text(headers.get("variable_hibiki_recording_id", ""))
    message.other_leg_uuid = _uuid(headers.get("variable_last_bridge_to", "") or headers.get("Other-Leg-Unique-ID", ""))
    return message
