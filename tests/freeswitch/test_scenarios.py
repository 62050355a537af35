"""Scenarios of the real-switch tier a city's staff notice: an agent in after-call work gets no
offer until ``*55<case type>`` from the phone ends it; a queue with nobody ready overflows to
another queue, and a queue's maximum wait sends the caller on (an extension rings); a DID's
holiday branch; a blind transfer nobody answers comes back to the transferring user."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hibiki.directory.schedules import Schedule
from support.switch import sipp
from support.switch.bench import Extension, SwitchBench

T = "sc"
CALLER = "0312345678"
TOKYO = ZoneInfo("Asia/Tokyo")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture(scope="module")
def tenant(bench: SwitchBench) -> str:
    bench.tenant(T)
    return T


def carrier_call(bench: SwitchBench, number: str, talk_ms: int, **options: Any) -> sipp.Sipp:
    run = bench.carrier_call(number, caller=CALLER, talk_ms=talk_ms, background=True, **options)
    assert isinstance(run, sipp.Sipp)
    return run


def queue_did(bench: SwitchBench, number: str, queue: str, config: dict[str, Any]) -> None:
    bench.acd.put(f"/api/v1/tenants/{T}/queues/{queue}", config)
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": number, "target_kind": "queue", "target": queue})


def agent(bench: SwitchBench, agent_id: str, ext: Extension, queues: list[str]) -> None:
    bench.acd.put(f"/api/v1/tenants/{T}/agents/{agent_id}", {"skills": {}, "queues": queues})
    bench.acd.post(f"/api/v1/tenants/{T}/agents/{agent_id}/login", {"device": ext.sip_username, "ready": True})


def state(bench: SwitchBench, agent_id: str) -> dict[str, Any]:
    result = bench.acd.get(f"/api/v1/tenants/{T}/agents/{agent_id}/state")
    assert isinstance(result, dict)
    return result


def test_wrap_up_ends_with_star_55_and_the_next_call_is_offered(bench: SwitchBench, tenant: str) -> None:
    seat = bench.extension(T, "8101")[0]
    queue_did(bench, "0762208101", "wrapup", {"offer_timeout_seconds": 10})   # no limit: only *55 ends it
    phone = bench.baresip(seat)                                                # answers by itself
    agent(bench, "a81", seat, ["wrapup"])
    first = carrier_call(bench, "0762208101", talk_ms=8000)
    phone.wait("CALL_ESTABLISHED", timeout=20)
    phone.wait("CALL_RTPESTAB")
    assert first.result().ok
    phone.wait("CALL_CLOSED", timeout=10)
    time.sleep(0.5)
    after_call = state(bench, "a81")
    assert after_call["pending_disposition"], after_call                       # after-call work
    mark, phone_mark = bench.events.mark(), phone.mark()
    second = carrier_call(bench, "0762208101", talk_ms=25000)
    bench.events.wait(f"hibiki.{T}.acd.queued", after=mark)
    time.sleep(3)                                                              # waits: the agent is in wrap-up
    assert not phone.saw("CALL_INCOMING", after=phone_mark) and not phone.saw("CALL_ESTABLISHED", after=phone_mark)
    assert not bench.events.matching(f"hibiki.{T}.acd.offered", after=mark)
    dialled = phone.mark()
    phone.dial("*5512")                                                        # case type 12 ends after-call work
    saved = bench.events.wait(f"hibiki.{T}.agent.disposition_saved", after=mark, timeout=15)
    offered = bench.events.wait(f"hibiki.{T}.acd.offered", after=mark, timeout=15)
    established = [e for e in phone.events[dialled:] if e.type == "CALL_ESTABLISHED"]
    deadline = time.monotonic() + 15
    while not any("*55" not in e.peer for e in established) and time.monotonic() < deadline:
        time.sleep(0.2)
        established = [e for e in phone.events[dialled:] if e.type == "CALL_ESTABLISHED"]
    assert any("*55" not in e.peer for e in established), [e.data for e in phone.events[dialled:]]
    bench.events.wait(f"hibiki.{T}.acd.answered", after=mark)
    phone.wait("CALL_RTPESTAB", after=dialled)
    assert not state(bench, "a81")["pending_disposition"]
    print(f"\nwrap-up: no offer for 3 s of after-call work; *5512, then offered after "
          f"{offered[0].at - saved[0].at:.2f} s")
    second.stop()


def test_a_queue_with_nobody_ready_overflows_to_another_queue(bench: SwitchBench, tenant: str) -> None:
    seat = bench.extension(T, "8201")[0]
    bench.acd.put(f"/api/v1/tenants/{T}/queues/back", {"offer_timeout_seconds": 10, "wrap_up_limit_seconds": 1})
    queue_did(bench, "0762208201", "front", {"offer_timeout_seconds": 10,
                                             "overflow": {"queue_id": "back", "after_seconds": 3}})
    phone = bench.baresip(seat)
    agent(bench, "a82", seat, ["back"])                                      # nobody in front
    mark = bench.events.mark()
    call = carrier_call(bench, "0762208201", talk_ms=12000)
    queued = bench.events.wait(f"hibiki.{T}.acd.queued", after=mark)
    overflowed = bench.events.wait(f"hibiki.{T}.acd.overflowed", after=mark, timeout=15)
    answered = phone.wait("CALL_ESTABLISHED", timeout=15)
    phone.wait("CALL_RTPESTAB")
    bench.events.wait(f"hibiki.{T}.acd.answered", after=mark)
    waited = overflowed[0].at - queued[0].at
    assert 2.5 <= waited <= 6, waited
    assert answered.at >= overflowed[0].at - 0.5
    assert call.result().ok
    print(f"\noverflow: front -> back after {waited:.2f} s in front, agent answered "
          f"{answered.at - overflowed[0].at:.2f} s later")


def test_a_queues_maximum_wait_sends_the_caller_to_an_extension(bench: SwitchBench, tenant: str) -> None:
    desk = bench.extension(T, "8203")[0]
    queue_did(bench, "0762208203", "lobby", {"offer_timeout_seconds": 10,
                                             "max_wait": {"seconds": 4, "destination": "extension:8203"}})
    phone = bench.baresip(desk, auto_answer=False)                           # nobody logged in to lobby
    mark, fs_mark = bench.events.mark(), bench.fs.log_mark()
    call = carrier_call(bench, "0762208203", talk_ms=16000)
    queued = bench.events.wait(f"hibiki.{T}.acd.queued", after=mark)
    rang = phone.wait("CALL_INCOMING", timeout=20)
    waited = rang.at - queued[0].at
    assert 3.5 <= waited <= 8, waited
    bench.events.wait(f"hibiki.{T}.acd.left", after=mark)
    phone.answer()
    answered = phone.wait("CALL_ESTABLISHED")
    assert CALLER in answered.peer, answered.data                            # the outside caller's number shows
    phone.wait("CALL_RTPESTAB")
    assert call.result().ok
    assert not bench.events.matching(f"hibiki.{T}.acd.offered", after=mark)
    assert any(app == "bridge" for app, _ in bench.fs.applications(fs_mark))
    assert bench.fs.missing_files(fs_mark) == []
    print(f"\nmaximum wait: 8203 rang {waited:.2f} s after the caller was queued (limit 4 s)")


def test_a_did_on_a_holiday_reaches_its_holiday_target(bench: SwitchBench, tenant: str) -> None:
    """The directory decides with the real clock, so today (Tokyo) is made the city's own holiday
    (a special day closed all day, e.g. 市民の日): the DID's holiday target rings, neither the
    open-hours target nor the closed-hours one. A national holiday (成人の日 2027-01-11) takes the
    same ``holiday`` route; the switch cannot be moved in time, the schedule's decision is checked."""
    staff = {name: bench.extension(T, ext)[0] for name, ext in (("day", "8401"), ("night", "8402"), ("holiday", "8403"))}
    today = datetime.now(TOKYO).date()
    definition = {"weekly": {d: [{"start": "00:00", "end": "24:00"}] for d in DAYS},
                  "closed_on_public_holidays": True, "year_end": None,
                  "special_days": [{"date": (today + timedelta(days=n)).isoformat(), "reason": "市民の日"}
                                   for n in (0, 1)]}                       # Tokyo's midnight may pass meanwhile
    schedule = bench.directory.post(f"/api/v1/tenants/{T}/schedules", {"name": "holiday", "definition": definition})
    holiday_target = {"kind": "user", "target": staff["holiday"].user_id}
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {
        "number": "0762208401", "schedule_id": schedule["id"], "target_kind": "user", "target": staff["day"].user_id,
        "closed_kind": "user", "closed_target": staff["night"].user_id,
        "branches": {"holiday": holiday_target, "special_day": holiday_target}})
    phones = {name: bench.baresip(ext, auto_answer=(name == "holiday")) for name, ext in staff.items()}
    call = carrier_call(bench, "0762208401", talk_ms=3000)
    answered = phones["holiday"].wait("CALL_ESTABLISHED", timeout=20)
    assert CALLER in answered.peer, answered.data
    phones["holiday"].wait("CALL_RTPESTAB")
    result = call.result()
    assert result.ok and result.final() == 200, result.output
    for name in ("day", "night"):
        assert not phones[name].saw("CALL_INCOMING") and not phones[name].saw("CALL_ESTABLISHED"), name

    # the same definition on a national holiday
    national = Schedule.from_dict({**definition, "special_days": []})
    assert national.state(datetime(2027, 1, 11, 10, tzinfo=TOKYO)).branch == "holiday"
    assert national.state(datetime(2027, 1, 12, 10, tzinfo=TOKYO)).branch == "open"
    print(f"\nholiday: {today} (special day 市民の日) rang 8403, the holiday target; 8401/8402 silent")


