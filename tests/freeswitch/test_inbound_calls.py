"""Calls from the carrier to a tenant's numbers (DIDs), routed per schedule branch, on a real
FreeSWITCH: the carrier (a sipp UAC on its own loopback address, trusted by address) calls in."""

from __future__ import annotations

from typing import Any

import pytest

from support.switch import sipp
from support.switch.bench import Extension, SwitchBench

T = "did"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = {"weekly": {d: [{"start": "00:00", "end": "24:00"}] for d in DAYS},
               "closed_on_public_holidays": False, "year_end": None}
ALWAYS_CLOSED = {"weekly": {}, "closed_on_public_holidays": False, "year_end": None}
DISASTER = {**ALWAYS_OPEN, "override": {"mode": "disaster", "reason": "earthquake"}}
NOTICE = "system/apology.wav"   # a shipped prompt (freeswitch/sounds), as an announcement names one


@pytest.fixture(scope="module")
def staff(bench: SwitchBench) -> dict[str, Extension]:
    bench.tenant(T)
    return {"day": bench.extension(T, "6001")[0], "night": bench.extension(T, "6002")[0]}


def did(bench: SwitchBench, staff: dict[str, Extension], number: str, definition: dict[str, Any]) -> None:
    schedule = bench.directory.post(f"/api/v1/tenants/{T}/schedules", {"name": f"s{number}", "definition": definition})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {
        "number": number, "schedule_id": schedule["id"], "target_kind": "user", "target": staff["day"].user_id,
        "closed_kind": "user", "closed_target": staff["night"].user_id,
        "branches": {"override:disaster": {"kind": "announcement", "target": NOTICE}}})


def carrier_call(bench: SwitchBench, number: str, talk_ms: int = 2000, **options: Any) -> sipp.SippResult:
    result = bench.carrier_call(number, caller="0312345678", talk_ms=talk_ms, **options)
    assert isinstance(result, sipp.SippResult)
    return result


@pytest.mark.parametrize(("number", "definition", "who"), [
    ("0263521001", ALWAYS_OPEN, "day"),
    ("0263521002", ALWAYS_CLOSED, "night"),
])
def test_did_rings_the_branch_of_the_moment(bench: SwitchBench, staff: dict[str, Extension], number: str,
                                            definition: dict[str, Any], who: str) -> None:
    did(bench, staff, number, definition)
    phones = {name: bench.baresip(ext) for name, ext in staff.items()}
    caller = carrier_call(bench, number)
    assert caller.ok and caller.final() == 200, caller.output
    answered = phones[who].wait("CALL_ESTABLISHED")
    assert "0312345678" in answered.peer, answered.data          # the outside caller's number shows
    phones[who].wait("CALL_RTPESTAB")
    other = "night" if who == "day" else "day"
    assert not phones[other].saw("CALL_INCOMING") and not phones[other].saw("CALL_ESTABLISHED")


def test_disaster_override_plays_the_notice_and_hangs_up(bench: SwitchBench, staff: dict[str, Extension]) -> None:
    did(bench, staff, "0263521003", DISASTER)
    phones = [bench.baresip(ext) for ext in staff.values()]
    mark = bench.fs.log_mark()
    caller = carrier_call(bench, "0263521003", talk_ms=8000, remote_bye=True)
    assert caller.ok and caller.final() == 200, caller.output       # answered by the announcement, BYE from us
    apps = bench.fs.applications(mark)
    assert ("playback", NOTICE) in apps and ("hangup", "NORMAL_CLEARING") in apps
    assert not any(p.saw("CALL_INCOMING") or p.saw("CALL_ESTABLISHED") for p in phones)
    assert bench.fs.missing_files(mark) == []


def test_a_number_nobody_owns_is_refused(bench: SwitchBench, staff: dict[str, Extension]) -> None:
    """Not survival routing (fallback.xml would ring the survival destination): SIP 404."""
    mark = bench.fs.log_mark()
    caller = carrier_call(bench, "0263529999", final=404)
    assert "survival routing" not in bench.fs.log_since(mark)
    assert caller.final() == 404, caller.messages
