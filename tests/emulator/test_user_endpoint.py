"""``bridge user/...``: mod_dptools user_outgoing_channel through the directory, the dial
string, sofia_contact, and what each endpoint does."""
from __future__ import annotations

import asyncio

from fsemu import FreeSwitchEmulator
from fsemu.expand import expand
from fsemu.fixtures import xml_curl_dir
from fsemu.urlencode import decode_form, encode_form

from emulator.helpers import DirectoryServer
from emulator.test_registration import directory, param, user, variable

CAPTURE = xml_curl_dir() / "xml_curl_directory_user_call.body"
VANILLA_DIAL = ("{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
                "${sofia_contact(*/${dialed_user}@${dialed_domain})}")
DOMAIN = "example.com"


def dialplan(actions: str) -> str:
    return ('<document type="freeswitch/xml"><section name="dialplan"><context name="default">'
            f'<extension name="x"><condition field="destination_number" expression="^7100$">{actions}'
            "</condition></extension></context></section></document>")


def act(app: str, data: str) -> str:
    return f'<action application="{app}" data="{data}"/>'


def office() -> str:
    """Two phones each for 1001 and 1002, one for 1003, 1004 without any, the vanilla dial-string."""
    return directory(DOMAIN, "".join([
        user("1001", param("password", "1234"), variable("user_context", "default"), ' number-alias="501"'),
        user("1002", param("password", "1234")),
        user("1003", param("password", "1234") + param("dial-string", "error/user_not_registered")),
        user("1004", param("password", "1234") + param("dial-string", "user/1004@example.com")),
        user("1005", param("password", "1234") + param("dial-var-hibiki_leg", "yes")),
    ]), param("dial-string", VANILLA_DIAL))


async def call(emu: FreeSwitchEmulator, actions: str, endpoints: dict[str, object] | None = None,
               variables: dict[str, str] | None = None):
    c = await emu.place_call(dialplan_xml=dialplan(actions), answering_endpoints=endpoints, variables=variables)
    await asyncio.wait_for(c.finished, 5)
    return c


async def test_user_call_request_is_the_captured_one() -> None:
    cap = decode_form(CAPTURE.read_bytes())
    fields = dict(cap)
    served = directory("127.0.0.1", user("1001", param("password", "1234")), param("dial-string", VANILLA_DIAL))
    async with DirectoryServer(lambda f: served) as http:
        async with FreeSwitchEmulator(directory_url=http.url, clock=lambda: int(fields["Event-Date-Timestamp"])) as emu:
            # vanilla default.xml: the "global" extension exports RFC2822_DATE, Local_Extension dialed_extension
            c = await call(emu, act("export", f"RFC2822_DATE={fields['RFC2822_DATE']}") +
                           act("export", "dialed_extension=1001") + act("bridge", "user/1001@127.0.0.1"))
    (_, body, sent), = http.requests
    expected = [(k, dict(sent)["Event-Sequence"] if k == "Event-Sequence" else v) for k, v in cap]
    assert body == encode_form(expected)              # every field, value and position but the sequence number
    assert int(dict(sent)["Event-Sequence"]) > int(c.events[0].get("Event-Sequence") or 0)
    assert c.hangup_cause == "USER_NOT_REGISTERED"     # nobody registered: ${sofia_contact()} -> error/...