def test_a_blind_transfer_nobody_answers_comes_back_to_the_transferring_user(bench: SwitchBench, tenant: str) -> None:
    a, c = bench.extension(T, "8301")[0], bench.extension(T, "8302")[0]
    pa = bench.baresip(a)                                                     # answers by itself
    pc = bench.baresip(c, auto_answer=False)                                  # rings, nobody picks up
    caller = bench.baresip(bench.extension(T, "8303")[0], auto_answer=False)
    caller.dial(a.extension)
    pa.wait("CALL_ESTABLISHED")
    pa.wait("CALL_RTPESTAB")
    caller.wait("CALL_RTPESTAB")
    fs_mark, caller_mark = bench.fs.log_mark(), caller.mark()
    pa.command("transfer", f"sip:{c.extension}@{c.domain}")
    rang = pc.wait("CALL_INCOMING")
    pa.wait("CALL_CLOSED")
    recall_mark = pa.mark()
    back = pa.wait("CALL_ESTABLISHED", after=recall_mark, timeout=40)          # the directory's 30 s, then a again
    pc.wait("CALL_CLOSED", timeout=5)
    assert 25 <= back.at - rang.at <= 40, back.at - rang.at
    pa.wait("CALL_RTPESTAB", after=recall_mark)
    assert not caller.saw("CALL_CLOSED", after=caller_mark)                  # the caller stayed on the line
    assert not pc.saw("CALL_ESTABLISHED")
    assert "hibiki_recalled_from" in bench.fs.log_since(fs_mark)
    time.sleep(1)
    caller.hangup()
    pa.wait("CALL_CLOSED", after=recall_mark)
    print(f"\nrecall: 8302 rang {back.at - rang.at:.1f} s unanswered, the call came back to 8301")


