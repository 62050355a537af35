"""The recording policy (REC-01, REC-02, REC-06): set over the admin API by a recording
administrator only, checked field by field, and compiled into the dialplan FreeSWITCH runs
(through the emulator): the notice, then a stereo ``record_session`` into the spool, or ``*1`` /
``*2`` bound, or nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsemu import FreeSwitchEmulator
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.recording import Mode, RecordingPolicy, Rule
from support.directory import Directory, directory_config, routed, running_directory

DOMAIN = "zama.example.jp"
T = "zama"
DID, QUIET_DID = "0462521111", "0462521112"
PATH = f"/api/v1/tenants/{T}/recording_policy"


@dataclasses.dataclass
class City:
    d: Directory
    staff: dict[str, Any]
    caller: dict[str, Any]

    def headers(self, *roles: str, tenant: str = T) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.d.authority.issue(Claims("someone", "user", tenant, roles))}

    async def put(self, body: Any, *roles: str, tenant: str = T) -> httpx.Response:
        reply = await self.d.api.put(PATH, json=body, headers=self.headers(*roles, tenant=tenant))
        if reply.status_code < 300:
            await self.d.applied.next_msg(timeout=5)
        return reply


@pytest.fixture
async def city(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[City]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority, T) as d:
        await d.post("/api/v1/tenants", {"id": T, "domain": DOMAIN})
        staff = await d.post(f"/api/v1/tenants/{T}/users", {"username": "desk", "extension": "2001"})
        caller = await d.post(f"/api/v1/tenants/{T}/users", {"username": "sato", "extension": "2002",
                                                             "outbound_classes": ["domestic"]})
        await d.patch(f"/api/v1/tenants/{T}", {"outbound_gateway": "carrier1"})
        for number in (DID, QUIET_DID):
            await d.post(f"/api/v1/tenants/{T}/dids", {"number": number, "target_kind": "user", "target": staff["id"]})
        yield City(d, staff, caller)


async def inbound(city: City, number: str) -> Any:
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(destination=number, caller_id_number="0312345678", context="public",
                                    dialplan_url=city.d.fsapi, answering_endpoints={f"user/2001@{DOMAIN}": 1})
        await asyncio.wait_for(call.finished, 10)
        return call


async def internal(city: City, destination: str, endpoint: str, extra: dict[str, str] | None = None) -> Any:
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(destination=destination, caller_id_number="2002", domain=DOMAIN,
                                    dialplan_url=city.d.fsapi, answering_endpoints={endpoint: 1},
                                    variables={"hibiki_tenant": T, "hibiki_user": city.caller["id"],
                                               "domain_name": DOMAIN, **(extra or {})})
        await asyncio.wait_for(call.finished, 10)
        return call


async def test_only_a_recording_admin_changes_the_policy(city: City) -> None:
    """REC-06: the configuration administrator and a viewer read it; only recording-admin of the
    tenant (or the platform) changes it; another tenant's recording-admin neither."""
    policy = {"tenant": {"inbound": "all", "outbound": "none"}}
    for roles, tenant in ((("admin",), T), (("viewer",), T), (("recording-admin",), "other")):
        reply = await city.put(policy, *roles, tenant=tenant)
        assert reply.status_code == 403 and reply.json()["error_id"] == "forbidden", (roles, reply.text)
    read = await city.d.api.get(PATH, headers=city.headers("admin"))
    assert read.status_code == 200 and read.json()["tenant"] == {"inbound": "none", "outbound": "none"}
    before = read.json()["version"]
    reply = await city.put(policy, "recording-admin")
    assert reply.status_code == 200, reply.text
    assert reply.json()["tenant"]["inbound"] == "all" and reply.json()["version"] > before
    assert (await city.d.api.get(PATH, headers=city.headers("recording-admin"))).json()["tenant"]["inbound"] == "all"
    # and the tenant's own PATCH cannot carry it past the check
    sneaked = await city.d.api.patch(f"/api/v1/tenants/{T}", json={"recording_policy": {}},
                                     headers=city.headers("admin"))
    assert sneaked.status_code == 422, sneaked.text


@pytest.mark.parametrize(("body", "field"), [
    ({"tenant": {"inbound": "sometimes"}}, "tenant.inbound"),
    ({"users": {"no-such-user": {"inbound": "all"}}}, "users.no-such-user"),
    ({"dids": {"0999999999": {"inbound": "all"}}}, "dids.0999999999"),
    ({"queues": {"${system(rm -rf /)}": {"inbound": "all"}}}, "queues"),
    ({"notice": "../../etc/passwd"}, "notice"),
    ({"notice": "x${system(id)}.wav"}, "notice"),
    ({"tenant": {"inbound": "all"}, "extra": 1}, "extra"),
])
async def test_bad_policies_are_refused_with_the_field(city: City, body: dict[str, Any], field: str) -> None:
    reply = await city.put(body, "recording-admin")
    assert reply.status_code in (400, 422), reply.text
    assert reply.json()["error_id"] and reply.json()["details"]["field"].startswith(field), reply.json()


