"""The legs of real FreeSWITCH 1.10.12 calls (CHANNEL_HANGUP_COMPLETE captured by
tests/freeswitch/test_call_records.py, made into CallEnded by callcontrol's leg_record) folded by
analytics into call records: the result a person expects and FreeSWITCH's own times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hibiki.analytics.events import decode
from hibiki.analytics.records import CallRecord, LegRecord, fold_call
from hibiki.callcontrol.leg_record import fill
from hibiki.events.v1 import call_pb2, meta_pb2

CAPTURES = Path(__file__).resolve().parent / "fixtures" / "freeswitch" / "hangup_complete"
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def fold(name: str) -> tuple[CallRecord, list[LegRecord], list[dict[str, str]]]:
    events = json.loads((CAPTURES / f"{name}.json").read_text())
    raws = []
    for event in events:
        ended = fill(call_pb2.CallEnded(), event, event["Unique-ID"])
        ended.meta.CopyFrom(meta_pb2.EventMeta(id=f"{event['Unique-ID']}/ended", tenant="t1",
                                               call_uuid=event["Unique-ID"]))
        ended.meta.occurred_at.FromMicroseconds(int(event["Event-Date-Timestamp"]))
        raws.append(decode("hibiki.t1.call.ended", ended.SerializeToString(), NOW))
    assert len({r.key for r in raws}) == 1
    record, legs = fold_call("t1", raws[0].key, raws)
    assert record is not None
    return record, legs, events


def micros(value: datetime | None) -> int:
    return 0 if value is None else round(value.timestamp() * 1_000_000)


@pytest.mark.parametrize(("name", "result", "direction", "legs", "answered"), [
    ("ext_to_ext", "answered", "internal", 2, True),
    ("did_ivr_queue_agent", "answered", "inbound", 2, True),
    ("abandoned_in_queue", "abandoned_queue", "inbound", 1, False),
    ("voicemail", "voicemail", "internal", 1, False),
    ("refused_premium", "refused", "outbound", 1, False),
    ("outbound_carrier", "answered", "outbound", 2, True),
    ("blind_transfer", "transferred", "internal", 3, True),
])
def test_each_real_call_gives_the_expected_record(name: str, result: str, direction: str, legs: int,
                                                  answered: bool) -> None:
    record, leg_records, events = fold(name)
    assert (record.result, record.direction, record.legs) == (result, direction, legs)
    assert (record.answer_time is not None) == answered and (record.talk_ms > 0) == answered
    a_event = next(e for e in events if e["Unique-ID"] == record.call_id)
    assert micros(record.start_time) == int(a_event["variable_start_uepoch"])
    assert micros(record.end_time) == int(a_event["variable_end_uepoch"])
    assert record.hangup_cause == a_event["Hangup-Cause"]
    by_uuid = {e["Unique-ID"]: e for e in events}
    for leg in leg_records:
        event = by_uuid[leg.leg_uuid]
        assert micros(leg.answer_time) == int(event.get("variable_answer_uepoch") or 0)
        assert micros(leg.end_time) == int(event["variable_end_uepoch"])
    if answered:
        answering = [leg for leg in leg_records if leg.leg == "b" and leg.answer_time]
        assert record.answer_time == min(leg.answer_time for leg in answering if leg.answer_time)


def test_what_the_captured_calls_name() -> None:
    queued, _, _ = fold("did_ivr_queue_agent")
    assert (queued.did, queued.agent_id, queued.queues) == ("0424920000", "801", ("desk",))
    abandoned, _, _ = fold("abandoned_in_queue")
    assert abandoned.queues == ("night",) and abandoned.answer_time is None     # as the capture says
    moved, _, _ = fold("blind_transfer")
    assert (moved.caller_number, moved.callee_number, moved.transfer_target) == ("2001", "2002", "2005")
    refused, _, _ = fold("refused_premium")
    assert (refused.sip_code, refused.hangup_cause) == (403, "OUTGOING_CALL_BARRED")
