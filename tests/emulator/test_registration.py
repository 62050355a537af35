"""mod_sofia REGISTER handling: the sip_auth request, the checks of sofia_reg_parse_auth, the
registrations table and sofia_contact."""
from __future__ import annotations

import asyncio
import hashlib

from fsemu import FreeSwitchEmulator, SofiaProfile
from fsemu.events import Event
from fsemu.fixtures import xml_curl_dir
from fsemu.urlencode import decode_form

from emulator.helpers import DirectoryServer

CAPTURE = xml_curl_dir() / "xml_curl_directory_sip_auth_REGISTER.body"


def directory(domain: str, users: str, domain_params: str = "") -> str:
    return (f'<document type="freeswitch/xml"><section name="directory"><domain name="{domain}">'
            f"<params>{domain_params}</params><groups><group name=\"default\"><users>{users}</users></group></groups>"
            "</domain></section></document>")


def user(uid: str, params: str = "", variables: str = "", attrs: str = "") -> str:
    return f'<user id="{uid}"{attrs}><params>{params}</params><variables>{variables}</variables></user>'


def param(name: str, value: str) -> str:
    return f'<param name="{name}" value="{value}"/>'


def variable(name: str, value: str) -> str:
    return f'<variable name="{name}" value="{value}"/>'


VANILLA_1001 = directory("127.0.0.1", user("1001", param("password", "1234"),
                                           variable("user_context", "default") + variable("accountcode", "1001")))


async def test_register_sends_the_captured_sip_auth_request_byte_for_byte() -> None:
    cap = dict(decode_form(CAPTURE.read_bytes()))
    async with DirectoryServer(lambda f: VANILLA_1001) as http:
        # the challenge's sofia::pre_register takes the sequence number before the request's
        emu = FreeSwitchEmulator(directory_url=http.url, clock=lambda: int(cap["Event-Date-Timestamp"]),
                                 first_sequence=int(cap["Event-Sequence"]) - 1)
        async with emu:
            result = await emu.register(
                "1001", "127.0.0.1", "1234", device_contact="sip:1001-0x557520e2f600@127.0.0.1:5080",
                network_ip="127.0.0.1", network_port=5080, user_agent=cap["sip_user_agent"],
                call_id=cap["sip_call_id"], nonce=cap["sip_auth_nonce"], cnonce=cap["sip_auth_cnonce"])
    head, body, _ = http.requests[0]
    assert body == CAPTURE.read_bytes()          # the digest of password 1234 is the captured one
    assert head.decode().split("\r\n")[2:6] == ["User-Agent: freeswitch-xml/1.0", "Accept: */*",
                                                f"Content-Length: {len(body)}",
                                                "Content-Type: application/x-www-form-urlencoded"]
    assert result.ok and result.auth_result == "RENEWED"     # qop=auth: AUTH_RENEWED
    reg = result.registration
    assert reg is not None and reg.contact == '"" <sip:1001-0x557520e2f600@127.0.0.1:5080>'
    assert reg.status == "Registered(UDP)" and reg.sip_user == "1001" and reg.sip_host == "127.0.0.1"
    assert reg.expires == int(cap["Event-Date-Timestamp"]) // 10**6 + 3600 + 60
    assert reg.variables["user_context"] == "default" and reg.variables["sip_number_alias"] == "1001"
    assert list(reg.variables)[:6] == ["sip_number_alias", "sip_auth_username", "sip_auth_realm", "number_alias",
                                       "user_name", "domain_name"]
    assert result.contacts == ["<sip:1001-0x557520e2f600@127.0.0.1:5080>;expires=3600"]
    assert emu.sofia_contact("*/1001@127.0.0.1") == "sofia/internal/sip:1001-0x557520e2f600@127.0.0.1:5080"


