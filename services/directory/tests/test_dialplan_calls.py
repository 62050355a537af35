"""Calls between a tenant's users, routed by the directory's dialplan answers and run by
the FreeSWITCH emulator as mod_dialplan_xml would."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fsemu import FreeSwitchEmulator
from fsemu.post_vars import whitelist
from hibiki.common.auth import TokenAuthority
from support.directory import Directory, directory_config, routed, running_directory

DOMAIN = "nagaoka.example.jp"


@dataclasses.dataclass
class Office:
    fsapi: str
    tenant: str
    caller: dict[str, Any]
    callee: dict[str, Any]
    admin: Directory


@pytest.fixture
async def office(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Office]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority, "nagaoka") as d:
        await d.post("/api/v1/tenants", {"id": "nagaoka", "domain": DOMAIN})
        caller = await d.post("/api/v1/tenants/nagaoka/users", {"username": "sato", "extension": "1000"})
        callee = await d.post("/api/v1/tenants/nagaoka/users", {"username": "suzuki", "extension": "1001"})
        for user, device in ((caller, "d1000"), (callee, "d1001")):
            await d.post("/api/v1/tenants/nagaoka/devices", {"user_id": user["id"], "sip_username": device,
                                                             "password": PASSWORD})
        yield Office(d.fsapi, "nagaoka", caller, callee, d)


PASSWORD = "twelve chars!"
XML_CURL_CONF = Path(__file__).resolve().parents[3] / "freeswitch" / "conf" / "autoload_configs" / "xml_curl.conf.xml"


async def place(office: Office, destination: str, endpoints: dict[str, object] | None = None,
                authenticated: bool = True, registered: dict[str, str] | None = None,
                extra: dict[str, str] | None = None) -> Any:
    """A call placed on a fresh emulator. ``registered``: devices (SIP username -> contact
    host) that REGISTER first through the directory, so ``${sofia_contact()}`` finds them;
    ``endpoints`` may then name a device by its SIP username."""
    variables = {"hibiki_tenant": office.tenant, "hibiki_user": office.caller["id"],
                 "domain_name": DOMAIN} if authenticated else {}
    variables.update(extra or {})
    directory = {"directory_url": office.fsapi, "directory_post_vars": whitelist(XML_CURL_CONF)} if registered else {}
    async with FreeSwitchEmulator(**directory) as emu:   # type: ignore[arg-type]
        scripted = dict(endpoints or {})
        for device, host in (registered or {}).items():
            result = await emu.register(device, DOMAIN, PASSWORD, device_contact=f"sip:{device}@{host}:5060")
            assert result.ok, result
            if device in scripted:
                scripted[emu.sofia_contact(f"*/{device}@{DOMAIN}")] = scripted.pop(device)
        call = await emu.place_call(destination=destination, caller_id_number="1000", domain=DOMAIN,
                                    dialplan_url=office.fsapi, variables=variables, answering_endpoints=scripted)
        await asyncio.wait_for(call.finished, 10)
        return call


def apps(call: Any) -> list[str]:
    return [app for app, _ in routed(call.executed)]


async def test_extension_rings_the_user(office: Office) -> None:
    call = await place(office, "1001", {f"user/1001@{DOMAIN}": 1})
    assert ("bridge", f"user/1001@{DOMAIN}") in call.executed
    assert "voicemail" not in apps(call)
    assert call.variables["call_timeout"] == "30" and call.hangup_cause == "NORMAL_CLEARING"


async def test_no_answer_ends_in_voicemail(office: Office) -> None:
    call = await place(office, "1001", {f"user/1001@{DOMAIN}": "NO_ANSWER"})
    assert call.executed[-2:] == [("answer", ""), ("voicemail", f"default {DOMAIN} 1001")]
    busy = await place(office, "1001", {f"user/1001@{DOMAIN}": "USER_BUSY"})
    assert busy.executed[-1] == ("voicemail", f"default {DOMAIN} 1001")


async def test_feature_codes_reach_voicemail(office: Office) -> None:
    own = await place(office, "*97")
    assert own.executed[-1] == ("voicemail", f"check default {DOMAIN} 1000")
    other = await place(office, "*98")
    assert other.executed[-1] == ("voicemail", f"check default {DOMAIN}")


async def test_unknown_number_is_refused_clearly(office: Office) -> None:
    call = await place(office, "1999")
    assert apps(call) == ["answer", "playback", "hangup"]
    assert call.hangup_cause == "UNALLOCATED_NUMBER"


async def test_a_call_from_outside_any_tenant_gets_no_route(office: Office) -> None:
    call = await place(office, "1001", authenticated=False)
    assert call.executed == [] and call.hangup_cause == "NO_ROUTE_DESTINATION"


async def setup_outbound(office: Office, tenant: dict[str, Any], user: dict[str, Any]) -> None:
    await office.admin.patch(f"/api/v1/tenants/{office.tenant}", tenant)
    await office.admin.patch(f"/api/v1/tenants/{office.tenant}/users/{office.caller['id']}", user)


async def test_outbound_calls_present_the_chosen_caller_id(office: Office) -> None:
    await setup_outbound(office, {"outbound_gateway": "carrier1", "representative_number": "0258123456"},
                         {"direct_number": "0258123001"})
    call = await place(office, "03-1234-5678".replace("-", ""), {"sofia/gateway/carrier1/0312345678": 1})
    assert ("bridge", "sofia/gateway/carrier1/0312345678") in call.executed
    assert call.variables["effective_caller_id_number"] == "0258123456"
    assert call.variables["hibiki_outbound_class"] == "domestic"
    direct = await place(office, "*8109012345678", {"sofia/gateway/carrier1/09012345678": 1})
    assert direct.variables["effective_caller_id_number"] == "0258123001"
    hidden = await place(office, "1840312345678", {"sofia/gateway/carrier1/0312345678": 1})
    assert ("privacy", "full") in hidden.executed
    assert ("export", "nolocal:sip_cid_type=pid") in hidden.executed
    assert ("export", "nolocal:sip_from_uri=sip:anonymous@anonymous.invalid") in hidden.executed
    failed = await place(office, "0312345678", {"sofia/gateway/carrier1/0312345678": "USER_BUSY"})
    assert failed.executed[-1] == ("hangup", "NORMAL_TEMPORARY_FAILURE")


async def test_class_of_service_blocks_with_403_but_never_emergency(office: Office) -> None:
    await setup_outbound(office, {"outbound_gateway": "carrier1"}, {"outbound_classes": ["domestic"]})
    for number in ("0101212555010", "0990123456", "09012345678"):
        call = await place(office, number)
        assert apps(call) == ["set", "set", "log", "pre_answer", "playback", "hangup"], number
        assert call.variables["hibiki_refused"] == "class_of_service"
        assert call.hangup_cause == "OUTGOING_CALL_BARRED"          # SIP 403 from mod_sofia
    await setup_outbound(office, {"outbound_gateway": "carrier1"}, {"outbound_classes": []})
    for emergency in ("110", "119", "184119"):
        call = await place(office, emergency, {f"sofia/gateway/carrier1/{emergency[-3:]}": 1})
        assert ("bridge", f"sofia/gateway/carrier1/{emergency[-3:]}") in call.executed
        assert call.variables["hibiki_outbound_class"] == "emergency"


async def test_no_carrier_configured_is_said_not_silent(office: Office) -> None:
    call = await place(office, "0312345678")
    assert apps(call) == ["log", "pre_answer", "playback", "hangup"]
    assert call.hangup_cause == "NORMAL_TEMPORARY_FAILURE"


async def test_ring_groups_ring_together_or_in_turn(office: Office) -> None:
    members = [office.caller["id"], office.callee["id"]]
    reply = await office.admin.call("POST", "/api/v1/tenants/nagaoka/ring_groups", {
        "name": "soumu", "extension": "3000", "members": members, "ring_seconds": 15,
        "no_answer_kind": "voicemail", "no_answer_target": office.callee["id"]})
    assert reply.status_code == 201, reply.text
    phones = {"d1000": "192.0.2.10", "d1001": "192.0.2.11"}
    together = await place(office, "3000", {"d1001": 1}, registered=phones)
    ids = {"1000": office.caller["id"], "1001": office.callee["id"]}
    legs = [f"[sip_invite_domain={DOMAIN},presence_id={ext}@{DOMAIN},hibiki_user={ids[ext]}]"
            f"sofia/internal/sip:d{ext}@192.0.2.1{ext[-1]}:5060" for ext in ("1000", "1001")]
    assert ("bridge", ",".join(legs)) in together.executed           # every device of every member at once
    assert together.variables["hibiki_ring_group"] and together.hangup_cause == "NORMAL_CLEARING"
    assert together.variables["call_timeout"] == "15" and "voicemail" not in apps(together)
    nobody = await place(office, "3000")
    assert nobody.executed[-1] == ("voicemail", f"default {DOMAIN} 1001")
    group_id = reply.json()["id"]
    await office.admin.call("PATCH", f"/api/v1/tenants/nagaoka/ring_groups/{group_id}",
                            {"strategy": "sequential", "ring_seconds": 10})
    in_turn = await place(office, "3000", {"d1001": 1}, registered=phones)
    assert ("bridge", "|".join(leg.replace("[", "[leg_timeout=10,") for leg in legs)) in in_turn.executed
    clash = await office.admin.call("POST", "/api/v1/tenants/nagaoka/users", {"username": "x", "extension": "3000"})
    assert clash.status_code == 409 and clash.json()["error_id"] == "extension-taken"
    in_use = await office.admin.call("DELETE", f"/api/v1/tenants/nagaoka/users/{members[0]}")
    assert in_use.status_code == 409 and in_use.json()["error_id"] == "user-in-use"


async def test_forwarding_on_busy_no_answer_and_always(office: Office) -> None:
    await setup_outbound(office, {"outbound_gateway": "carrier1"}, {})
    callee = f"/api/v1/tenants/nagaoka/users/{office.callee['id']}"
    await office.admin.call("PATCH", callee, {
        "forward_busy": "09011112222", "forward_no_answer": "1000", "forward_no_answer_seconds": 10})
    busy = await place(office, "1001", {f"user/1001@{DOMAIN}": "USER_BUSY", "sofia/gateway/carrier1/09011112222": 1})
    assert ("bridge", "sofia/gateway/carrier1/09011112222") in busy.executed
    assert busy.variables["hibiki_forward_hops"] == "1"
    no_answer = await place(office, "1001", {f"user/1000@{DOMAIN}": 1})
    assert no_answer.variables["call_timeout"] == "30"           # the forward target's own ring time
    assert [d for a, d in no_answer.executed if a == "bridge"] == [f"user/1001@{DOMAIN}", f"user/1000@{DOMAIN}"]
    assert ("set", "call_timeout=10") in no_answer.executed
    await office.admin.call("PATCH", callee, {"forward_always": "1000"})
    always = await place(office, "1001", {f"user/1000@{DOMAIN}": 1})
    assert [d for a, d in always.executed if a == "bridge"] == [f"user/1000@{DOMAIN}"]


async def test_forwarding_loops_end(office: Office) -> None:
    for user, target in ((office.caller, "1001"), (office.callee, "1000")):
        await office.admin.call("PATCH", f"/api/v1/tenants/nagaoka/users/{user['id']}",
                                {"forward_always": target, "forward_no_answer": target})
    call = await place(office, "1001")
    bridges = [d for a, d in call.executed if a == "bridge"]
    assert 1 <= len(bridges) <= 4 and call.executed[-1][0] == "voicemail"


async def test_pickup_and_park(office: Office) -> None:
    for user in (office.caller, office.callee):
        await office.admin.call("PATCH", f"/api/v1/tenants/nagaoka/users/{user['id']}",
                                {"pickup_group": "soumu", "park_group": "floor2"})
    ringing = await place(office, "1001", {"d1001": 1}, registered={"d1001": "192.0.2.11"})
    assert ("hash", f"insert/{DOMAIN}-last_dial_ext/1001/{ringing.uuid}") in ringing.executed   # ${uuid} expanded
    user = f"hibiki_user={office.callee['id']}"        # the leg's user, for its call record
    assert ("bridge", f"[sip_invite_domain={DOMAIN},presence_id=1001@{DOMAIN},{user}]sofia/internal/sip:d1001@192.0.2.11:5060"
                      f",pickup/soumu@{DOMAIN}") in ringing.executed
    unregistered = await place(office, "1001")
    assert ("bridge", f"[sip_invite_domain={DOMAIN},presence_id=1001@{DOMAIN},{user}]error/user_not_registered"
                      f",pickup/soumu@{DOMAIN}") in unregistered.executed
    assert routed((await place(office, "*8")).executed) == [("pickup", f"soumu@{DOMAIN}")]
    directed = await place(office, "**1001")
    assert routed(directed.executed)[0][0] == "intercept"          # ${hash(select/...)} is FreeSWITCH's to expand
    assert await parked(office, "*70") == [("answer", ""), ("valet_park", "nagaoka-floor2 auto in 1 9")]
    assert await parked(office, "*713") == [("answer", ""), ("valet_park", "nagaoka-floor2 3")]
    assert (await place(office, "*7100")).hangup_cause == "UNALLOCATED_NUMBER"


async def parked(office: Office, destination: str) -> list[tuple[str, str]]:
    """A call that stays in the park lot until the caller hangs up."""
    variables = {"hibiki_tenant": office.tenant, "hibiki_user": office.caller["id"], "domain_name": DOMAIN}
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(destination=destination, caller_id_number="1000", domain=DOMAIN,
                                    dialplan_url=office.fsapi, variables=variables)
        await call.wait_for(lambda c: any(app == "valet_park" for app, _ in c.executed), 10)
        call.hangup_by_caller("NORMAL_CLEARING")
        await asyncio.wait_for(call.finished, 10)
        return routed(call.executed)


async def transferred_call(office: Office, variables: dict[str, str]) -> Any:
    """The caller's channel as a blind transfer leaves it (sofia.c: switch_ivr_session_transfer of
    the transferor's peer): back in the dialplan for 1001, with what its earlier bridge set on it;
    1001 does not answer, 1000 (the transferor) would."""
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(destination="1001", caller_id_number="0312345678", domain=DOMAIN,
                                    dialplan_url=office.fsapi, variables={"hibiki_tenant": office.tenant, **variables},
                                    answering_endpoints={f"user/1000@{DOMAIN}": 1})
        await asyncio.wait_for(call.finished, 10)
    return call


async def test_an_unanswered_blind_transfer_comes_back(office: Office) -> None:
    # the earlier bridge to 1000 (the transferor) left hibiki_peer_user on the caller's channel
    call = await transferred_call(office, {"hibiki_peer_user": office.caller["id"]})
    assert [d for a, d in call.executed if a == "bridge"] == [f"user/1001@{DOMAIN}", f"user/1000@{DOMAIN}"]
    assert ("set", f"hibiki_transferor={office.caller['id']}") in call.executed      # ${hibiki_peer_user} expanded
    assert ("unset", "hibiki_transferor") in call.executed
    assert call.variables["hibiki_recalled_from"] == office.callee["id"]
    assert call.variables["hibiki_peer_user"] == office.caller["id"]                # the recall's bridge: 1000 again
    plain = await place(office, "1001")      # no transfer: the callee's voicemail as before
    assert plain.executed[-1] == ("voicemail", f"default {DOMAIN} 1001")
    assert ("export", f"nolocal:hibiki_peer_user={office.caller['id']}") in plain.executed   # 1001's leg: who called


async def test_a_transfer_is_recalled_only_to_the_user_who_was_on_the_call(office: Office) -> None:
    """What a phone sends cannot choose the recall target: a forged Referred-By naming 1000, or a
    forged hibiki_transferor (it is overwritten from hibiki_peer_user at the extension)."""
    forged_header = await transferred_call(office, {"sip_h_Referred-By": f"<sip:d1000@{DOMAIN}>"})
    forged_variable = await transferred_call(office, {"hibiki_transferor": office.caller["id"]})
    for call in (forged_header, forged_variable):
        assert [d for a, d in call.executed if a == "bridge"] == [f"user/1001@{DOMAIN}"]
        assert call.executed[-1] == ("voicemail", f"default {DOMAIN} 1001")
        assert "hibiki_recalled_from" not in call.variables
    print("\nforged Referred-By / hibiki_transferor: 0 of 2 recalled, both to 1001's voicemail")


async def test_forwarding_switched_on_and_off_from_the_phone(office: Office, nats_client: Any) -> None:
    applied = await nats_client.subscribe("hibiki.nagaoka.config.applied")
    await nats_client.flush()  # the server knows the subscription before we act
    on = await place(office, "*721001")
    assert on.executed == [("answer", ""), ("playback", "tone_stream://%(150,100,880);%(150,0,1320)"),
                           ("hangup", "NORMAL_CLEARING")]
    await applied.next_msg(timeout=5)
    async with FreeSwitchEmulator() as emu:    # someone calls the caller (1000): the call goes to 1001
        call = await emu.place_call(destination="1000", caller_id_number="1001", domain=DOMAIN,
                                    dialplan_url=office.fsapi, answering_endpoints={f"user/1001@{DOMAIN}": 1},
                                    variables={"hibiki_tenant": office.tenant, "hibiki_user": office.callee["id"]})
        await asyncio.wait_for(call.finished, 10)
    assert [d for a, d in call.executed if a == "bridge"] == [f"user/1001@{DOMAIN}"]
    refused = await place(office, "*72110")
    assert refused.executed[1] == ("playback", "tone_stream://%(500,100,480,620);loops=2")
    off = await place(office, "*73")
    assert off.executed[1][1].startswith("tone_stream://%(150")
    await applied.next_msg(timeout=5)
    again = await place(office, "1000", {f"user/1000@{DOMAIN}": 1})
    assert [d for a, d in again.executed if a == "bridge"] == [f"user/1000@{DOMAIN}"]
    await applied.unsubscribe()


async def test_named_classes_of_service_govern_their_users(office: Office) -> None:
    await setup_outbound(office, {"outbound_gateway": "carrier1"}, {})
    made = await office.admin.call("POST", "/api/v1/tenants/nagaoka/service_classes",
                                   {"name": "madoguchi", "classes": []})
    assert made.status_code == 201, made.text
    klass = made.json()["id"]
    await office.admin.call("PATCH", f"/api/v1/tenants/nagaoka/users/{office.caller['id']}",
                            {"service_class_id": klass})
    assert (await place(office, "0312345678")).hangup_cause == "OUTGOING_CALL_BARRED"
    assert ("bridge", "sofia/gateway/carrier1/119") in (await place(office, "119", {"sofia/gateway/carrier1/119": 1})).executed
    await office.admin.call("PATCH", f"/api/v1/tenants/nagaoka/service_classes/{klass}",
                            {"classes": ["domestic"]})
    allowed = await place(office, "0312345678", {"sofia/gateway/carrier1/0312345678": 1})
    assert ("bridge", "sofia/gateway/carrier1/0312345678") in allowed.executed
    in_use = await office.admin.call("DELETE", f"/api/v1/tenants/nagaoka/service_classes/{klass}")
    assert in_use.status_code == 409 and in_use.json()["error_id"] == "service-class-in-use"
    unknown = await office.admin.call("PATCH", f"/api/v1/tenants/nagaoka/users/{office.callee['id']}",
                                      {"service_class_id": "nope"})
    assert unknown.status_code == 422 and unknown.json()["error_id"] == "invalid-service_class_id"


async def test_ivr_branches_that_leave_callcontrol_are_routed_here(office: Office) -> None:
    """callcontrol's IVR transfers a call to hibiki_route_<kind>_<target>: ring group, voicemail
    box or outside number, routed like everything else (a caller cannot pick premium numbers)."""
    await setup_outbound(office, {"outbound_gateway": "carrier1", "representative_number": "0258123456"}, {})
    group = await office.admin.call("POST", "/api/v1/tenants/nagaoka/ring_groups", {
        "name": "kosekika", "extension": "3100", "members": [office.callee["id"]], "ring_seconds": 20})
    async def routed(destination: str, *args: Any, **kwargs: Any) -> Any:   # as callcontrol hands it back
        return await place(office, destination, *args, extra={"hibiki_route_grant": destination}, **kwargs)

    to_group = await routed( f"hibiki_route_ring_group_{group.json()['id']}", {"d1001": 1},
                           registered={"d1001": "192.0.2.11"})
    assert to_group.variables["hibiki_ring_group"] == group.json()["id"]
    assert any(a == "bridge" and "sip:d1001@192.0.2.11" in d for a, d in to_group.executed)
    mailbox = await routed("hibiki_route_voicemail_1001")
    assert mailbox.executed[-1] == ("voicemail", f"default {DOMAIN} 1001")
    outside = await routed("hibiki_route_external_0258999999", {"sofia/gateway/carrier1/0258999999": 1})
    assert ("bridge", "sofia/gateway/carrier1/0258999999") in outside.executed
    assert outside.variables["effective_caller_id_number"] == "0258123456"
    premium = await routed("hibiki_route_external_0990123456")
    assert premium.hangup_cause == "OUTGOING_CALL_BARRED"
    for missing in ("hibiki_route_voicemail_9999", "hibiki_route_ring_group_nothing"):
        gone = await routed(missing)
        assert gone.hangup_cause in ("UNALLOCATED_NUMBER", "NORMAL_TEMPORARY_FAILURE"), missing
        assert ("playback", "system/unallocated.wav") in gone.executed
    # dialled, or granted another destination: refused (tests/security/test_route_forgery.py)
    for grant in ({}, {"hibiki_route_grant": "hibiki_route_external_0258999998"}):
        forged = await place(office, "hibiki_route_external_0258999999", {"sofia/gateway/carrier1/0258999999": 1},
                             extra=grant)
        assert forged.hangup_cause == "UNALLOCATED_NUMBER" and "bridge" not in apps(forged)


async def test_group_call_lists_every_device_of_every_member(office: Office) -> None:
    """``group/<name>@<domain>``: mod_commands' group_call asks for the group (params group, domain,
    action=group_call, as switch_xml_locate_group sends them) and reads each user's group-dial-string."""
    import xml.etree.ElementTree as ET
    from urllib.parse import urlencode

    reply = await office.admin.call("POST", "/api/v1/tenants/nagaoka/ring_groups", {
        "name": "soumu", "extension": "3000", "members": [office.caller["id"], office.callee["id"]]})
    assert reply.status_code == 201, reply.text
    body = urlencode({"hostname": "fs", "section": "directory", "tag_name": "domain", "key_name": "name",
                      "key_value": DOMAIN, "Event-Name": "REQUEST_PARAMS", "group": "soumu", "domain": DOMAIN,
                      "action": "group_call"})
    async with httpx.AsyncClient() as client:
        answer = await client.post(office.fsapi, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        unknown = await client.post(office.fsapi, content=body.replace("soumu", "nobody"),
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    group = ET.fromstring(answer.text).find("./section/domain/groups/group")
    assert group is not None and group.get("name") == "soumu"
    dial = {u.get("id"): u.find("./params/param[@name='group-dial-string']").get("value")  # type: ignore[union-attr]
            for u in group.findall("./users/user")}
    ids = {"1000": office.caller["id"], "1001": office.callee["id"]}
    assert dial == {ext: f"[sip_invite_domain={DOMAIN},presence_id={ext}@{DOMAIN},hibiki_user={ids[ext]}]"
                         f"${{sofia_contact(*/d{ext}@{DOMAIN})}}" for ext in ("1000", "1001")}
    assert 'status="not found"' in unknown.text


async def test_numbers_typed_any_way_reach_the_carrier_as_a_well_formed_caller_id(office: Office) -> None:
    tenant = await office.admin.patch(f"/api/v1/tenants/{office.tenant}",
                                      {"outbound_gateway": "carrier1", "representative_number": "046-251-1111"})
    user = await office.admin.patch(f"/api/v1/tenants/{office.tenant}/users/{office.caller['id']}",
                                    {"direct_number": "+81 (46) 251-2001"})
    assert (tenant["representative_number"], user["direct_number"]) == ("0462511111", "0462512001")
    call = await place(office, "0312345678", {"sofia/gateway/carrier1/0312345678": 1})
    assert call.variables["effective_caller_id_number"] == "0462511111"
    direct = await place(office, "*810312345678", {"sofia/gateway/carrier1/0312345678": 1})
    assert direct.variables["effective_caller_id_number"] == "0462512001"
    created = await office.admin.api.post("/api/v1/tenants", json={"id": "zama", "domain": "zama.example.jp",
                                                                   "representative_number": "０４６（２５１）１１１１"})
    assert created.json()["representative_number"] == "0462511111"   # (another tenant: no config.applied to wait for)
    refused = []
    for path, field, value in ((f"/api/v1/tenants/{office.tenant}", "representative_number", "046-251-1111^^:x"),
                               (f"/api/v1/tenants/{office.tenant}", "representative_number", "0990123456"),
                               (f"/api/v1/tenants/{office.tenant}/users/{office.caller['id']}", "direct_number",
                                "0462512001,user/2001"),
                               ("/api/v1/tenants/zama/users", "direct_number", "09012345678")):
        body = {field: value, **({"username": "x"} if path.endswith("/users") else {})}
        reply = await office.admin.call("PATCH" if not path.endswith("/users") else "POST", path, body)
        refused.append((reply.status_code, reply.json()["error_id"], reply.json()["details"]["field"]))
    assert refused == [(422, "invalid-number", "representative_number")] * 2 + [(422, "invalid-number", "direct_number")] * 2
    again = await place(office, "0312345678", {"sofia/gateway/carrier1/0312345678": 1})
    assert again.variables["effective_caller_id_number"] == "0462511111"