async def test_dial_string_rings_the_registered_contact() -> None:
    async with FreeSwitchEmulator(directory_xml=office()) as emu:
        reg = await emu.register("1001", DOMAIN, "1234", device_contact="sip:1001@192.0.2.10:5062;transport=udp",
                                 network_ip="192.0.2.10")
        assert reg.registration is not None
        contact = reg.registration.endpoint
        assert contact == "sofia/internal/sip:1001@192.0.2.10:5062;transport=udp"
        c = await call(emu, act("set", "hangup_after_bridge=true") + act("bridge", f"{{origination_caller_id_name=Sato}}user/1001@{DOMAIN}"),
                       {contact: 0})
        assert c.channel.executed_bridges == [contact] and "CHANNEL_BRIDGE" in c.event_names()
        assert c.variables["DIALSTATUS"] == "SUCCESS" and c.hangup_cause == "NORMAL_CLEARING"
        assert c.variables["dialed_user"] == "1001" and c.variables["dialed_domain"] == DOMAIN
        outer, inner = c.channel.originations
        assert (outer.endpoint, outer.dial_string) == (f"user/1001@{DOMAIN}",
                                                       f"{{^^:sip_invite_domain={DOMAIN}:presence_id=1001@{DOMAIN}}}{contact}")
        assert inner.endpoint == contact and inner.via == (f"user/1001@{DOMAIN}",)
        assert inner.variables["sip_invite_domain"] == DOMAIN and inner.variables["presence_id"] == f"1001@{DOMAIN}"
        assert inner.variables["origination_caller_id_name"] == "Sato"       # {} vars reach the device's leg
        assert inner.variables["user_context"] == "default"                  # the user's variables too
        # the user/ string still scripts the endpoints it expands to (as before expansion existed)
        legacy = await call(emu, act("bridge", f"user/1001@{DOMAIN}"), {f"user/1001@{DOMAIN}": "USER_BUSY"})
        assert legacy.hangup_cause == "USER_BUSY" and legacy.variables["DIALSTATUS"] == "BUSY"
        # number-alias finds the same user; dialed_user is its id
        alias = await call(emu, act("bridge", f"user/501@{DOMAIN}"), {contact: 0})
        assert alias.channel.executed_bridges == [contact] and alias.variables["dialed_user"] == "1001"


async def test_causes_fs_decides_itself() -> None:
    async with FreeSwitchEmulator(directory_xml=office()) as emu:
        cases = {f"user/1009@{DOMAIN}": "SUBSCRIBER_ABSENT",      # no such user
                 f"user/1002@{DOMAIN}": "USER_NOT_REGISTERED",    # ${sofia_contact()} found nothing
                 f"user/1003@{DOMAIN}": "USER_NOT_REGISTERED",    # the user's own dial-string wins over the domain's
                 f"user/1004@{DOMAIN}": "INVALID_IE_CONTENTS",    # it dials itself
                 "user/1001@example.org": "SUBSCRIBER_ABSENT"}
        for dialled, cause in cases.items():
            c = await call(emu, act("bridge", dialled), {dialled: "answer"})   # scripting cannot override FS
            assert c.hangup_cause == cause, dialled
            assert c.variables["originate_disposition"] == cause == c.variables["originate_failed_cause"]
        no_dial = directory(DOMAIN, user("1001", param("password", "1234")))
        async with FreeSwitchEmulator(directory_xml=no_dial) as bare:
            c = await call(bare, act("bridge", f"user/1001@{DOMAIN}"))
            assert c.hangup_cause == "MANDATORY_IE_MISSING"
        c = await call(emu, act("set", "continue_on_fail=true") + act("bridge", "error/user_busy") + act("set", "after=1"))
        assert c.variables["after"] == "1" and c.variables["DIALSTATUS"] == "BUSY"
        c = await call(emu, act("bridge", "error/no_such_cause"))
        assert c.hangup_cause == "NORMAL_CLEARING"                         # switch_channel_str2cause
        # NO_ANSWER never hangs the caller up without continue_on_fail (switch_channel_handle_cause)
        c = await call(emu, act("bridge", "sofia/internal/sip:x@192.0.2.1") + act("set", "after=1"))
        assert c.variables["after"] == "1" and c.variables["DIALSTATUS"] == "NOANSWER"