async def test_wrong_password_unknown_user_and_not_found_are_403() -> None:
    served = directory("example.com", user("1001", param("password", "1234")))
    async with DirectoryServer(lambda f: served if f["user"] == "1001" else None) as http:
        async with FreeSwitchEmulator(directory_url=http.url) as emu:
            events: list[Event] = []
            emu.switch.sinks.append(events.append)
            wrong = await emu.register("1001", "example.com", "4321")
            unknown = await emu.register("1009", "example.com", "1234")
            other_domain = await emu.register("1001", "example.org", "1234")
            assert (wrong.status, wrong.auth_result) == (403, "FORBIDDEN") and wrong.registration is None
            assert unknown.rejected and unknown.user is None and other_domain.rejected
            assert emu.registrations == [] and emu.sofia_contact("*/1001@example.com") == "error/user_not_registered"
            failures = [e for e in events if e.subclass == "sofia::register_failure"]
            assert len(failures) == 3 and failures[0].get("to-user") == "1001"
            assert failures[0].get("Event-Name") == "CUSTOM" and failures[0].get("registration-type") == "REGISTER"
            attempts = [e.get("auth-result") for e in events if e.subclass == "sofia::register_attempt"]
            assert attempts == ["FORBIDDEN"] * 3
            ok = await emu.register("1001", "example.com", "1234", network_ip="192.0.2.7")
            assert ok.ok and [e.subclass for e in events][-3:] == ["sofia::pre_register", "sofia::register_attempt",
                                                                    "sofia::register"]
            assert events[-1].get("contact") == '"" <sip:1001@192.0.2.7:5060>'
            # the request carries ip= (switch_xml_locate_user with the client address)
            assert http.fields("sip_auth")[-1][-4:] == [("key", "id"), ("user", "1001"), ("domain", "example.com"),
                                                       ("ip", "192.0.2.7")]


async def test_a1_hash_params_and_user_checks() -> None:
    a1 = hashlib.md5(b"d2001:city.example:twelve chars!").hexdigest()
    served = directory("city.example", "".join([
        user("d2001", param("a1-hash", a1) + param("sip-force-expires", "120"), variable("hibiki_user", "u-1")),
        user("open"),                                                      # no password at all
        user("closed", param("allow-empty-password", "false")),
        user("barred", param("password", "x") + param("sip-forbid-register", "true")),
        user("acl", param("password", "x") + param("auth-acl", "10.0.0.0/8")),
        user("phoneonly", param("password", "x") + param("user-agent-filter", "^Yealink")),
        user("ptr", param("password", "x"), attrs=' type="pointer"'),
    ]), param("sip-allow-multiple-registrations", "true"))
    async with FreeSwitchEmulator(directory_xml=served) as emu:     # the static directory
        ok = await emu.register("d2001", "city.example", "twelve chars!", device_contact="sip:d2001@192.0.2.9:5070")
        assert ok.ok and ok.registration is not None
        assert ok.registration.variables["hibiki_user"] == "u-1"
        assert ok.registration.variables["sip-force-expires"] == "120"     # sip-* params and domain params kept
        assert ok.registration.variables["sip-allow-multiple-registrations"] == "true"
        assert ok.contacts == ["<sip:d2001@192.0.2.9:5070>;expires=120"]   # sip-force-expires
        assert (await emu.register("open", "city.example", "anything")).ok
        assert (await emu.register("closed", "city.example", "")).rejected
        assert (await emu.register("barred", "city.example", "x")).rejected
        assert (await emu.register("acl", "city.example", "x", network_ip="192.0.2.1")).rejected
        assert (await emu.register("acl", "city.example", "x", network_ip="10.1.2.3")).ok
        assert (await emu.register("phoneonly", "city.example", "x", user_agent="Linphone")).rejected
        assert (await emu.register("phoneonly", "city.example", "x", user_agent="Yealink SIP-T46S")).ok
        assert (await emu.register("ptr", "city.example", "x")).rejected
        # inbound-reg-force-matching-username: To user must be the auth user, no lookup made
        before = len(emu.directory.requests)
        spoof = await emu.register("d2001", "city.example", "twelve chars!", auth_username="open")
        assert spoof.rejected and spoof.request is None and len(emu.directory.requests) == before


async def test_a_replayed_nonce_is_stale() -> None:
    served = directory("example.com", user("1001", param("password", "1234")))
    async with FreeSwitchEmulator(directory_xml=served) as emu:
        first = await emu.register("1001", "example.com", "1234", nonce="n-1", cnonce="c")
        again = await emu.register("1001", "example.com", "1234", nonce="n-1", cnonce="c")   # same nc
        assert first.ok and (again.status, again.auth_result) == (401, "STALE")
        later = await emu.register("1001", "example.com", "1234", nonce="n-2", cnonce="c", nc="00000002")
        assert later.ok