def test_a_blind_transfer_by_the_caller_comes_back_to_the_caller(bench: SwitchBench, tenant: str) -> None:
    """The other direction: the caller's phone transfers the user it called (that user's leg, the
    B-leg, goes back into the dialplan, marked with the caller by ``export nolocal:hibiki_peer_user``).
    The REFER carries no Referred-By (baresip), so only the directory's own marks decide."""
    a, b, c = (bench.extension(T, ext)[0] for ext in ("8311", "8312", "8313"))
    pa = bench.baresip(a, auto_answer=False)                                  # the transferring caller
    pb = bench.baresip(b)                                                     # called, answers by itself
    pc = bench.baresip(c, auto_answer=False)                                  # rings, nobody picks up
    pa.dial(b.extension)
    pb.wait("CALL_ESTABLISHED")
    pb.wait("CALL_RTPESTAB")
    pa.wait("CALL_RTPESTAB")
    fs_mark, b_mark = bench.fs.log_mark(), pb.mark()
    pa.command("transfer", f"sip:{c.extension}@{c.domain}")
    rang = pc.wait("CALL_INCOMING")
    pa.wait("CALL_CLOSED")
    recall_mark = pa.mark()
    back = pa.wait("CALL_INCOMING", after=recall_mark, timeout=40)           # the caller's phone rings again
    assert 25 <= back.at - rang.at <= 40, back.at - rang.at
    pa.answer()
    pa.wait("CALL_RTPESTAB", after=recall_mark)
    assert not pb.saw("CALL_CLOSED", after=b_mark)                          # 8312 stayed on the line
    assert not pc.saw("CALL_ESTABLISHED")
    assert "hibiki_recalled_from" in bench.fs.log_since(fs_mark)
    time.sleep(1)
    pb.hangup()
    pa.wait("CALL_CLOSED", after=recall_mark)
    print(f"\nrecall (caller transferred): 8313 rang {back.at - rang.at:.1f} s unanswered, back to the caller 8311")