async def test_the_policy_is_compiled_into_the_calls(city: City) -> None:
    # no policy set: nothing is recorded, nothing bound
    call = await inbound(city, DID)
    assert "record_session" not in [app for app, _ in call.executed]
    reply = await city.put({"tenant": {"inbound": "all", "outbound": "all"},
                            "dids": {QUIET_DID: {"inbound": "none"}}}, "recording-admin")
    assert reply.status_code == 200, reply.text

    call = await inbound(city, DID)      # recorded per caller/party pair: the notice, then the answering leg records
    steps = routed(call.executed)
    names = [app for app, _ in steps]
    notice = steps.index(("playback", "system/recording_notice.wav"))
    bridge = names.index("bridge")
    assert names.index("answer") < notice < bridge and "record_session" not in names
    exported = [data for app, data in steps[notice:bridge] if app == "export"]
    for variable in ("RECORD_STEREO=true", "RECORD_STEREO_SWAP=true", "hibiki_recording_reason=policy",
                     "hibiki_recording_scope=tenant"):
        assert f"nolocal:{variable}" in exported, exported
    assert ("set", "hibiki_recording_pairs=true") in steps[notice:bridge]
    # the file is named when the export runs (the emulator: variables it has, the rest as written;
    # the real switch's spool, date and id: tests/freeswitch/test_recording.py)
    on_answer = [data for data in exported if data.startswith("nolocal:execute_on_answer=")]
    assert on_answer == [f"nolocal:execute_on_answer=record_session /{T}/${{strftime_tz(UTC %Y/%m/%d)}}/"
                         "${create_uuid()}.wav"], exported

    quiet = await inbound(city, QUIET_DID)              # the number's own "none" wins over the tenant's "all"
    assert "record_session" not in [app for app, _ in quiet.executed]
    assert "playback" not in [app for app, _ in quiet.executed]

    out = await internal(city, "0312345678", "sofia/gateway/carrier1/0312345678")   # outbound: no notice
    names = [app for app, _ in routed(out.executed)]      # the user's channel records once the carrier answers
    path = next(data for app, data in routed(out.executed) if app == "set" and data.startswith("hibiki_recording_path="))
    assert ("set", "execute_on_answer=record_session " + path.split("=", 1)[1]) in routed(out.executed)
    assert path.endswith(".wav") and "record_session" not in names, routed(out.executed)
    assert "playback" not in names[:names.index("bridge")] and "answer" not in names

    between = await internal(city, "2001", f"user/2001@{DOMAIN}")   # between users: *1 / *2
    binds = [data for app, data in between.executed if app == "bind_meta_app"]
    on_demand = f"/{T}/${{strftime_tz(UTC %Y/%m/%d)}}/${{create_uuid()}}.wav"   # the file, named when bound
    assert binds == [f"1 ab s record_session::{on_demand}", f"2 ab s stop_record_session::{on_demand}"]
    assert ("set", "hibiki_recording_reason=on_demand") in between.executed
    assert "record_session" not in [app for app, _ in between.executed]

    # the caller recorded per pair, transferred (blind) by the user to 2001: a new file for the next
    # party, no *1 / *2 (FreeSWITCH tests the channel's hibiki_recording_pairs)
    moved = await internal(city, "2001", f"user/2001@{DOMAIN}", {"hibiki_recording_pairs": "true"})
    steps = [(app, data) for app, data in moved.executed]
    assert ("export", f"nolocal:execute_on_answer=record_session /{T}/${{strftime_tz(UTC %Y/%m/%d)}}/"
                      "${create_uuid()}.wav") in steps, steps
    assert "bind_meta_app" not in [app for app, _ in steps] and [app for app, _ in steps][-1] == "bridge"

    # outbound: the user's channel records, the carrier's leg is marked for pairs; that leg, transferred
    # (blind) by the user to 2001, hands 2001's leg a fresh file, in stereo, the caller on channel 1
    out_steps = routed(out.executed)
    assert ("export", "nolocal:hibiki_recording_pairs=true") in out_steps
    assert ("export", "nolocal:hibiki_recording_pairs_scope=tenant") in out_steps
    carrier = await internal(city, "2001", f"user/2001@{DOMAIN}", {"hibiki_recording_pairs": "true",
                                                                    "hibiki_recording_pairs_scope": "tenant"})
    exported = [data for app, data in carrier.executed if app == "export"]
    for variable in ("RECORD_STEREO=true", "RECORD_STEREO_SWAP=true", "hibiki_recording_reason=policy",
                     "hibiki_recording_scope=tenant",
                     f"execute_on_answer=record_session /{T}/${{strftime_tz(UTC %Y/%m/%d)}}/${{create_uuid()}}.wav"):
        assert f"nolocal:{variable}" in exported, exported
    assert "bind_meta_app" not in [app for app, _ in carrier.executed]
    assert not any(d.startswith("nolocal:hibiki_recording_scope") for d in
                   [data for app, data in moved.executed if app == "export"])   # an inbound caller's own exports stand


def test_the_most_specific_scope_decides() -> None:
    policy = RecordingPolicy(Rule(Mode.ALL, Mode.NONE), users={"u": Rule(Mode.NONE, None)},
                             dids={"d": Rule(Mode.ON_DEMAND, None)}, queues={"q": Rule(Mode.ALL, Mode.ALL)})
    assert policy.decide("inbound").mode is Mode.ALL
    assert policy.decide("inbound", did="d").scope == "did"
    assert policy.decide("inbound", user="u", did="d").scope == "user"
    assert policy.decide("inbound", user="u", did="d", queue="q") .scope == "queue"
    assert policy.decide("outbound", user="u").mode is Mode.NONE and policy.decide("outbound", user="u").scope == "tenant"
    assert policy.decide("internal").mode is Mode.ON_DEMAND
    assert policy.queue_modes("inbound") == "q=all"


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=30))
def test_anything_stored_reads_as_a_policy(stored: object) -> None:
    policy = RecordingPolicy.from_stored(stored)
    for direction in ("inbound", "outbound", "internal"):
        assert policy.decide(direction, "u", "d", "q").mode in Mode