async def test_multiple_registrations_unregister_and_expiry() -> None:
    now = [1_800_000_000 * 10**6]
    served = directory("example.com", user("1001", param("password", "1234")))
    async with FreeSwitchEmulator(directory_xml=served, clock=lambda: now[0]) as emu:
        desk = "sip:1001@192.0.2.10:5060"
        soft = "sip:1001@192.0.2.11:5062;transport=tcp"
        assert (await emu.register("1001", "example.com", "1234", device_contact=desk, expires=600)).ok
        second = await emu.register("1001", "example.com", "1234", device_contact=soft, expires=60)
        assert second.registration is not None and second.registration.status == "Registered(TCP)"
        assert emu.sofia_contact("*/1001@example.com") == ("sofia/internal/sip:1001@192.0.2.10:5060,"
                                                           "sofia/internal/sip:1001@192.0.2.11:5062;transport=tcp")
        assert second.contacts == ["<sip:1001@192.0.2.10:5060>;expires=600", "<sip:1001@192.0.2.11:5062;transport=tcp>;expires=60"]
        again = await emu.register("1001", "example.com", "1234", device_contact=desk, expires=600)
        assert len(emu.registrations) == 2 and again.registration is not None     # refreshed, not added
        assert emu.sofia_contact("internal/1001@example.com").count("sofia/") == 2
        assert emu.sofia_contact("*/1001@example.org") == "error/user_not_registered"
        assert emu.sofia_contact("*/1001@example.com/sofia_prefix_").startswith("sofia_prefix_sofia/internal/")
        now[0] += 121 * 10**6          # past 60 s + the 60 s late margin of the softphone
        assert emu.sofia_contact("*/1001@example.com") == "sofia/internal/sip:1001@192.0.2.10:5060"
        bye = await emu.unregister("1001", "example.com", "1234", device_contact=desk)
        assert bye.ok and emu.registrations == []
        assert emu.sofia_contact("*/1001@example.com") == "error/user_not_registered"

    single = SofiaProfile(multiple_registrations=False)
    async with FreeSwitchEmulator(directory_xml=served, sofia_profile=single) as emu:
        await emu.register("1001", "example.com", "1234", device_contact="sip:1001@192.0.2.10:5060")
        await emu.register("1001", "example.com", "1234", device_contact="sip:1001@192.0.2.11:5060")
        assert [r.contact for r in emu.registrations] == ['"" <sip:1001@192.0.2.11:5060>']


async def test_sofia_contact_api_and_expansion_in_application_data() -> None:
    served = directory("example.com", user("1001", param("password", "1234")))
    dialplan = ('<document type="freeswitch/xml"><section name="dialplan"><context name="default">'
                '<extension name="x"><condition field="destination_number" expression="^7100$">'
                '<action application="set" data="c=${sofia_contact(internal/1001@example.com)}"/>'
                '<action application="set" data="all=${sofia_contact(*/${who}@example.com)}"/>'
                '<action application="set" data="none=${sofia_contact(*/1002@example.com)}"/>'
                '<action application="set" data="other=${strftime(%Y)}"/>'
                "</condition></extension></context></section></document>")
    async with FreeSwitchEmulator(directory_xml=served) as emu:
        await emu.register("1001", "example.com", "1234", device_contact="sip:1001@192.0.2.10:5060;transport=udp")
        assert await emu.api.execute("sofia_contact", "internal/1001@example.com") == \
            "sofia/internal/sip:1001@192.0.2.10:5060;transport=udp"
        assert await emu.api.execute("sofia_contact", "1002@example.com") == "error/user_not_registered"
        call = await emu.place_call(dialplan_xml=dialplan, variables={"who": "1001"})
        await asyncio.wait_for(call.finished, 5)
        assert call.variables["c"] == call.variables["all"] == "sofia/internal/sip:1001@192.0.2.10:5060;transport=udp"
        assert call.variables["none"] == "error/user_not_registered"
        assert call.variables["other"] == "${strftime(%Y)}"          # not emulated: left visible


async def test_enable_post_var_whitelist_filters_the_request() -> None:
    served = directory("example.com", user("1001", param("password", "1234")))
    async with DirectoryServer(lambda f: served) as http:
        allowed = ("action", "sip_auth_response", "user", "domain", "Event-Calling-Function")
        async with FreeSwitchEmulator(directory_url=http.url, directory_post_vars=allowed) as emu:
            assert (await emu.register("1001", "example.com", "1234")).ok
    (_, _, fields), = http.requests
    assert [k for k, _ in fields] == ["hostname", "section", "tag_name", "key_name", "key_value",
                                      "Event-Calling-Function", "action", "sip_auth_response", "user", "domain"]
