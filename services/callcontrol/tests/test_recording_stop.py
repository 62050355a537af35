"""``recording_stop.stopped`` on the RECORD_STOP events the real FreeSWITCH 1.10.12 sent
(tests/fixtures/freeswitch/record_stop, captured by tests/freeswitch/test_recording.py), on
forged ones, and on anything at all (hypothesis): a RecordingStopped for Hibiki's spool files
only, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.callcontrol.recording_stop import device, event_id, stopped
from hibiki.events.v1 import call_pb2, recording_pb2

CAPTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "freeswitch" / "record_stop"


def record_stop(name: str) -> dict[str, str]:
    events = json.loads((CAPTURES / f"{name}.json").read_text())
    return next(e for e in events if e["Event-Name"] == "RECORD_STOP")


def test_a_policy_recording_of_an_inbound_call() -> None:
    headers = record_stop("inbound_policy_all")
    message = stopped(headers)
    assert message is not None
    rid = headers["variable_hibiki_recording_id"]
    assert message.recording_id == rid and message.meta.id == event_id(rid)
    assert message.spool_path == headers["Record-File-Path"]
    assert message.spool_path.endswith(f"/rokuon/2026/12/07/{rid}.wav")
    assert message.meta.tenant == "rokuon" and message.leg_uuid == headers["Unique-ID"] == message.meta.call_uuid
    assert message.call_id == headers["variable_hibiki_call_id"]
    assert message.reason == recording_pb2.RECORDING_REASON_POLICY and message.policy_scope == "tenant"
    assert message.direction == call_pb2.CALL_DIRECTION_INBOUND and message.did == "0424930000"
    assert message.caller_number == "0312345678" and message.callee_number == "0424930000"
    assert message.user == headers["variable_hibiki_callee"]
    assert message.channels == 2 and message.sample_rate == 8000 and message.part == 1
    assert message.recorded_ms == int(headers["variable_record_ms"])
    stop = int(headers["Event-Date-Timestamp"])
    assert message.stopped_at.ToMicroseconds() == stop
    assert message.started_at.ToMicroseconds() == stop - message.recorded_ms * 1000


def test_an_on_demand_recording_between_users() -> None:
    headers = record_stop("internal_on_demand")
    message = stopped(headers)
    assert message is not None
    assert message.recording_id == Path(headers["Record-File-Path"]).stem
    assert message.reason == recording_pb2.RECORDING_REASON_ON_DEMAND
    assert message.direction == call_pb2.CALL_DIRECTION_INTERNAL
    assert message.user == headers["variable_hibiki_user"] and message.callee_number == "2002"


def test_a_transferred_queue_call_names_each_answering_phone() -> None:
    """Agent A's leg (offered by the ACD: its agent) and the transfer target's leg (no agent of its
    own: the phone it rang, for the ACD to say whose it is): the callee is the extension dialled, not
    the phone's contact; a caller's own leg names no phone."""
    events = json.loads((CAPTURES / "queue_transfer.json").read_text())
    agent_leg, target_leg = (e for e in events if e["Event-Name"] == "RECORD_STOP")
    first, second = stopped(agent_leg), stopped(target_leg)
    assert first is not None and second is not None
    assert (first.agent_id, first.callee_number, device(agent_leg)) == ("801", "2002", "2002")
    assert (second.agent_id, second.callee_number, device(target_leg)) == ("", "2001", "2001")
    assert second.queue_id == "desk" and second.user == target_leg["variable_hibiki_user"]
    assert device(record_stop("inbound_policy_all")) == ""
    assert device({**target_leg, "variable_dialed_user": "2001;evil=1"}) == ""


def test_two_controllers_publish_one_message() -> None:
    headers = record_stop("inbound_policy_all")
    first, second = stopped(headers), stopped(dict(headers))
    assert first is not None and second is not None
    assert first.SerializeToString(deterministic=True) == second.SerializeToString(deterministic=True)


def test_files_that_are_not_our_recordings_are_not_handed_on() -> None:
    headers = record_stop("inbound_policy_all")
    path = headers["Record-File-Path"]
    for forged in (
        {**headers, "Record-File-Path": "/var/lib/freeswitch/storage/voicemail/default/x/msg_1.wav"},
        {**headers, "Record-File-Path": path.replace("/rokuon/", "/othertenant/")},     # another tenant's tree
        {**headers, "Record-File-Path": path.replace("/rokuon/", "/rokuon/../rokuon/")},
        {**headers, "Record-File-Path": path.replace(".wav", ".mp3")},
        {**headers, "Record-File-Path": path.rsplit("/", 1)[0] + "/not-a-uuid.wav"},
        {k: v for k, v in headers.items() if k != "variable_hibiki_tenant"},               # no tenant: not ours
        {**headers, "variable_hibiki_tenant": "rokuon/../x"},
    ):
        assert stopped(forged) is None, forged.get("Record-File-Path")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([
    "Record-File-Path", "variable_hibiki_tenant", "Unique-ID", "Event-Date-Timestamp", "variable_record_ms",
    "variable_record_seconds", "variable_RECORD_STEREO", "variable_hibiki_direction", "variable_hibiki_did",
    "variable_hibiki_recording_reason", "variable_hibiki_recording_part", "Caller-Caller-ID-Number",
    "variable_hibiki_call_id", "variable_record_sample_rate"]), st.text(max_size=300)),
    st.booleans())
def test_anything_at_all_is_a_message_or_nothing(headers: dict[str, str], valid_path: bool) -> None:
    if valid_path:
        headers["variable_hibiki_tenant"] = "t1"
        headers["Record-File-Path"] = "/spool/t1/2026/12/07/0b7e4f7a-8f0c-4d55-9a57-5c1b8d2e6a3f.wav"
    message = stopped(headers)
    if message is None:
        assert not valid_path
        return
    assert message.recording_id == "0b7e4f7a-8f0c-4d55-9a57-5c1b8d2e6a3f"
    assert len(message.caller_number) <= 128 and len(message.callee_number) <= 128
    assert message.recorded_ms >= 0 and message.sample_rate > 0
    message.SerializeToString()


def test_a_transferred_queue_call_gives_one_recording_per_pair() -> None:
    """DID -> queue -> agent 801, who transfers the caller to user 2001: each answering leg recorded
    itself; both stops name the call, each its own leg; the transfer target's leg names the queue
    through ``hibiki_recording_queue`` (it has no ``hibiki_queue`` of its own)."""
    events = json.loads((CAPTURES / "queue_transfer.json").read_text())
    stops = [e for e in events if e["Event-Name"] == "RECORD_STOP"]
    assert len(stops) == 2
    agent, target = (stopped(h) for h in stops)
    assert agent is not None and target is not None
    assert agent.call_id == target.call_id and agent.leg_uuid != target.leg_uuid
    assert agent.call_id not in (agent.leg_uuid, target.leg_uuid)            # the caller's channel is the call
    assert agent.recording_id != target.recording_id
    for message, headers in ((agent, stops[0]), (target, stops[1])):
        assert message.recording_id == Path(headers["Record-File-Path"]).stem
        assert message.leg_uuid == headers["Unique-ID"] and headers["variable_RECORD_STEREO_SWAP"] == "true"
        assert message.channels == 2 and message.reason == recording_pb2.RECORDING_REASON_POLICY
        assert message.policy_scope == "queue" and message.queue_id == "desk"
        assert message.caller_number == "0312340014" and message.did == "0424930003"
    assert agent.agent_id == "801" and "variable_hibiki_queue" in stops[0]
    assert target.agent_id == "" and "variable_hibiki_queue" not in stops[1]
    assert target.user == stops[1].get("variable_hibiki_user", "") != ""
