"""Calls to the public network through a carrier gateway (a sipp UAS on its own loopback address
plays the carrier): the caller ID the policy gives, 184 withholding it, premium numbers refused,
emergency numbers always allowed."""

from __future__ import annotations

import re

import pytest

from support.switch.bench import Extension, SwitchBench

REPRESENTATIVE = "0462511111"
DIRECT = "0462512222"


@pytest.fixture(scope="module")
def people(bench: SwitchBench) -> dict[str, Extension]:
    bench.tenant("out", representative_number=REPRESENTATIVE)
    bench.carrier_gateway("out", "out-carrier", caller_id_in_from=True)
    return {
        "clerk": bench.extension("out", "3001")[0],
        "direct": bench.extension("out", "3002", caller_id_policy="direct", direct_number=DIRECT)[0],
        "lobby": bench.extension("out", "3003", outbound_classes=[])[0],   # may call nobody outside
    }


def from_user(invite: str) -> str:
    m = re.search(r"^From:.*?<sip:([^@>]*)@", invite, re.M)
    return m.group(1) if m else ""


def test_outside_call_presents_the_representative_number(bench: SwitchBench, people: dict[str, Extension]) -> None:
    carrier = bench.carrier_uas()
    mark = bench.fs.log_mark()
    caller = bench.sipp_call(people["clerk"], "0312345678", talk_ms=2000)
    answered = carrier.result()
    assert caller.ok and caller.final() == 200, caller.output
    assert answered.ok, answered.output
    invite = answered.requests("INVITE")[0]
    assert invite.startswith("INVITE sip:0312345678@")
    assert from_user(invite) == REPRESENTATIVE, invite
    assert ("bridge", "sofia/gateway/out-carrier/0312345678") in bench.fs.applications(mark)


def test_direct_in_policy_presents_the_users_own_number(bench: SwitchBench, people: dict[str, Extension]) -> None:
    carrier = bench.carrier_uas()
    caller = bench.sipp_call(people["direct"], "0312345678", talk_ms=1000)
    answered = carrier.result()
    assert caller.ok, caller.output
    assert from_user(answered.requests("INVITE")[0]) == DIRECT


def test_184_withholds_the_caller_id(bench: SwitchBench, people: dict[str, Extension]) -> None:
    carrier = bench.carrier_uas()
    caller = bench.sipp_call(people["clerk"], "1840312345678", talk_ms=1000)
    answered = carrier.result()
    assert caller.ok, caller.output
    invite = answered.requests("INVITE")[0]
    assert invite.startswith("INVITE sip:0312345678@"), invite
    assert from_user(invite) == "anonymous", invite
    assert REPRESENTATIVE not in re.search(r"^From:.*$", invite, re.M).group(0), invite  # type: ignore[union-attr]
    assert re.search(r"^Privacy:.*\bid\b", invite, re.M | re.I), invite          # withheld ...
    assert re.search(rf"^P-Asserted-Identity:.*<sip:{REPRESENTATIVE}@", invite, re.M), invite   # ... but known to the carrier


def test_premium_number_refused_with_403(bench: SwitchBench, people: dict[str, Extension]) -> None:
    mark = bench.fs.log_mark()
    caller = bench.sipp_call(people["clerk"], "0990123456", final=403)
    assert caller.ok and caller.final() == 403, caller.messages
    assert "refused by class of service" in bench.fs.log_since(mark)
    assert not any(app == "bridge" for app, _ in bench.fs.applications(mark))


@pytest.mark.parametrize("number", ["110", "119"])
def test_emergency_always_allowed(bench: SwitchBench, people: dict[str, Extension], number: str) -> None:
    carrier = bench.carrier_uas()
    caller = bench.sipp_call(people["lobby"], number, talk_ms=1000)
    answered = carrier.result()
    assert caller.ok, caller.output
    assert answered.requests("INVITE")[0].startswith(f"INVITE sip:{number}@")


def test_a_caller_with_no_outside_classes_is_refused_a_normal_number(bench: SwitchBench,
                                                                     people: dict[str, Extension]) -> None:
    caller = bench.sipp_call(people["lobby"], "0312345678", final=403)
    assert caller.final() == 403, caller.messages
