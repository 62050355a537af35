"""``leg_record.fill`` on the CHANNEL_HANGUP_COMPLETE events the real FreeSWITCH 1.10.12 sent
(tests/fixtures/freeswitch/hangup_complete, captured by tests/freeswitch/test_call_records.py),
on the emulator's, and on anything at all (hypothesis): what each leg was, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hibiki.callcontrol import leg_record
from hibiki.callcontrol.leg_record import TEXT_LIMIT, fill
from hibiki.events.v1 import call_pb2

CAPTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "freeswitch" / "hangup_complete"
A, B = call_pb2.CALL_LEG_A, call_pb2.CALL_LEG_B


def legs(name: str) -> list[tuple[dict[str, str], call_pb2.CallEnded]]:
    events = json.loads((CAPTURES / f"{name}.json").read_text())
    return [(e, fill(call_pb2.CallEnded(), e, e["Unique-ID"])) for e in events]


def one_call(name: str) -> tuple[call_pb2.CallEnded, list[call_pb2.CallEnded]]:
    found = legs(name)
    a_legs = [m for _, m in found if m.leg == A]
    assert len(a_legs) == 1
    others = [m for _, m in found if m.leg == B]
    assert {m.call_id for _, m in found} == {a_legs[0].call_id}
    return a_legs[0], others


@pytest.mark.parametrize("name", sorted(p.stem for p in CAPTURES.glob("*.json")))
def test_times_are_the_switchs_own(name: str) -> None:
    for event, leg in legs(name):
        for field, variable in (("started_at", "start_uepoch"), ("answered_at", "answer_uepoch"),
                                ("bridged_at", "bridge_uepoch"), ("ended_at", "end_uepoch")):
            ours = getattr(leg, field).ToMicroseconds() if leg.HasField(field) else 0
            assert ours == int(event[f"variable_{variable}"]), (field, ours)
        assert leg.hangup_cause == event["Hangup-Cause"] and leg.meta.call_uuid == ""   # meta is the caller's


def test_extension_to_extension() -> None:
    a, (b,) = one_call("ext_to_ext")
    assert a.direction == b.direction == call_pb2.CALL_DIRECTION_INTERNAL
    assert (a.caller_number, a.destination_number, b.destination_number) == ("2001", "2002", "2002")
    assert a.user and b.user and a.user != b.user and (a.sip_code, b.sip_code) == (200, 200)
    assert (a.hold_ms, b.hold_ms) == (1762, 0)            # 2001 held 2002 (hold_accum_ms on the holder's leg)
    uuids = {m.leg: e["Unique-ID"] for e, m in legs("ext_to_ext")}
    assert (a.other_leg_uuid, b.other_leg_uuid) == (uuids[B], uuids[A])       # bridged to each other


def test_did_ivr_queue_agent() -> None:
    a, (b,) = one_call("did_ivr_queue_agent")
    assert a.direction == b.direction == call_pb2.CALL_DIRECTION_INBOUND and a.did == b.did == "0424920000"
    assert (a.queue_id, b.queue_id, b.agent_id, b.destination_number) == ("desk", "desk", "801", "7001")


def test_abandoned_voicemail_refused_outbound() -> None:
    abandoned, none = one_call("abandoned_in_queue")
    assert none == [] and abandoned.queue_id == "night" and not abandoned.HasField("bridged_at")
    voicemail, _ = one_call("voicemail")
    assert voicemail.result_hint == call_pb2.CALL_RESULT_HINT_VOICEMAIL and voicemail.destination_number == "2003"
    refused, _ = one_call("refused_premium")
    assert (refused.result_hint, refused.sip_code) == (call_pb2.CALL_RESULT_HINT_REFUSED, 403)  # FreeSWITCH sent 403
    out, (carrier,) = one_call("outbound_carrier")
    assert out.direction == carrier.direction == call_pb2.CALL_DIRECTION_OUTBOUND
    assert carrier.user == "" and carrier.sip_code == 200 and carrier.destination_number == "0312345678"


def test_blind_transfer_three_legs_of_one_call() -> None:
    a, others = one_call("blind_transfer")
    transferor = [m for m in others if m.result_hint == call_pb2.CALL_RESULT_HINT_TRANSFERRED]
    assert len(others) == 2 and [m.transfer_target for m in transferor] == ["2005"]
    assert a.result_hint == call_pb2.CALL_RESULT_HINT_UNSPECIFIED and a.destination_number == "2002"  # as dialled


def test_our_own_variables_test_mode_recording_and_refusals() -> None:
    (event, _), = legs("abandoned_in_queue")
    marked = {**event, "variable_hibiki_ivr_at": "2026-11-24T10:00:00+09:00", "variable_hibiki_recording_id": event[
        "Unique-ID"], "variable_hibiki_refused": "route"}
    leg = fill(call_pb2.CallEnded(), marked, event["Unique-ID"])
    assert leg.test_mode and leg.recording_id == event["Unique-ID"]
    assert leg.result_hint == call_pb2.CALL_RESULT_HINT_REFUSED
    plain = fill(call_pb2.CallEnded(), event, event["Unique-ID"])
    assert not plain.test_mode and plain.recording_id == ""
    checked = fill(call_pb2.CallEnded(), {**event, "variable_last_app": "voicemail",
                                          "variable_last_arg": "check default kiroku.hibiki.test 2003"}, event["Unique-ID"])
    assert checked.result_hint == call_pb2.CALL_RESULT_HINT_UNSPECIFIED      # listening to one's messages


def test_a_leg_without_our_marks_falls_back_to_freeswitchs_own() -> None:
    (a_event, _), = legs("abandoned_in_queue")
    _, (b_event, _) = legs("outbound_carrier")
    for event in (dict(a_event), dict(b_event)):
        event.pop("variable_hibiki_call_id")
        leg = fill(call_pb2.CallEnded(), event, event["Unique-ID"])
        expected = event.get("variable_originating_leg_uuid", event["Unique-ID"])
        assert leg.call_id == expected and leg.leg == (A if expected == event["Unique-ID"] else B)


HEADERS = st.sampled_from([
    "Hangup-Cause", "Caller-Caller-ID-Number", "Caller-Caller-ID-Name", "Caller-Destination-Number", "Call-Direction",
    "Channel-Name", "Other-Leg-Unique-ID", "variable_hibiki_call_id", "variable_originating_leg_uuid",
    "variable_hibiki_direction", "variable_hibiki_did", "variable_hibiki_user", "variable_start_uepoch",
    "variable_answer_uepoch", "variable_end_uepoch", "variable_bridge_uepoch", "variable_progress_uepoch",
    "variable_hold_accum_ms", "variable_hold_accum_seconds", "variable_sip_term_status",
    "variable_proto_specific_hangup_cause", "variable_sip_hangup_disposition", "variable_last_app",
    "variable_last_arg", "variable_sip_refer_to", "variable_transfer_destination", "variable_transfer_disposition",
    "variable_hibiki_refused", "variable_sip_req_user",
    "variable_dialed_user", "variable_presence_id", "variable_last_bridge_to"])
VALUES = st.one_of(st.text(max_size=300), st.integers(min_value=0, max_value=10**30).map(str),
                   st.sampled_from(["sofia/internal/x", "inbound", "voicemail", "sip:486", "send_refuse", "check x"]))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(HEADERS, VALUES), st.text(max_size=80))
@example({"variable_end_uepoch": str(253402300800 * 10**6)}, "x")    # past 9999-12-31: no Timestamp holds it
def test_any_hangup_event_gives_a_bounded_leg_and_never_a_crash(headers: dict[str, str], leg_uuid: str) -> None:
    leg = fill(call_pb2.CallEnded(), headers, leg_uuid)
    leg.SerializeToString()
    for field in ("caller_number", "caller_name", "destination_number", "did", "user", "transfer_target",
                  "hangup_cause", "recording_id"):
        assert len(getattr(leg, field)) <= TEXT_LIMIT
    assert len(leg.call_id) <= 64 and leg.leg in (A, B)
    assert 0 <= leg.sip_code < 700 and leg.hold_ms >= 0


# an attended transfer from the agent desktop's softphone on the real switch (REFER with Replaces):
# the variables FreeSWITCH 1.10.12 left on each leg (tests/freeswitch/test_desktop_transfer.py)
TARGET_LEG = "1014ffd6-a224-40a1-af5a-62301e7cc8bb"
TRANSFEROR = {"variable_transfer_disposition": "recv_replace", "variable_transfer_to": f"att:{TARGET_LEG}",
              "variable_refer_uuid": "770d8f7e-ea39-4797-8e6a-9a0cb1955cc1", "variable_endpoint_disposition": "ANSWER"}
CONSULTATION = {"variable_transfer_disposition": "replaced", "variable_sip_req_user": "7503",
                "variable_endpoint_disposition": "ATTENDED_TRANSFER"}
TARGET = {"variable_transfer_disposition": "bridge", "variable_dialed_user": "7503",
          "variable_transfer_source": f"1796635418:bef6c92e-0399-456a-80f1-d46b7812a8ec:uuid_br:{TARGET_LEG}"}


def test_attended_transfer_legs() -> None:
    assert leg_record.result_hint(TRANSFEROR) == (call_pb2.CALL_RESULT_HINT_TRANSFERRED, "")
    assert leg_record.attended_target_leg(TRANSFEROR) == TARGET_LEG       # its number is asked of FreeSWITCH
    assert leg_record.result_hint(CONSULTATION) == (call_pb2.CALL_RESULT_HINT_TRANSFERRED, "7503")
    assert leg_record.result_hint(TARGET) == (call_pb2.CALL_RESULT_HINT_UNSPECIFIED, "")   # bridged anew only
    for leg in (CONSULTATION, TARGET):
        assert leg_record.attended_target_leg(leg) == ""


def test_attended_target_leg_is_a_uuid_or_nothing() -> None:
    for hostile in ("att:1014ffd6 hupall", "att:../../etc", "blind:2005", "att:", f"xatt:{TARGET_LEG}"):
        assert leg_record.attended_target_leg({**TRANSFEROR, "variable_transfer_to": hostile}) == "", hostile
    blind = {**TRANSFEROR, "variable_transfer_destination": "blind:2005"}
    assert leg_record.attended_target_leg(blind) == "" and leg_record.result_hint(blind)[1] == "2005"
