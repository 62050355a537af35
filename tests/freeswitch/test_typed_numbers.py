"""Issue 11 #8 on the real switch: a representative or direct number typed the way people write
it (``046-251-1111``, ``+81 46 251 2222``) reaches the carrier as a well-formed caller ID."""

from __future__ import annotations

import re

from support.switch.bench import SwitchBench


def from_user(invite: str) -> str:
    m = re.search(r"^From:.*?<sip:([^@>]*)@", invite, re.M)
    return m.group(1) if m else ""


def test_typed_numbers_reach_the_carrier_normalized(bench: SwitchBench) -> None:
    tenant = bench.tenant("typed", representative_number="046-251-1111")
    assert tenant["representative_number"] == "0462511111"
    bench.carrier_gateway("typed", "typed-carrier", caller_id_in_from=True)
    clerk = bench.extension("typed", "3001")[0]
    direct = bench.extension("typed", "3002", caller_id_policy="direct", direct_number="+81 (46) 251-2222")[0]
    seen = []
    for who in (clerk, direct):
        carrier = bench.carrier_uas()
        caller = bench.sipp_call(who, "0312345678", talk_ms=1000)
        answered = carrier.result()
        assert caller.ok, caller.output
        seen.append(from_user(answered.requests("INVITE")[0]))
    print(f"\ncaller IDs the carrier got: {seen}")
    assert seen == ["0462511111", "0462512222"]
