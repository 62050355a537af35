"""Issue 10 item 16: the ACD's HTTP API checks types, ranges and sizes. The bodies the attack run
sent (priority "high", -1e30, skill level 1e30, offer timeout 1e308, a 100 kB skill name, 20,000
skills, NUL in a device, ``max_wait`` to numbers the README refuses, deeply nested JSON) and
more are sent to a running ACD; each must be a 4xx with ``error_id`` and the ``field`` at fault,
never a 500 and never stored. Printed: bodies sent, accepted, 5xx (0, 0)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hibiki.common.auth import Claims, TokenAuthority
from support.acd import acd_with_directory

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_QUEUES: list[tuple[str, Any, str]] = [
    ("priority", {"priority": "high"}, "priority"),
    ("priority", {"priority": -1e30}, "priority"),
    ("priority", {"priority": 10**40}, "priority"),
    ("priority", {"priority": True}, "priority"),
    ("skill level", {"skills": {"water": 1e30}}, "skills.water"),
    ("skill level", {"skills": {"water": 10**30}}, "skills.water"),
    ("skill level", {"skills": {"water": "2"}}, "skills.water"),
    ("offer timeout", {"offer_timeout_seconds": 1e308}, "offer_timeout_seconds"),
    ("offer timeout", {"offer_timeout_seconds": "30"}, "offer_timeout_seconds"),
    ("service level", {"service_level_seconds": -5}, "service_level_seconds"),
    ("skill name", {"skills": {"x" * 100_000: 1}}, "skills"),
    ("skill name", {"skills": {"": 1}}, "skills"),
    ("skill name", {"skills": {"wa\x00ter": 1}}, "skills"),
    ("skill count", {"skills": {f"s{i}": 1 for i in range(20_000)}}, "skills"),
    ("profiles", {"profiles": [{"name": f"p{i}"} for i in range(1000)]}, "profiles"),
    ("profile name", {"profiles": [{"name": "night\x00"}]}, "profiles.0.name"),
    ("band", {"profiles": [{"name": "n", "bands": [{"start": "25:00", "end": "26:00"}]}]}, "profiles.0.bands.0.start"),
    ("max wait premium", {"max_wait": {"seconds": 60, "destination": "external:0990123456"}}, "max_wait.destination"),
    ("max wait international", {"max_wait": {"seconds": 60, "destination": "external:0101234567890"}},
     "max_wait.destination"),
    ("max wait +cc", {"max_wait": {"seconds": 60, "destination": "external:+15551234567"}}, "max_wait.destination"),
    ("max wait injection", {"max_wait": {"seconds": 60, "destination": "extension:2001 XML default"}},
     "max_wait.destination"),
    ("max wait dial string", {"max_wait": {"seconds": 60, "destination": "external:0312345678,user/2003"}},
     "max_wait.destination"),
    ("max wait unknown kind", {"max_wait": {"seconds": 60, "destination": "system:reboot"}}, "max_wait.destination"),
    ("max wait seconds", {"max_wait": {"seconds": 1e308, "destination": "hangup"}}, "max_wait.seconds"),
    ("overflow", b'{"overflow": {"queue_id": "q", "after_seconds": Infinity}}', "overflow.after_seconds"),
    ("offer timeout NaN", b'{"offer_timeout_seconds": NaN}', "offer_timeout_seconds"),
    ("overflow id", {"overflow": {"queue_id": "a,b", "after_seconds": 5}}, "overflow.queue_id"),
    ("unknown field", {"colour": "red"}, "colour"),
    ("strategy", {"strategy": ["skills"]}, "strategy"),
    ("nested", {"skills": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}, "body"),
]
HOSTILE_AGENTS: list[tuple[str, Any, str]] = [
    ("agent skills", {"skills": {"water": 1e30}}, "skills.water"),
    ("agent skill count", {"skills": {f"s{i}": 1 for i in range(20_000)}}, "skills"),
    ("agent queues", {"queues": "q"}, "queues"),
    ("agent queue id", {"queues": ["q\x00"]}, "queues.0"),
    ("agent queue count", {"queues": [f"q{i}" for i in range(5000)]}, "queues"),
]
HOSTILE_DESK: list[tuple[str, str, Any, str]] = [
    ("login NUL", "login", {"device": "seat-1\x00"}, "device"),
    ("login list", "login", {"device": ["seat-1"]}, "device"),
    ("login ready", "login", {"device": "seat-1", "ready": "yes"}, "ready"),
    ("login dial string", "login", {"device": "seat-1,user/2002"}, "device"),
    ("login long", "login", {"device": "s" * 100_000}, "device"),
    ("state", "state", {"state": "talking"}, "state"),
    ("state reason", "state", {"state": "break", "reason": "lunch\x00"}, "reason"),
    ("state reason long", "state", {"state": "break", "reason": "x" * 10_000}, "reason"),
    ("disposition note", "disposition", {"call_uuid": "c1", "case_type": "1", "note": "a\x00b"}, "note"),
    ("disposition call", "disposition", {"call_uuid": "c1 XML default", "case_type": "1"}, "call_uuid"),
    ("disposition type", "disposition", {"call_uuid": "c1", "case_type": 5}, "case_type"),
]


async def test_every_hostile_body_is_a_4xx_with_the_field(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                          authority: TokenAuthority) -> None:
    tenant = f"hv{uuid.uuid4().hex[:10]}"
    sent, accepted, failed = 0, [], []

    def judge(what: str, reply: httpx.Response, field: str) -> None:
        nonlocal sent
        sent += 1
        if reply.status_code >= 500:
            failed.append(f"{what}: {reply.status_code} {reply.text[:100]}")
            return
        if reply.status_code < 400:
            accepted.append(f"{what}: {reply.status_code}")
            return
        body = reply.json()
        assert body["error_id"] and body["message"], (what, body)
        got = body["details"].get("field", "")
        assert got == field or (field == "body" and body["error_id"] == "invalid-json") or \
            (field == "skills" and got.startswith("skills")), (what, field, body)

    async with acd_with_directory(tmp_path, nats_server, nats_client, authority, tenant) as (acd, _):
        token = authority.issue(Claims("kanri", "user", tenant, ("admin",)))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{acd.port}/api/v1/tenants/{tenant}",
                                     headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for what, body, field in HOSTILE_QUEUES:
                sent_as = {"content": body} if isinstance(body, bytes) else {"json": body}
                judge(what, await http.put("/queues/q", **sent_as), field)
            for what, body, field in HOSTILE_AGENTS:
                judge(what, await http.put("/agents/a1", json=body), field)
            for what, path, body, field in HOSTILE_DESK:
                judge(what, await http.post(f"/agents/a1/{path}", json=body), field)
            for what, raw in (("deep JSON", DEEP), ("deep object", '{"a":' * 50_000 + "1" + "}" * 50_000),
                              ("not JSON", "{nope")):
                judge(what, await http.put("/queues/q", content=raw.encode()), "body")
            judge("deep login", await http.post("/agents/a1/login", content=DEEP.encode()), "body")
            judge("NUL escaped in JSON", await http.post("/agents/a1/login", content=b'{"device": "seat-1\\u0000"}'),
                  "device")
            stored = (await http.get("/queues/q")).json()
            agent = (await http.get("/agents/a1/state")).json()
    print(f"\nhostile ACD bodies sent: {sent}, accepted: {len(accepted)}, 5xx: {len(failed)}")
    for line in accepted + failed:
        print("  " + line)
    assert stored == {**stored, "priority": 0, "skills": {}, "max_wait": None, "offer_timeout_seconds": 20.0}
    assert agent["state"] == "logged_out" and not agent.get("device")
    assert not accepted and not failed


async def test_queue_bodies_from_hypothesis_are_never_a_5xx(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                            authority: TokenAuthority) -> None:
    """Arbitrary JSON for every field of a queue: 200/201 or 4xx with an error_id, never 5xx."""
    tenant = f"hq{uuid.uuid4().hex[:10]}"
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
    values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=12)
    fields = st.sampled_from(["strategy", "skills", "priority", "overflow", "max_wait", "service_level_seconds",
                              "offer_timeout_seconds", "wrap_up_limit_seconds", "missed_offer_limit", "profiles"])
    bodies = st.dictionaries(fields, values, max_size=4)
    statuses: dict[int, int] = {}
    drawn: list[dict[str, Any]] = []

    @settings(max_examples=80, database=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def draw(body: dict[str, Any]) -> None:
        drawn.append(body)
    draw()
    async with acd_with_directory(tmp_path, nats_server, nats_client, authority, tenant) as (acd, _):
        token = authority.issue(Claims("kanri", "user", tenant, ("admin",)))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{acd.port}/api/v1/tenants/{tenant}",
                                     headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for body in drawn:
                reply = await http.put("/queues/fuzz", json=body)
                statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
                assert reply.status_code < 500, (body, reply.text)
                if reply.status_code >= 400:
                    assert reply.json()["error_id"], reply.text
    print(f"\nfuzzed queue bodies by status: {dict(sorted(statuses.items()))}")
    assert not any(status >= 500 for status in statuses)