def test_a_forged_referred_by_does_not_choose_who_the_transfer_comes_back_to(bench: SwitchBench, tenant: str) -> None:
    """The attack: a phone (sipp as 8321) calls 8322, then blind-transfers it to 8323 with a REFER
    whose Referred-By names 8324's device, so that the unanswered transfer would ring 8324. The
    recall goes to the user who was really on the call (8321), never to the one the header names."""
    attacker, called, target, victim = (bench.extension(T, ext)[0] for ext in ("8321", "8322", "8323", "8324"))
    pb = bench.baresip(called)                                                 # answers by itself
    pc = bench.baresip(target, auto_answer=False)                              # rings, nobody picks up
    pv = bench.baresip(victim, auto_answer=False)
    fs_mark = bench.fs.log_mark()
    scenario = sipp.refer_scenario(attacker.sip_username, attacker.domain, f"sip:{target.extension}@{target.domain}",
                                   f"Referred-By: <sip:{victim.sip_username}@{victim.domain}>")
    run = sipp.Sipp(bench.root / "sipp", f"refer-{attacker.extension}", scenario, bench.fs.sip, bench.phone_address(),
                    ["-s", called.extension, "-au", attacker.sip_username, "-ap", attacker.password], timeout=30)
    result = run.run()
    assert result.ok, result.output
    assert "Referred-By" in result.messages
    rang = pc.wait("CALL_INCOMING", timeout=10)
    bench.fs.wait_log(r"hibiki_recalled_from", fs_mark, timeout=45)
    time.sleep(2)                                                              # time for a wrong recall to ring
    assert not pv.saw("CALL_INCOMING") and not pv.saw("CALL_ESTABLISHED")    # the header's victim never rang
    log = bench.fs.log_since(fs_mark)
    assert f"user/{attacker.extension}@{attacker.domain}" in log                # the recall: the real transferor
    assert f"user/{victim.extension}@" not in log
    print(f"\nforged Referred-By: 8323 rang unanswered, the recall rang 8321 (the transferor); "
          "8324, named by the header, rang 0 times")
    pb.hangup()