async def test_user_without_domain_uses_the_global_domain() -> None:
    async with FreeSwitchEmulator(directory_xml=office(), global_vars={"domain": DOMAIN}) as emu:
        await emu.register("1001", DOMAIN, "1234", device_contact="sip:1001@192.0.2.10:5060")
        c = await call(emu, act("bridge", "user/1001"), {"sofia/internal/sip:1001@192.0.2.10:5060": 0},
                       variables={"domain_name": "elsewhere.example"})
        assert c.channel.executed_bridges == ["sofia/internal/sip:1001@192.0.2.10:5060"]
        assert emu.directory.requests[-1].params[-2:] == [("user", "1001"), ("domain", DOMAIN)]
    async with FreeSwitchEmulator(directory_xml=office()) as emu:         # no global domain
        c = await call(emu, act("bridge", "user/1001"))
        assert c.hangup_cause == "SUBSCRIBER_ABSENT"
        assert emu.directory.requests[-1].params[-1] == ("domain", "freeswitch.local")


async def test_several_phones_ring_together_and_groups_in_turn() -> None:
    two_phones = directory(DOMAIN, user("1001", param("password", "1234") + param(
        "dial-string", "${sofia_contact(*/d1@example.com)},${sofia_contact(*/d2@example.com)}"))
        + user("d1", param("password", "1234")) + user("d2", param("password", "1234"))
        + user("1002", param("password", "1234") + param("dial-string", "${sofia_contact(*/d3@example.com)}"))
        + user("d3", param("password", "1234")))
    desk, soft, other = ("sofia/internal/sip:d1@192.0.2.1:5060", "sofia/internal/sip:d2@192.0.2.2:5060",
                         "sofia/internal/sip:d3@192.0.2.3:5060")
    async with FreeSwitchEmulator(directory_xml=two_phones) as emu:
        for dev, ip in (("d1", "192.0.2.1"), ("d2", "192.0.2.2"), ("d3", "192.0.2.3")):
            assert (await emu.register(dev, DOMAIN, "1234", network_ip=ip)).ok
        c = await call(emu, act("bridge", f"user/1001@{DOMAIN}"), {soft: 0})
        assert c.channel.executed_bridges == [soft]
        assert [leg.endpoint for leg in c.channel.originations] == [f"user/1001@{DOMAIN}", desk, soft]
        _, first, second = c.channel.originations
        assert "originate_early_media" not in first.variables and second.variables["originate_early_media"] == "true"
        busy = await call(emu, act("bridge", f"user/1001@{DOMAIN}"), {desk: "USER_BUSY", soft: "USER_BUSY"})
        assert busy.hangup_cause == "USER_BUSY"
        # ring group in turn: the first user's phones ring out, the second answers
        seq = await call(emu, act("bridge", f"[leg_timeout=10]user/1001@{DOMAIN}|[leg_timeout=10]user/1002@{DOMAIN}"),
                         {other: 0})
        assert seq.channel.executed_bridges == [other]
        legs = {leg.endpoint: leg for leg in seq.channel.originations}
        assert legs[other].variables["leg_timeout"] == "10" and legs[other].via == (f"user/1002@{DOMAIN}",)
        # inside a forked dial a user/ endpoint calls only the FIRST endpoint of its dial string
        # (SOF_FORKED_DIAL -> SOF_NOBLOCK: "Only calling the first element in the list in this mode.")
        forked = await call(emu, act("bridge", f"user/1001@{DOMAIN},user/1002@{DOMAIN}"), {soft: 0})
        assert soft not in [leg.endpoint for leg in forked.channel.originations]
        assert forked.variables["originate_disposition"] == "NO_ANSWER"
        forked_ok = await call(emu, act("bridge", f"user/1001@{DOMAIN},user/1002@{DOMAIN}"), {desk: 0})
        assert forked_ok.channel.executed_bridges == [desk]


