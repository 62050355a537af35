"""Inbound calls on a tenant's numbers (DIDs), routed by schedule: the admin API, the
store, NATS, and the dialplan FreeSWITCH runs (through the emulator)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fsemu import FreeSwitchEmulator
from hibiki.common.auth import TokenAuthority
from support.directory import directory_config, routed, running_directory

DOMAIN = "shiojiri.example.jp"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = {"weekly": {d: [{"start": "00:00", "end": "24:00"}] for d in DAYS},
               "closed_on_public_holidays": False, "year_end": None}
ALWAYS_CLOSED = {"weekly": {}, "closed_on_public_holidays": False, "year_end": None}
DISASTER = {**ALWAYS_OPEN, "override": {"mode": "disaster", "reason": "earthquake"}}

Post = Callable[[str, dict[str, Any]], Awaitable[httpx.Response]]


@dataclasses.dataclass
class City:
    fsapi: str
    post: Post
    api: httpx.AsyncClient
    user: dict[str, Any]
    call: Any = None       # (method, path, body): a change, waiting until the view has it


@pytest.fixture
async def city(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[City]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as d:
        await d.post("/api/v1/tenants", {"id": "shiojiri", "domain": DOMAIN})
        user = await d.post("/api/v1/tenants/shiojiri/users", {"username": "desk", "extension": "2001"})
        await d.post("/api/v1/tenants/shiojiri/devices", {"user_id": user["id"], "sip_username": "d2001",
                                                          "password": "twelve chars!"})
        yield City(d.fsapi, functools.partial(d.call, "POST"), d.api, user, d.call)


async def schedule(city: City, name: str, definition: dict[str, Any]) -> str:
    reply = await city.post("/api/v1/tenants/shiojiri/schedules", {"name": name, "definition": definition})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


async def inbound(city: City, dialled: str, endpoints: dict[str, object] | None = None) -> Any:
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(destination=dialled, caller_id_number="0312345678", context="public",
                                    dialplan_url=city.fsapi, answering_endpoints=endpoints)
        await asyncio.wait_for(call.finished, 10)
        return call


async def test_a_number_rings_its_user_in_every_notation(city: City) -> None:
    open_id = await schedule(city, "open", ALWAYS_OPEN)
    reply = await city.post("/api/v1/tenants/shiojiri/dids", {
        "number": "０２６３－５２－１１１１", "schedule_id": open_id, "target_kind": "user", "target": city.user["id"]})
    assert reply.status_code == 201, reply.text
    assert reply.json()["number"] == "0263521111"
    for dialled in ("0263521111", "+81263521111"):
        call = await inbound(city, dialled, {f"user/2001@{DOMAIN}": 1})
        assert ("bridge", f"user/2001@{DOMAIN}") in call.executed
        assert call.variables["hibiki_tenant"] == "shiojiri" and call.variables["hibiki_branch"] == "open"


async def test_closed_hours_and_disaster_mode_take_their_own_routes(city: City) -> None:
    closed_id = await schedule(city, "closed", ALWAYS_CLOSED)
    disaster_id = await schedule(city, "disaster", DISASTER)
    await city.post("/api/v1/tenants/shiojiri/dids", {
        "number": "0263-52-2222", "schedule_id": closed_id, "target_kind": "user", "target": city.user["id"],
        "closed_kind": "voicemail", "closed_target": city.user["id"]})
    await city.post("/api/v1/tenants/shiojiri/dids", {
        "number": "0120-123-456", "schedule_id": disaster_id, "target_kind": "user", "target": city.user["id"],
        "branches": {"override:disaster": {"kind": "announcement", "target": "hibiki/disaster-notice.wav"}}})
    closed = await inbound(city, "0263522222")
    assert closed.executed[-1] == ("voicemail", f"default {DOMAIN} 2001")
    assert closed.variables["hibiki_branch"] == "closed"
    disaster = await inbound(city, "0120123456")
    assert [a for a in disaster.executed if a[0] in ("playback", "hangup")] == [
        ("playback", "hibiki/disaster-notice.wav"), ("hangup", "NORMAL_CLEARING")]
    assert disaster.variables["hibiki_branch"] == "override:disaster"


async def test_numbers_nobody_owns_get_no_route(city: City) -> None:
    call = await inbound(city, "0263529999")
    assert call.executed == [("hangup", "UNALLOCATED_NUMBER")] and call.hangup_cause == "UNALLOCATED_NUMBER"


async def test_bad_numbers_targets_and_schedules_are_refused(city: City) -> None:
    cases = [
        ({"number": "090-1234-5678", "target_kind": "user", "target": city.user["id"]}, "invalid-number"),
        ({"number": "03-12x4-5678", "target_kind": "user", "target": city.user["id"]}, "invalid-number"),
        ({"number": "0263-52-3333", "target_kind": "user", "target": "nobody"}, "invalid-target"),
        ({"number": "0263-52-3333", "target_kind": "user", "target": city.user["id"], "schedule_id": "none"},
         "invalid-schedule_id"),
    ]
    for body, error_id in cases:
        reply = await city.post("/api/v1/tenants/shiojiri/dids", body)
        assert reply.status_code == 422 and reply.json()["error_id"] == error_id, reply.text
    bad = await city.post("/api/v1/tenants/shiojiri/schedules", {"name": "x", "definition": {
        "weekly": {"mon": [{"start": "25:00", "end": "26:00"}]}}})
    assert bad.status_code == 422 and bad.json()["error_id"] == "invalid-definition"
    assert "weekly.mon[0].start" in bad.json()["message"]
    first = await city.post("/api/v1/tenants/shiojiri/dids", {
        "number": "0263-52-4444", "target_kind": "user", "target": city.user["id"]})
    assert first.status_code == 201
    again = await city.post("/api/v1/tenants/shiojiri/dids", {
        "number": "+81 263 52 4444", "target_kind": "user", "target": city.user["id"]})
    assert again.status_code == 409 and again.json()["error_id"] == "number-taken"
    in_use = await city.api.delete(f"/api/v1/tenants/shiojiri/users/{city.user['id']}")
    assert in_use.status_code == 409 and in_use.json()["error_id"] == "user-in-use"


async def test_ivr_numbers_go_to_callcontrol_with_a_fallback(city: City) -> None:
    missing = await city.post("/api/v1/tenants/shiojiri/dids", {
        "number": "0263-52-5555", "target_kind": "ivr", "target": "main-menu"})
    assert missing.status_code == 422 and missing.json()["details"]["field"] == "target"   # no such IVR yet
    ivr = await city.post("/api/v1/tenants/shiojiri/ivrs", {
        "id": "main-menu", "name": "代表", "root_menu": "top",
        "menus": [{"id": "top", "greeting": {"text": "お電話ありがとうございます。"}, "choices": {"1": {"extension": "2001"}}}]})
    assert ivr.status_code == 201, ivr.text
    reply = await city.post("/api/v1/tenants/shiojiri/dids", {
        "number": "0263-52-5555", "target_kind": "ivr", "target": "main-menu",
        "closed_kind": "voicemail", "closed_target": city.user["id"]})
    assert reply.status_code == 201, reply.text
    call = await inbound(city, "0263525555")   # nothing listens on the controller's port here
    assert call.executed[:3] == [("export", f"hibiki_call_id={call.uuid}"), ("export", "hibiki_direction=inbound"),
                                 ("export", "hibiki_tenant=shiojiri")]    # the call's marks for its records
    steps = routed(call.executed)
    assert steps[3] == ("set", "hibiki_app=ivr:main-menu")
    assert steps[4] == ("set", f"hibiki_domain={DOMAIN}")      # where callcontrol rings agents
    name, value = steps[5][1].split("=")                         # the version callcontrol's IVR must reach
    assert steps[5][0] == "set" and name == "hibiki_config_version" and int(value) > 0
    assert steps[6] == ("set", "hibiki_handoff=ivr:main-menu")   # the timer callcontrol cancels
    assert steps[7] == ("sched_transfer", "+5 hibiki_handoff_missed XML public")
    assert steps[8][0] == "socket" and steps[8][1].endswith(" async full")
    assert steps[9][0] == "sched_cancel"                          # socket returned: no timer left
    assert steps[-1] == ("voicemail", f"default {DOMAIN} 2001")   # the fallback, not silence
    assert steps[11:13] == [("answer", ""), ("playback", "system/apology.wav")]   # after an apology
    queue = await city.post("/api/v1/tenants/shiojiri/dids", {
        "number": "0263-52-6666", "target_kind": "queue", "target": "water"})
    assert queue.status_code == 201
    lonely = await inbound(city, "0263526666")
    assert lonely.executed[-1] == ("hangup", "NORMAL_TEMPORARY_FAILURE")
    assert ("playback", "system/failed.wav") in lonely.executed


async def test_a_tenants_language_decides_what_its_callers_hear(city: City) -> None:
    """Japanese by default (the node's default_language, nothing set on the call); a tenant
    switched to English gets the English phrases and sound prefix on every call; anything else
    is refused with the field at fault."""
    await city.post("/api/v1/tenants/shiojiri/dids", {"number": "0263-52-7777", "target_kind": "user",
                                                       "target": city.user["id"]})
    japanese = await inbound(city, "0263527777")
    assert not [step for step in japanese.executed if step[1].startswith(("default_language=", "sound_prefix="))]
    bad = await city.call("PATCH", "/api/v1/tenants/shiojiri", {"language": "fr"})
    assert bad.status_code == 422 and bad.json()["details"]["field"] == "language", bad.text
    english = await city.call("PATCH", "/api/v1/tenants/shiojiri", {"language": "en"})
    assert english.status_code == 200 and english.json()["language"] == "en", english.text
    call = await inbound(city, "0263527777")
    assert ("set", "default_language=en") in call.executed
    prefix = [data for app, data in call.executed if app == "set" and data.startswith("sound_prefix=")]
    assert prefix and all(p.endswith("/en/us/hibiki") for p in prefix)   # under ${sounds_dir}, a FreeSWITCH global
