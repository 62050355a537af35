"""Issue 10 item 1: no input yields more than the intended legs in a dial string, nor any ``[``,
``{``, ``,``, ``|``, ``^^`` outside our own syntax (property tests over every builder).

The builders: ``hibiki.common.dialstring`` (callcontrol's agent legs, transfers), the directory's
dialplan (a user's leg, every device's contact, ring groups at once and in turn, pickup,
carrier legs) and the ACD's login (what a device may be before it is stored)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hibiki.acd.domain import Acd, InvalidArgument
from hibiki.acd.domain.model import AgentProfile
from hibiki.common import dialstring
from hibiki.directory.dialplan import Plan
from hibiki.directory.view import RingGroupEntry, TenantView, UserEntry

ISSUE_DEVICE = ("nobody@kz.example.jp,[execute_on_answer=log CRIT X]user/2003@kz.example.jp,"
                "[leg_timeout=5]sofia/gateway/carrier/0990123456")
HOSTILE = [ISSUE_DEVICE, "2003,user/2004", "2003|user/2004", "2003:_:user/2004", "{x=1}2003", "<x=1>2003",
           "[x=1]2003", "2003^^:x", "${system(id)}", "2003 XML default", "2003\x00", "2003\n", "２００３", "a" * 65,
           "", "2003@other.example.jp", "../2003", "2003/x", "$${hold_music}", "2003;x=1", "2003'", "2003\""]
# Every character FreeSWITCH gives a meaning to inside a dial string or an argument, often.
SPECIALS = st.sampled_from(list(",|[]{}<>^:$@/ ;='\"\\\x00\n\t()*#+%&"))
TEXT = st.lists(st.one_of(SPECIALS, st.characters(), st.sampled_from(list("a0.-_"))), max_size=40).map("".join)
VALUE = r"[A-Za-z0-9_.-]+"
LEG = re.compile(rf"(\[[a-z_]+={VALUE}(,[a-z_]+={VALUE})*\])?user/{dialstring.DEVICE.pattern}@{dialstring.DOMAIN.pattern}")
CONTACT = re.compile(rf"\[(leg_timeout=[0-9]+,)?sip_invite_domain=(?P<d>{VALUE}),presence_id={VALUE}@(?P=d),hibiki_user={VALUE}\]"
                     rf"\$\{{sofia_contact\(\*/{dialstring.DEVICE.pattern}@(?P=d)\)\}}")


def legs(dial: str) -> list[str]:
    """A dial string cut where FreeSWITCH cuts it into legs (``,`` ``|`` ``:_:`` outside brackets)."""
    out, depth, current = [], 0, ""
    for ch in dial.replace(":_:", "|"):
        depth += ch in "[{<"
        depth -= ch in "]}>"
        if depth == 0 and ch in ",|":
            out.append(current)
            current = ""
        else:
            current += ch
    return [*out, current]


def built(make: object, *args: object) -> str | None:
    try:
        return make(*args)  # type: ignore[operator, no-any-return]
    except dialstring.UnsafeValue:
        return None


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(device=st.one_of(TEXT, st.sampled_from(HOSTILE)), domain=st.one_of(TEXT, st.just("kz.example.jp")),
       agent=st.one_of(TEXT, st.just("a1")))
def test_an_agent_leg_is_one_leg_or_nothing(device: str, domain: str, agent: str) -> None:
    leg = built(dialstring.user_leg, device, domain, {"hibiki_agent": agent, "leg_timeout": 20})
    if leg is None:
        return
    assert legs(leg) == [leg] and LEG.fullmatch(leg), leg
    assert leg.count("[") == leg.count("]") == 1 and "{" not in leg and "|" not in leg and "^^" not in leg
    assert leg.count(",") == 1          # ours: between hibiki_agent and leg_timeout


@settings(max_examples=200)
@given(devices=st.lists(st.one_of(TEXT, st.sampled_from(HOSTILE), st.sampled_from(["2001", "seat-1"])),
                        min_size=1, max_size=5))
def test_a_bridge_of_agent_legs_has_exactly_one_leg_per_agent(devices: list[str]) -> None:
    made = [built(dialstring.user_leg, d, "kz.example.jp", {"hibiki_agent": f"a{i}"}) for i, d in enumerate(devices)]
    good = [leg for leg in made if leg is not None]
    if len(good) < len(made):
        return                            # callcontrol rings nobody when a leg cannot be built
    assert len(legs(dialstring.at_once(good))) == len(devices)


@settings(max_examples=300)
@given(target=st.one_of(TEXT, st.sampled_from(HOSTILE)), context=st.one_of(TEXT, st.just("default")))
def test_a_transfer_is_one_argument_of_three_words(target: str, context: str) -> None:
    argument = built(dialstring.transfer, target, context)
    if argument is not None:
        words = argument.split(" ")
        assert len(words) == 3 and words[1] == "XML" and "$" not in argument and "{" not in argument


def _tenant(users: Iterable[UserEntry], groups: Iterable[RingGroupEntry] = (), gateway: str = "carrier",
            representative: str = "0462511111") -> TenantView:
    users = list(users)
    return TenantView("kz", "kz.example.jp", 1, representative_number=representative, outbound_gateway=gateway,
                      users={u.id: u for u in users},
                      extensions={u.extension: u.id for u in users if u.extension},
                      usernames={u.username: u.id for u in users},
                      ring_groups={g.id: g for g in groups})


def _bridges(actions: list[str]) -> list[str]:
    found = re.findall(r'application="bridge" data="([^"]*)"', "".join(actions))
    return [d.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') for d in found]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(devices=st.lists(st.one_of(TEXT, st.sampled_from(HOSTILE), st.sampled_from(["2001-desk", "2001-soft"])),
                        min_size=1, max_size=4),
       username=st.one_of(TEXT, st.just("sato")), pickup=st.one_of(st.just(""), TEXT, st.just("soumu")))
def test_the_directory_rings_each_device_once_and_nothing_else(devices: list[str], username: str,
                                                              pickup: str) -> None:
    """Stored values were checked on input; the dialplan checks them again where it builds."""
    user = UserEntry(id="u1", username=username, extension="2001", devices=tuple(devices), pickup_group=pickup)
    other = UserEntry(id="u2", username="suzuki", extension="2002", devices=("2002-desk",))
    plan = Plan(_tenant([user, other], [RingGroupEntry("g1", "soumu", "300", "sequential", 20, ("u1", "u2")),
                                        RingGroupEntry("g2", "kaikei", "301", "simultaneous", 20, ("u1", "u2"))]),
                "default")
    for build, expected in ((lambda: plan.user(user), len(devices) + 1 if pickup else 1),
                            (lambda: plan.group(plan.tenant.ring_groups["g1"]), len(devices) + 1),
                            (lambda: plan.group(plan.tenant.ring_groups["g2"]), len(devices) + 1)):
        try:
            actions = build()
        except dialstring.UnsafeValue:
            continue                      # answered with FreeSWITCH's not-found document
        (dial,) = _bridges(actions)
        cut = legs(dial)
        assert len(cut) == expected, (dial, expected)
        for leg in cut:
            assert LEG.fullmatch(leg) or CONTACT.fullmatch(leg) or re.fullmatch(rf"pickup/{VALUE}@kz\.example\.jp", leg), leg


@settings(max_examples=150)
@given(gateway=st.one_of(TEXT, st.just("carrier")), representative=st.one_of(TEXT, st.just("046-251-1111")))
def test_an_outside_call_has_one_carrier_leg_and_no_expandable_caller_id(gateway: str, representative: str) -> None:
    caller = UserEntry(id="u1", username="sato", extension="2001", outbound_classes=frozenset({"domestic"}))
    plan = Plan(_tenant([caller], gateway=gateway, representative=representative), "default")
    try:
        actions = plan.outbound(caller, "0312345678") or []
    except dialstring.UnsafeValue:
        return
    for dial in _bridges(actions):
        assert legs(dial) == [dial] and re.fullmatch(r"sofia/gateway/[A-Za-z0-9_.-]+/0312345678", dial)
    sets = "".join(a for a in actions if 'application="set"' in a)
    assert "${" not in sets and "$${" not in sets


@settings(max_examples=300)
@given(device=st.one_of(TEXT, st.sampled_from(HOSTILE)))
def test_the_acd_stores_no_device_a_dial_string_could_not_carry(device: str) -> None:
    acd = Acd("kz")
    acd.configure_agent(AgentProfile("a1"), 0.0)
    try:
        acd.login("a1", device, 1.0)
    except InvalidArgument:
        return
    assert dialstring.DEVICE.fullmatch(acd.agent("a1").device)


def test_the_issue_attack_builds_nothing_and_counts() -> None:
    """The issue's device and the usual separators: legs that reach a bridge, printed."""
    extra = 0
    for device in HOSTILE:
        leg = built(dialstring.user_leg, device, "kz.example.jp", {"hibiki_agent": "202", "leg_timeout": 20})
        extra += 0 if leg is None else len(legs(leg)) - 1
        assert leg is None or device in ("2003",), device
    good = dialstring.user_leg("2003", "kz.example.jp", {"hibiki_agent": "202", "leg_timeout": 20})
    print(f"\nhostile devices: {len(HOSTILE)}, built into a leg: 0, extra legs: {extra}; "
          f"legs in the bridge for a resolved device: {len(legs(good))}")
    assert extra == 0 and len(legs(good)) == 1
    assert good == "[hibiki_agent=202,leg_timeout=20]user/2003@kz.example.jp"


