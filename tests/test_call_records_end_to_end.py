"""Every leg of a call published as ``hibiki.<tenant>.call.ended`` (``CallEnded``), through the
services and the emulator, nothing stubbed: the directory's dialplan marks the call
(``hibiki_call_id``, ``hibiki_direction``, ``hibiki_tenant`` exported to every leg), callcontrol
reads each leg's CHANNEL_HANGUP_COMPLETE on its inbound event socket and publishes one message per
leg, on real NATS. Kinds of call: DID -> IVR -> queue -> agent, abandoned in the queue, an IVR test
call, extension -> extension, voicemail, a refused premium number, out through the carrier.
(The real switch: tests/freeswitch/test_call_records.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fsemu.emulator import Call
from hibiki.common.auth import TokenAuthority
from hibiki.events.v1 import call_pb2
from support.directory import fsapi_url
from test_acd_end_to_end import DOMAIN, NUMBER, Center, center, seat
from tools import ivr_test

A, B = call_pb2.CALL_LEG_A, call_pb2.CALL_LEG_B


class Legs:
    """The CallEnded messages of the tenant, by leg UUID."""

    def __init__(self) -> None:
        self.seen: dict[str, call_pb2.CallEnded] = {}
        self.count = 0
        self._arrived = asyncio.Event()

    async def handle(self, msg: Any) -> None:
        ended = call_pb2.CallEnded.FromString(msg.data)
        self.seen[ended.meta.call_uuid] = ended
        self.count += 1
        self._arrived.set()

    async def of(self, call: Call, count: int, timeout: float = 10.0) -> list[call_pb2.CallEnded]:
        """The ``count`` legs of ``call`` (its A-leg's UUID is the call id), A-leg first; no more come."""
        async with asyncio.timeout(timeout):
            while len(found := [m for m in self.seen.values() if m.call_id == call.uuid]) < count:
                self._arrived.clear()
                await self._arrived.wait()
        await asyncio.sleep(0.3)
        found = sorted((m for m in self.seen.values() if m.call_id == call.uuid), key=lambda m: m.leg)
        assert len(found) == count, found
        return found


@pytest.fixture
async def records(tmp_path: Path, nats_server: Any, nats_client: Any,
                  authority: TokenAuthority) -> AsyncIterator[tuple[Center, Legs, dict[str, str]]]:
    queues = [{"id": "night"}, {"id": "water", "skills": {"water": 1}}]
    legs = Legs()
    async with center(tmp_path, nats_server, nats_client, authority, queues) as c:
        sub = await nats_client.subscribe(f"hibiki.{c.tenant}.call.ended", cb=legs.handle)
        await nats_client.flush()
        admin = c.admin
        assert admin is not None
        await admin.post(f"/api/v1/tenants/{c.tenant}/gateways", {"name": "carrier1", "proxy": "192.0.2.9",
                                                                  "register": False})
        await admin.patch(f"/api/v1/tenants/{c.tenant}", {"outbound_gateway": "carrier1",
                                                          "representative_number": "0762205555"})
        listed = (await admin.api.get(f"/api/v1/tenants/{c.tenant}/users")).json()
        users = {u["extension"]: u["id"] for u in (listed["items"] if isinstance(listed, dict) else listed)}
        try:
            yield c, legs, users
        finally:
            await sub.unsubscribe()


async def user_call(c: Center, users: dict[str, str], caller: str, destination: str, **endpoints: object) -> Call:
    """A call placed by the phone of ``caller`` (extension) through the directory's dialplan."""
    call = await c.emu.place_call(destination=destination, caller_id_number=caller, domain=DOMAIN,
                                  dialplan_url=fsapi_url(c.directory), answering_endpoints=dict(endpoints),
                                  variables={"hibiki_tenant": c.tenant, "hibiki_user": users[caller],
                                             "domain_name": DOMAIN})
    await asyncio.wait_for(call.finished, 10)
    return call


def times_in_order(leg: call_pb2.CallEnded) -> None:
    start, end = leg.started_at.ToMicroseconds(), leg.ended_at.ToMicroseconds()
    assert 0 < start <= end
    for field in ("progress_at", "answered_at", "bridged_at"):
        if leg.HasField(field):
            assert start <= getattr(leg, field).ToMicroseconds() <= end, field


async def test_did_ivr_queue_agent_gives_the_callers_leg_and_the_agents(records: Any) -> None:
    c, legs, _ = records
    c.endpoints[seat("a1")] = 0.5           # answers, talks half a second, hangs up
    await c.login("a1")
    call = await c.dial(["1", "1", "3"])
    await asyncio.wait_for(call.finished, 15)
    a, b = await legs.of(call, 2)
    assert (a.leg, b.leg) == (A, B) and a.call_id == b.call_id == call.uuid == a.meta.call_uuid
    assert a.direction == b.direction == call_pb2.CALL_DIRECTION_INBOUND
    assert a.did == b.did == NUMBER and (a.caller_number, a.destination_number) == ("09011112222", NUMBER)
    assert (a.queue_id, b.queue_id, b.agent_id, b.destination_number) == ("water", "water", "a1", "2201")
    assert a.other_leg_uuid == b.meta.call_uuid and b.other_leg_uuid == a.meta.call_uuid
    assert b.sip_code == 200 and b.hangup_cause == "NORMAL_CLEARING"
    assert a.answered_at.ToMicroseconds() <= a.bridged_at.ToMicroseconds() == b.bridged_at.ToMicroseconds()
    for leg in (a, b):
        times_in_order(leg)
    assert a.meta.id != b.meta.id and a.meta.tenant == c.tenant


async def test_a_caller_who_gives_up_in_the_queue_is_one_leg_never_bridged(records: Any) -> None:
    c, legs, _ = records
    call = await c.dial(["1", "1", "3"])
    await c.bus.wait("queued", lambda m: m.meta.call_uuid == call.uuid)
    await asyncio.sleep(0.3)
    call.hangup_by_caller()
    (a,) = await legs.of(call, 1)
    assert a.leg == A and a.queue_id == "water" and a.agent_id == "" and not a.HasField("bridged_at")
    assert a.HasField("answered_at") and a.sip_code == 200 and a.result_hint == call_pb2.CALL_RESULT_HINT_UNSPECIFIED
    times_in_order(a)


async def test_an_ivr_test_call_is_marked_test_mode(records: Any) -> None:
    c, legs, _ = records
    path = {"keys": ["1", "1", "3"], "at": "2026-11-24T10:00:00+09:00", "end": "queue:water"}
    before = set(legs.seen)
    await ivr_test.run_path(c.emu, path, c.tenant, "suido", f"127.0.0.1:{c.callcontrol.esl_port}")
    async with asyncio.timeout(10):
        while not set(legs.seen) - before:
            await asyncio.sleep(0.05)
    (test_call,) = [legs.seen[u] for u in set(legs.seen) - before]
    assert test_call.test_mode and test_call.leg == A


async def test_extension_to_extension_internal_with_both_legs(records: Any) -> None:
    c, legs, users = records
    call = await user_call(c, users, "2201", "2202", **{f"user/2202@{DOMAIN}": 0.3})
    a, b = await legs.of(call, 2)
    assert a.direction == b.direction == call_pb2.CALL_DIRECTION_INTERNAL
    assert (a.caller_number, a.destination_number, b.destination_number) == ("2201", "2202", "2202")
    assert a.user == users["2201"] and a.did == "" and b.other_leg_uuid == call.uuid


async def test_voicemail_refused_and_outbound(records: Any) -> None:
    c, legs, users = records
    busy = await user_call(c, users, "2201", "2100", **{f"user/2100@{DOMAIN}": "USER_BUSY"})   # no forward: voicemail
    (vm,) = await legs.of(busy, 1)
    assert vm.result_hint == call_pb2.CALL_RESULT_HINT_VOICEMAIL and vm.direction == call_pb2.CALL_DIRECTION_INTERNAL
    premium = await user_call(c, users, "2201", "0990123456")
    (refused,) = await legs.of(premium, 1)
    assert refused.result_hint == call_pb2.CALL_RESULT_HINT_REFUSED and refused.sip_code == 403
    assert refused.direction == call_pb2.CALL_DIRECTION_OUTBOUND and not refused.HasField("answered_at")
    out = await user_call(c, users, "2201", "0312345678", **{"sofia/gateway/carrier1/0312345678": 0.3})
    a, b = await legs.of(out, 2)
    assert a.direction == b.direction == call_pb2.CALL_DIRECTION_OUTBOUND
    assert (b.destination_number, b.caller_number, b.user) == ("0312345678", "0762205555", "")
