"""A public call center on a real FreeSWITCH: the carrier delivers a call to a DID, the caller
walks a 3-level IVR with Japanese TTS greetings pressing RFC 2833 digits, waits in a queue, and
an agent's phone (logged in with ``*50<id>`` or over HTTP) rings and answers. Also: an agent who
does not answer (the next one gets it), a caller who hangs up while waiting."""

from __future__ import annotations

import time
from typing import Any

import pytest

from support.switch import sipp
from support.switch.baresip import Baresip
from support.switch.bench import Extension, SwitchBench

T = "cc"
NUMBER = "0762201111"
KEYS = "113"


def water_ivr() -> dict[str, Any]:
    return {
        "id": "suido", "name": "水道局", "root_menu": "main",
        "menus": [
            {"id": "main", "name": "トップ", "greeting": {"text": "お電話ありがとうございます。水道局です。手続きは1を押してください。"},
             "choices": {"1": {"menu": "services"}}},
            {"id": "services", "name": "手続き", "greeting": {"text": "開栓と閉栓は1を押してください。"},
             "choices": {"1": {"menu": "detail"}}},
            {"id": "detail", "name": "開栓", "greeting": {"text": "係の者におつなぎします。3を押してください。"},
             "choices": {"3": {"queue": {"queue_id": "water"}}}},
        ],
    }


@pytest.fixture(scope="module")
def seats(bench: SwitchBench) -> dict[str, Extension]:
    bench.tenant(T)
    seats = {f"70{n}": bench.extension(T, f"700{n}")[0] for n in range(1, 5)}
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", water_ivr())
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": NUMBER, "target_kind": "ivr", "target": "suido"})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/water", {"offer_timeout_seconds": 6, "wrap_up_limit_seconds": 1})
    for agent in seats:
        bench.acd.put(f"/api/v1/tenants/{T}/agents/{agent}", {"skills": {}, "queues": ["water"]})
    return seats


@pytest.fixture(autouse=True)
def _log_out(bench: SwitchBench, seats: dict[str, Extension]) -> Any:
    yield
    deadline = time.monotonic() + 20
    for agent in seats:                                        # refused (409) while the ACD still sees the
        while True:                                            # agent talking: the call's end is on its way
            reply = bench.acd.http.post(f"/api/v1/tenants/{T}/agents/{agent}/logout")
            if reply.status_code != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert reply.status_code == 200, reply.text


def login_from_phone(bench: SwitchBench, phone: Baresip, agent: str) -> None:
    """The agent dials ``*50<id>`` on the phone: callcontrol logs it in on that device."""
    mark = phone.mark()
    phone.dial(f"*50{agent}")
    phone.wait("CALL_CLOSED", after=mark, timeout=15)
    state = bench.acd.get(f"/api/v1/tenants/{T}/agents/{agent}/state")
    assert state["device"] == phone.user and state["state"] in ("ready", "AGENT_STATE_READY", 1), state


def login_over_http(bench: SwitchBench, agent: str, device: str) -> None:
    bench.acd.post(f"/api/v1/tenants/{T}/agents/{agent}/login", {"device": device, "ready": True})


def caller(bench: SwitchBench, talk_ms: int, **options: Any) -> sipp.Sipp:
    run = bench.carrier_call(NUMBER, caller="0312345678", digits=KEYS, talk_ms=talk_ms, background=True,
                             before_digits_ms=3000, digit_gap_ms=2500, **options)
    assert isinstance(run, sipp.Sipp)
    return run


def test_did_ivr_queue_agent(bench: SwitchBench, seats: dict[str, Extension]) -> None:
    agent_phone = bench.baresip(seats["701"])                 # answers by itself
    login_from_phone(bench, agent_phone, "701")
    mark, fs_mark = bench.events.mark(), bench.fs.log_mark()
    call = caller(bench, talk_ms=4000)
    answered = agent_phone.wait("CALL_ESTABLISHED", timeout=40)
    assert "0312345678" in answered.peer or NUMBER in answered.peer or answered.peer, answered.data
    agent_phone.wait("CALL_RTPESTAB")
    result = call.result()
    assert result.ok and result.final() == 200, result.output
    for event in ("queued", "offered", "answered"):
        bench.events.wait(f"hibiki.{T}.acd.{event}", after=mark)
    apps = bench.fs.applications(fs_mark)
    greetings = [data for app, data in apps if app == "play_and_get_digits"]
    assert len(greetings) >= 3, apps                          # the three menus spoke
    assert any(app == "bridge" and "7001" in data for app, data in apps), apps
    assert bench.fs.missing_files(fs_mark) == []


def test_an_agent_who_does_not_answer_gives_way_to_the_next(bench: SwitchBench, seats: dict[str, Extension]) -> None:
    silent = bench.baresip(seats["703"], auto_answer=False)   # agents of their own: 701 may still be in wrap-up
    helper = bench.baresip(seats["704"])
    login_over_http(bench, "703", "7003")
    time.sleep(0.2)                                            # 703 waits longest: offered first
    login_over_http(bench, "704", "7004")
    mark = bench.events.mark()
    call = caller(bench, talk_ms=16000)                       # waits through 703's 6 s of ringing
    rang = silent.wait("CALL_INCOMING", timeout=40)
    answered = helper.wait("CALL_ESTABLISHED", timeout=20)
    assert answered.at - rang.at >= 4
    assert not silent.saw("CALL_ESTABLISHED")
    assert call.result().ok
    bench.events.wait(f"hibiki.{T}.acd.offer_missed", after=mark)


def test_a_caller_who_hangs_up_while_waiting(bench: SwitchBench, seats: dict[str, Extension]) -> None:
    mark = bench.events.mark()
    call = caller(bench, talk_ms=3000)                         # nobody logged in: the caller waits, then gives up
    assert call.result().ok
    bench.events.wait(f"hibiki.{T}.acd.queued", after=mark)
    bench.events.wait(f"hibiki.{T}.call.abandoned", after=mark, timeout=10)
    phone = bench.baresip(seats["702"])
    login_over_http(bench, "702", "7002")                      # an agent who becomes ready is not rung for it
    time.sleep(2)
    assert not phone.saw("CALL_INCOMING") and not phone.saw("CALL_ESTABLISHED")
    assert not bench.events.matching(f"hibiki.{T}.acd.offered", after=mark)