@pytest.mark.parametrize("device", HOSTILE)
def test_each_hostile_device_is_refused_by_every_check(device: str) -> None:
    with pytest.raises(dialstring.UnsafeValue):
        dialstring.device(device)
    acd = Acd("kz")
    acd.configure_agent(AgentProfile("a1"), 0.0)
    with pytest.raises(InvalidArgument):
        acd.login("a1", device, 1.0)


@settings(max_examples=300)
@given(kind=st.sampled_from(["announcement", "queue", "ivr", "user", "ring_group", "voicemail"]),
       target=st.one_of(TEXT, st.sampled_from(HOSTILE), st.sampled_from(["hibiki/災害.wav", "water"])))
def test_a_stored_route_puts_nothing_expandable_into_an_application(kind: str, target: str) -> None:
    """FreeSWITCH expands ``${...}`` (an API call: ``${system(...)}``) in every application's
    argument: a route's stored target never reaches one unchecked (announcement, queue, IVR, log)."""
    from hibiki.directory.view import Route

    plan = Plan(_tenant([UserEntry(id="u1", username="sato", extension="2001", devices=("2001-desk",))]), "default")
    actions = "".join(plan.route(Route(kind, target)))
    data = re.findall(r'data="([^"]*)"', actions)
    ours = {"${sofia_contact(", "${uuid}", "${originate_disposition}"}
    for argument in data:
        stripped = argument
        for allowed in ours:
            stripped = stripped.replace(allowed, "")
        assert "${" not in stripped and "$${" not in stripped, (kind, target, argument)


@settings(max_examples=300)
@given(app=st.sampled_from(["set", "transfer", "bridge", "playback"]), arg=st.one_of(TEXT, st.sampled_from(
    ["x\n\napi system id", "x\r\nexecute-app-name: system", "x\x00"])))
def test_an_application_on_the_event_socket_is_one_frame(app: str, arg: str) -> None:
    """callcontrol's ``sendmsg``: a line break in an argument would end the frame and start a
    command of its own on the socket (``api system ...``); it is refused instead."""
    from hibiki.callcontrol.ivr.channel import _sendmsg

    try:
        frame = _sendmsg(app, arg, "00000000-0000-4000-8000-000000000000")
    except dialstring.UnsafeValue:
        assert any(c in arg for c in "\r\n\x00")
        return
    lines = frame.split("\n")
    assert lines[0] == "sendmsg" and len(lines) == (5 if arg else 4)
    assert all(re.fullmatch(r"[a-z-]+: .*", line) for line in lines[1:])
