"""Every leg of a call on the real FreeSWITCH is published as ``hibiki.<tenant>.call.ended``
(``CallEnded``) with the call it belongs to, its role, the call's direction, its result and
FreeSWITCH's own times: an extension calling an extension, a carrier call through an IVR and a
queue to an agent, a caller who gives up in a queue, a call that ends in voicemail, a premium number
refused and a call out through the carrier. The switch's own view is each leg's
CHANNEL_HANGUP_COMPLETE read back over ESL."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from hibiki.events.v1 import call_pb2
from support.switch.bench import Extension, SwitchBench
from support.switch.esl import EslEvent

T = "kiroku"
REPRESENTATIVE = "0462513333"
IVR_NUMBER = "0424920000"
QUEUE_NUMBER = "0424920001"
A, B = call_pb2.CALL_LEG_A, call_pb2.CALL_LEG_B
INBOUND, OUTBOUND, INTERNAL = (call_pb2.CALL_DIRECTION_INBOUND, call_pb2.CALL_DIRECTION_OUTBOUND,
                               call_pb2.CALL_DIRECTION_INTERNAL)
# FreeSWITCH's time of each CallEnded field: the channel variable (microseconds) it must match
TIMES = {"started_at": "start_uepoch", "answered_at": "answer_uepoch", "bridged_at": "bridge_uepoch",
         "ended_at": "end_uepoch"}


@pytest.fixture(scope="module")
def people(bench: SwitchBench) -> dict[str, Extension]:
    bench.tenant(T, representative_number=REPRESENTATIVE)
    bench.carrier_gateway(T, "kiroku-carrier", caller_id_in_from=True)
    people = {ext: bench.extension(T, ext)[0] for ext in ("2001", "2002", "2004", "2005", "7001")}
    people["2003"] = bench.extension(T, "2003", voicemail_pin="4821")[0]     # never registered: voicemail
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "madoguchi", "name": "窓口", "root_menu": "top",
        "menus": [{"id": "top", "name": "トップ", "greeting": {"text": "窓口におつなぎします。1を押してください。"},
                   "choices": {"1": {"queue": {"queue_id": "desk"}}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": IVR_NUMBER, "target_kind": "ivr",
                                                       "target": "madoguchi"})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": QUEUE_NUMBER, "target_kind": "queue", "target": "night"})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/desk", {"offer_timeout_seconds": 10, "wrap_up_limit_seconds": 1})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/night", {})
    bench.acd.put(f"/api/v1/tenants/{T}/agents/801", {"skills": {}, "queues": ["desk"]})
    bench.wait_callcontrol_ready()
    return people


def published(bench: SwitchBench, mark: int, count: int) -> dict[str, call_pb2.CallEnded]:
    """The CallEnded messages since ``mark`` (``count`` of them, and no more), by leg UUID."""
    events = bench.events.wait(f"hibiki.{T}.call.ended", after=mark, count=count, timeout=30)
    time.sleep(1.0)                                                  # nothing more arrives
    events = bench.events.matching(f"hibiki.{T}.call.ended", after=mark)
    legs = [call_pb2.CallEnded.FromString(e.data) for e in events]
    assert len(legs) == count, [(m.meta.call_uuid, m.destination_number) for m in legs]
    return {m.meta.call_uuid: m for m in legs}


def same_times(leg: call_pb2.CallEnded, switch: EslEvent) -> None:
    """Each time of the leg within 1 s of FreeSWITCH's own (its CDR variables); unset exactly when
    FreeSWITCH says the moment never happened."""
    for field, variable in TIMES.items():
        theirs = int(switch.get(f"variable_{variable}", "0") or 0)
        ours = getattr(leg, field).ToMicroseconds() if leg.HasField(field) else 0
        assert (ours == 0) == (theirs == 0), (field, ours, theirs)
        assert abs(ours - theirs) <= 1_000_000, (field, ours, theirs)
    progress = [int(switch.get(f"variable_{v}", "0") or 0) for v in ("progress_uepoch", "progress_media_uepoch")]
    first = min((p for p in progress if p), default=0)
    assert abs((leg.progress_at.ToMicroseconds() if leg.HasField("progress_at") else 0) - first) <= 1_000_000
    assert leg.hangup_cause == switch.get("Hangup-Cause")


def capture(name: str, hangups: list[EslEvent]) -> None:
    """With ``HIBIKI_CAPTURE_HANGUPS=<dir>``: each leg's CHANNEL_HANGUP_COMPLETE headers as the switch
    sent them, to ``<dir>/<name>.json`` (how tests/fixtures/freeswitch/hangup_complete was made)."""
    where = os.environ.get("HIBIKI_CAPTURE_HANGUPS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        (Path(where) / f"{name}.json").write_text(json.dumps([e.headers for e in hangups], indent=1, ensure_ascii=False))


def check(bench: SwitchBench, mark: int, hangups: list[EslEvent], count: int, name: str) -> dict[str, call_pb2.CallEnded]:
    capture(name, hangups)
    legs = published(bench, mark, count)
    switch = {e.get("Unique-ID"): e for e in hangups}
    for uuid, leg in legs.items():
        assert uuid in switch, (uuid, sorted(switch))
        same_times(leg, switch[uuid])
    print("\n" + "\n".join(f"  {call_pb2.CallLeg.Name(m.leg)} {call_pb2.CallDirection.Name(m.direction)} "
                           f"{m.caller_number}->{m.destination_number} cause={m.hangup_cause} sip={m.sip_code} "
                           f"hint={call_pb2.CallResultHint.Name(m.result_hint)} queue={m.queue_id} agent={m.agent_id}"
                           for m in legs.values()))
    return legs


def by_role(legs: dict[str, call_pb2.CallEnded]) -> tuple[call_pb2.CallEnded, list[call_pb2.CallEnded]]:
    a_legs = [m for m in legs.values() if m.leg == A]
    assert len(a_legs) == 1, legs
    a = a_legs[0]
    others = [m for m in legs.values() if m.leg == B]
    assert a.call_id == a.meta.call_uuid and all(m.call_id == a.call_id for m in others)
    return a, others


def test_extension_to_extension(bench: SwitchBench, people: dict[str, Extension]) -> None:
    alice = bench.baresip(people["2001"], auto_answer=False)
    bob = bench.baresip(people["2002"])
    mark = bench.events.mark()
    with bench.hangups() as hangups:
        alice.dial("2002")
        bob.wait("CALL_ESTABLISHED")
        alice.wait("CALL_ESTABLISHED")
        time.sleep(0.5)
        held = alice.command("hold")                # alice holds bob for about 1.5 s
        time.sleep(1.5)
        alice.command("resume")
        time.sleep(0.5)
        alice.hangup()
        bob.wait("CALL_CLOSED")
    legs = check(bench, mark, hangups, 2, "ext_to_ext")
    switch = {e.get("Unique-ID"): e for e in hangups}
    for uuid, leg in legs.items():                  # FreeSWITCH's own hold time on each leg
        assert leg.hold_ms == int(switch[uuid].get("variable_hold_accum_ms", "0") or 0), (held, leg.hold_ms)
    assert max(leg.hold_ms for leg in legs.values()) >= 1000, held
    a, (b,) = by_role(legs)
    assert (a.direction, b.direction) == (INTERNAL, INTERNAL)
    assert (a.user, b.user) == (people["2001"].user_id, people["2002"].user_id)
    assert (a.caller_number, a.destination_number, b.destination_number) == ("2001", "2002", "2002")
    assert a.other_leg_uuid == b.meta.call_uuid and b.other_leg_uuid == a.meta.call_uuid
    assert a.sip_code == 200 and b.sip_code == 200 and a.did == "" and not a.test_mode
    assert a.bridged_at.ToMicroseconds() > 0 and b.answered_at.ToMicroseconds() > 0


def test_blind_transfer(bench: SwitchBench, people: dict[str, Extension]) -> None:
    """2001 calls 2002, who transfers the call to 2005 (a REFER): three legs of one call."""
    alice = bench.baresip(people["2001"], auto_answer=False)
    bob = bench.baresip(people["2002"])
    carol = bench.baresip(people["2005"], auto_answer=False)
    mark = bench.events.mark()
    with bench.hangups() as hangups:
        alice.dial("2002")
        bob.wait("CALL_ESTABLISHED")
        time.sleep(1)
        bob.command("transfer", f"sip:2005@{people['2005'].domain}")
        carol.wait("CALL_INCOMING")
        bob.wait("CALL_CLOSED")
        carol.answer()
        carol.wait("CALL_ESTABLISHED")
        time.sleep(1)
        alice.hangup()
        carol.wait("CALL_CLOSED")
    a, others = by_role(check(bench, mark, hangups, 3, "blind_transfer"))
    by_user = {m.user: m for m in others}
    first, second = by_user[people["2002"].user_id], by_user[people["2005"].user_id]
    assert first.result_hint == call_pb2.CALL_RESULT_HINT_TRANSFERRED and first.transfer_target == "2005"
    assert second.destination_number == "2005" and second.answered_at.ToMicroseconds() > 0
    assert a.direction == first.direction == second.direction == INTERNAL and a.user == people["2001"].user_id


def test_did_ivr_queue_agent(bench: SwitchBench, people: dict[str, Extension]) -> None:
    agent = bench.baresip(people["7001"])                             # answers by itself
    bench.acd.post(f"/api/v1/tenants/{T}/agents/801/login", {"device": "7001", "ready": True})
    try:
        mark = bench.events.mark()
        with bench.hangups() as hangups:
            call = bench.carrier_call(IVR_NUMBER, caller="0312345678", digits="1", talk_ms=5000, background=True,
                                      before_digits_ms=3000)
            agent.wait("CALL_ESTABLISHED", timeout=40)
            result: Any = call.result()      # type: ignore[union-attr]
            assert result.ok, result.output[-1500:]
        a, (b,) = by_role(check(bench, mark, hangups, 2, "did_ivr_queue_agent"))
    finally:
        deadline = time.monotonic() + 20
        while bench.acd.http.post(f"/api/v1/tenants/{T}/agents/801/logout").status_code == 409:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert (a.direction, b.direction) == (INBOUND, INBOUND)
    assert (a.did, b.did) == (IVR_NUMBER, IVR_NUMBER)
    assert (a.caller_number, a.destination_number) == ("0312345678", IVR_NUMBER)
    assert (a.queue_id, b.queue_id, b.agent_id, b.user) == ("desk", "desk", "801", people["7001"].user_id)
    assert b.destination_number == "7001" and b.sip_code == 200
    assert a.answered_at.ToMicroseconds() < b.answered_at.ToMicroseconds() <= a.bridged_at.ToMicroseconds() + 1_000_000


def test_abandoned_in_a_queue(bench: SwitchBench, people: dict[str, Extension]) -> None:
    mark = bench.events.mark()
    with bench.hangups() as hangups:
        result: Any = bench.carrier_call(QUEUE_NUMBER, caller="0312345679", talk_ms=3000)
        assert result.ok, result.output[-1500:]
        bench.events.wait(f"hibiki.{T}.call.abandoned", after=mark, timeout=15)
    a, others = by_role(check(bench, mark, hangups, 1, "abandoned_in_queue"))
    assert others == [] and a.direction == INBOUND and a.did == QUEUE_NUMBER and a.queue_id == "night"
    assert a.answered_at.ToMicroseconds() > 0 and not a.HasField("bridged_at") and a.agent_id == ""
    assert a.result_hint == call_pb2.CALL_RESULT_HINT_UNSPECIFIED


def test_a_call_that_ends_in_voicemail(bench: SwitchBench, people: dict[str, Extension]) -> None:
    mark = bench.events.mark()
    with bench.hangups() as hangups:
        result = bench.sipp_call(people["2004"], "2003", talk_ms=4000)
        assert result.ok, result.output[-1500:]
    a, others = by_role(check(bench, mark, hangups, 1, "voicemail"))
    assert others == [] and a.direction == INTERNAL and a.destination_number == "2003"
    assert a.result_hint == call_pb2.CALL_RESULT_HINT_VOICEMAIL and a.user == people["2004"].user_id


def test_a_refused_premium_number(bench: SwitchBench, people: dict[str, Extension]) -> None:
    mark = bench.events.mark()
    with bench.hangups() as hangups:
        result = bench.sipp_call(people["2004"], "0990123456", final=403)
        assert result.final() == 403, result.messages
    a, others = by_role(check(bench, mark, hangups, 1, "refused_premium"))
    assert others == [] and a.direction == OUTBOUND and a.result_hint == call_pb2.CALL_RESULT_HINT_REFUSED
    assert (a.sip_code, a.hangup_cause) == (403, "OUTGOING_CALL_BARRED") and not a.HasField("answered_at")


def test_an_outbound_carrier_call(bench: SwitchBench, people: dict[str, Extension]) -> None:
    uas = bench.carrier_uas()
    mark = bench.events.mark()
    with bench.hangups() as hangups:
        result = bench.sipp_call(people["2004"], "0312345678", talk_ms=2000)
        assert result.ok, result.output[-1500:]
        uas.result()
    a, (b,) = by_role(check(bench, mark, hangups, 2, "outbound_carrier"))
    assert (a.direction, b.direction) == (OUTBOUND, OUTBOUND)
    assert (a.destination_number, b.destination_number, b.caller_number) == ("0312345678", "0312345678", REPRESENTATIVE)
    assert a.user == people["2004"].user_id and b.user == "" and b.sip_code == 200
    assert b.bridged_at.ToMicroseconds() > 0 and a.other_leg_uuid == b.meta.call_uuid
