"""Callcontrol counts every ended leg of a tenant by result on its /metrics
(``hibiki_callcontrol_legs_ended_total``: the call-setup SLO of deploy/k8s/monitoring), through the
services and the emulator as in tests/test_call_records_end_to_end.py."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from test_acd_end_to_end import DOMAIN
from test_call_records_end_to_end import records, user_call  # noqa: F401  (the fixture)


async def _legs_ended(c: Any) -> dict[tuple[str, str], float]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {c.token}"}, timeout=10) as http:
        reply = await http.get(f"http://127.0.0.1:{c.callcontrol.port}/metrics")
    assert reply.status_code == 200, reply.text
    return {(s.labels["leg"], s.labels["result"]): s.value
            for family in text_string_to_metric_families(reply.text)
            for s in family.samples if s.name == "hibiki_callcontrol_legs_ended_total"}


async def test_an_answered_internal_call_counts_two_answered_legs(records: Any) -> None:  # noqa: F811
    c, legs, users = records
    before = await _legs_ended(c)
    call = await user_call(c, users, "2201", "2202", **{f"user/2202@{DOMAIN}": 0.3})
    await legs.of(call, 2)
    after = await _legs_ended(c)
    for leg in ("a", "b"):
        assert after[(leg, "answered")] - before.get((leg, "answered"), 0.0) == 1.0, (before, after)
    assert after.get(("a", "failed"), 0.0) == before.get(("a", "failed"), 0.0)