async def test_leg_variables_dial_vars_and_recursion_switch() -> None:
    async with FreeSwitchEmulator(directory_xml=office()) as emu:
        await emu.register("1005", DOMAIN, "1234", device_contact="sip:1005@192.0.2.5:5060")
        ep = "sofia/internal/sip:1005@192.0.2.5:5060"
        c = await call(emu, act("set", "ignore_early_media=true") +
                       act("bridge", f"{{a=1,b='x,y'}}[a=2,c=3]user/1005@{DOMAIN}"), {ep: 0})
        outer, inner = c.channel.originations
        assert outer.variables == {"a": "2", "b": "x,y", "ignore_early_media": "true", "c": "3"}
        assert inner.variables["hibiki_leg"] == "yes" and inner.variables["c"] == "3"      # dial-var-*
        request = emu.directory.requests[-1].params
        # [] replaces {} by delete + append (EF_UNIQ_HEADERS), the A-leg's options come after {}
        assert request[:6] == [("as_channel", "true"), ("action", "user_call"), ("b", "x,y"),
                               ("ignore_early_media", "true"), ("a", "2"), ("c", "3")]
        # user_recurse_variables=false: the user's endpoints do not get the leg's variables
        await emu.register("1002", DOMAIN, "1234", device_contact="sip:1002@192.0.2.2:5060")
        ep2 = "sofia/internal/sip:1002@192.0.2.2:5060"
        c = await call(emu, act("bridge", f"[user_recurse_variables=false,c=3]user/1002@{DOMAIN}"), {ep2: 0})
        inner = c.channel.originations[-1]
        assert inner.endpoint == ep2 and "c" not in inner.variables and "dialed_user" not in inner.variables
        assert inner.variables["presence_id"] == f"1002@{DOMAIN}"           # from the dial string itself


async def test_user_call_over_xml_curl_and_the_user_cache() -> None:
    served = directory(DOMAIN, user("1001", param("password", "1234"), attrs=' cacheable="60000"'),
                       param("dial-string", VANILLA_DIAL))
    async with DirectoryServer(lambda f: served) as http:
        async with FreeSwitchEmulator(directory_url=http.url) as emu:
            for _ in range(2):
                c = await call(emu, act("bridge", f"user/1001@{DOMAIN}"))
                assert c.hangup_cause == "USER_NOT_REGISTERED"
            assert len(http.fields("user_call")) == 1                        # the second came from the cache
            reg = await emu.register("1001", DOMAIN, "1234")                  # key id + 1001 + domain: cached too
            assert reg.ok and len(http.requests) == 1


async def test_not_found_falls_back_to_the_static_directory() -> None:
    async with DirectoryServer(lambda f: None) as http:
        async with FreeSwitchEmulator(directory_url=http.url, directory_xml=office()) as emu:
            assert (await emu.register("1002", DOMAIN, "1234", device_contact="sip:1002@192.0.2.2:5060")).ok
            c = await call(emu, act("bridge", f"user/1002@{DOMAIN}"), {"sofia/internal/sip:1002@192.0.2.2:5060": 0})
            assert c.channel.executed_bridges == ["sofia/internal/sip:1002@192.0.2.2:5060"]
            assert [dict(f)["action"] for _, _, f in http.requests] == ["sip_auth", "user_call"]


def test_expand_variables_like_switch_channel() -> None:
    values = {"a": "hello", "n": "5", "nested": "${a}!", "dom": "example.com"}
    api = {"upper": str.upper}

    def run(text: str) -> str:
        return expand(text, values.get, lambda name, arg: api[name](arg) if name in api else None)
    assert run("${a} ${missing}|") == "hello |"
    assert run("${a:1} ${a:1:2} ${a:-2} ${a:9}") == "ello el lo "
    assert run("${nested}") == "hello!"                     # values are expanded again
    assert run("${upper(${a}@${dom})}") == "HELLO@EXAMPLE.COM"
    assert run("${upper ${a}}") == "HELLO"
    assert run("${unknown(x${n})}") == "${unknown(x5)}"     # not emulated: kept, arguments expanded
    assert run("\\${a} costs \\$5") == "${a} costs $5"
    assert run("plain text") == "plain text" and run("it\\'s") == "its"
    assert run("$${dom}") == "example.com"
