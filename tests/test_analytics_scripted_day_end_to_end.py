"""Issue 12's scripted day, through the emulator end to end: a day of calls made on the FreeSWITCH
emulator with the real directory, callcontrol, ACD, NATS (a server of this test's own) and the
analytics service (chdb) gives exactly the hand-counted figures in the reports API, its CSV and
xlsx, and the wallboard.

The day (tenant of its own; IVR ``suido``: 1, 1, 3 -> queue ``water``, which overflows to
``night`` after 3 s (time enough for an offer on a loaded machine); agent a1 serves ``water``, a2 ``night``):

1. answered: a1 is ready, answers at once, talks, saves disposition 開栓;
2. abandoned in queue: nobody is ready, the caller hangs up 0.3 s after being queued;
3. abandoned in the IVR: the caller hangs up during the greeting, no key pressed;
4. overflowed: nobody on ``water``, after 3 s the call moves to ``night``, a2 answers, saves 開栓;
5. after hours: a second number whose schedule is closed all week sends the caller to voicemail;
6. test mode: the IVR tester walks 1, 1, 3 to ``water`` (test calls never count);
7. transferred: a1 answers a queued call, talks, and its phone blind-transfers the caller to
   extension 2100 (the emulator's ``BlindTransfer``: the REFER as FreeSWITCH handles it), where
   2100's phone answers; a1 saves 開栓 (a transferred call is not resolved at first contact).

By hand (``hibiki.analytics.reports.measures``): incoming 6 (1-5, 7), offered 5 (1-4, 7: the
after-hours call reached no IVR, queue or person), answered 3 (1, 4, 7: a transferred call was
answered), abandoned 2 (1 in the queue, 1 in the IVR), abandon rate 2/5 = 0.4, service level
(answered within 15 s: all three) 3 / (3 + 1) = 0.75, transfers 1, overflowed 1, FCR 2/3 =
0.6667 (call 7 was transferred); ASA = the mean of the waits the ACD published (calls 1 and 7:
their ``acd.answered`` wait; call 4: its ``acd.overflowed`` wait plus its ``acd.answered`` wait).
Call 7's record: result ``transferred``, transfer target ``2100`` (the report by transfer target:
one call, one transfer, for 2100).
The wallboard (``wallboard/model.py``): offered 4 (calls that entered a queue), answered 3,
abandoned 1, waiting 0, answer rate 3/4, service level 1.0 (an abandonment within the threshold
is excepted).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest

from hibiki.acd.v1 import acd_pb2
from hibiki.analytics.app import main
from hibiki.analytics.config import AnalyticsConfig
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.events.v1 import agent_pb2
from fsemu.originate import BlindTransfer
from support.directory import fsapi_url
from support.servers import NatsServer, free_port, running
from test_acd_end_to_end import DOMAIN, Center, center, seat
from tools import ivr_test

HOST = "127.0.0.1"
AFTER_HOURS = "0762202222"


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A NATS of this test's own: on the session's, analytics' new durable consumer would read
    every earlier test's events first."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@dataclasses.dataclass
class Day:
    center: Center
    api: httpx.AsyncClient
    supervisor: dict[str, str]


@pytest.fixture
async def day(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Day]:
    queues = [{"id": "night"}, {"id": "water", "overflow": {"queue_id": "night", "after_seconds": 3.0}}]
    config = dataclasses.replace(
        AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path / "analytics"), "HIBIKI_NATS_URL": nats_server.url}),
        host=HOST, port=free_port(), batch_wait=0.05)
    async with center(tmp_path, nats_server, nats_client, authority, queues) as c, running(main, config), \
            httpx.AsyncClient(base_url=f"http://{HOST}:{config.port}") as api:
        await c.put("/agents/a1", {"skills": {"water": 2}, "queues": ["water"]})   # the IVR asks for skill water
        await c.put("/agents/a2", {"skills": {"water": 2}, "queues": ["night"]})
        await c.put("/agents/a3", {"skills": {}, "queues": []})
        token = authority.issue(Claims("boss", "user", c.tenant, ("supervisor",)))
        yield Day(c, api, {"Authorization": f"Bearer {token}"})


async def dispose(c: Center, agent: str, call_uuid: str) -> None:
    await c.acd.SaveDisposition(acd_pb2.SaveDispositionRequest(
        tenant=c.tenant, agent_id=agent, call_uuid=call_uuid, case_type="開栓"), metadata=c.metadata)


async def menu_played(c: Center, call_uuid: str) -> None:
    """Until the IVR's first menu asks the caller for a key (the call is in the IVR)."""
    asking = asyncio.Event()

    def watch(event: Any) -> None:
        if (event.name == "CHANNEL_EXECUTE" and event.get("Unique-ID") == call_uuid
                and event.get("Application") == "play_and_get_digits"):
            asking.set()

    c.emu.switch.sinks.append(watch)
    try:
        await asking.wait()
    finally:
        c.emu.switch.sinks.remove(watch)


async def after_hours_call(c: Center) -> Any:
    """A second number of the tenant, on a schedule closed all week: its after-hours branch sends
    the caller to extension 2100's voicemail."""
    admin = c.admin
    assert admin is not None
    closed = await admin.post(f"/api/v1/tenants/{c.tenant}/schedules", {"name": "休止", "definition": {
        "weekly": {}, "closed_on_public_holidays": False, "year_end": None}})
    listed = (await admin.api.get(f"/api/v1/tenants/{c.tenant}/users")).json()
    users = {u["extension"]: u["id"] for u in (listed["items"] if isinstance(listed, dict) else listed)}
    await admin.post(f"/api/v1/tenants/{c.tenant}/dids", {
        "number": "076-220-2222", "target_kind": "ivr", "target": "suido", "schedule_id": closed["id"],
        "closed_kind": "voicemail", "closed_target": users["2100"]})
    return await c.emu.place_call(destination=AFTER_HOURS, caller_id_number="09011112222", context="public",
                                  dialplan_url=fsapi_url(c.directory), answering_endpoints=c.endpoints)


async def test_a_scripted_day_through_the_emulator_gives_the_hand_counts(day: Day) -> None:
    c = day.center
    # 1. answered by a1, disposition saved
    c.endpoints[seat("a1")] = 0.4
    await c.login("a1")
    answered = await c.dial(["1", "1", "3"])
    await asyncio.wait_for(answered.finished, 15)
    await asyncio.sleep(0.2)                                  # after-call work
    await dispose(c, "a1", answered.uuid)
    await c.acd.AgentLogout(acd_pb2.AgentLogoutRequest(tenant=c.tenant, agent_id="a1"), metadata=c.metadata)
    # 2. abandoned in the queue
    gave_up = await c.dial(["1", "1", "3"])
    await c.bus.wait("queued", lambda m: m.meta.call_uuid == gave_up.uuid)
    await asyncio.sleep(0.3)
    gave_up.hangup_by_caller()
    await asyncio.wait_for(gave_up.finished, 10)
    # 3. abandoned in the IVR, while its greeting asks for a key
    in_ivr = await c.dial([])
    await asyncio.wait_for(menu_played(c, in_ivr.uuid), 15)
    in_ivr.hangup_by_caller()
    await asyncio.wait_for(in_ivr.finished, 10)
    # 4. overflowed from water to night, answered by a2
    c.endpoints[seat("a2")] = 0.4
    await c.login("a2")
    moved = await c.dial(["1", "1", "3"])
    await asyncio.wait_for(moved.finished, 20)
    await asyncio.sleep(0.2)
    await dispose(c, "a2", moved.uuid)
    # 7. answered by a1, then blind-transferred by a1's phone to extension 2100, which answers
    c.endpoints[seat("a1")] = BlindTransfer(after=0.4, to="2100")
    c.endpoints[f"user/2100@{DOMAIN}"] = 0.3
    await c.login("a1")
    transferred = await c.dial(["1", "1", "3"])
    await asyncio.wait_for(transferred.finished, 20)
    await asyncio.sleep(0.2)
    await dispose(c, "a1", transferred.uuid)
    # the caller went on to 2100 as dialled after the REFER, and 2100 answered there
    assert ("bridge", f"user/2100@{DOMAIN}") in transferred.executed, transferred.executed
    assert "voicemail" not in [app for app, _ in transferred.executed], transferred.executed
    # 6. an IVR test call
    await ivr_test.run_path(c.emu, {"keys": ["1", "1", "3"], "at": "2026-11-24T10:00:00+09:00", "end": "queue:water"},
                            c.tenant, "suido", f"127.0.0.1:{c.callcontrol.esl_port}")
    # 5. after hours
    closed = await after_hours_call(c)
    await asyncio.wait_for(closed.finished, 15)

    waits = [c.bus.of("answered", answered)[0].wait_ms,
             c.bus.of("overflowed", moved)[0].wait_ms + c.bus.of("answered", moved)[0].wait_ms,
             c.bus.of("answered", transferred)[0].wait_ms]
    hand = {"incoming": 6, "offered": 5, "answered": 3, "abandoned": 2, "abandoned_queue": 1, "abandoned_ivr": 1,
            "abandon_rate": 0.4, "service_level": 0.75, "asa_seconds": round(sum(waits) / 3 / 1000, 3),
            "transfers": 1, "overflowed": 1, "fcr_rate": 0.6667}
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()
    url = f"/api/v1/tenants/{c.tenant}/reports/calls"
    deadline, total = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        reply = await day.api.get(url, params={"from": today}, headers=day.supervisor)
        total = reply.json().get("total", {})
        if {k: total.get(k) for k in hand} == hand:
            break
        await asyncio.sleep(0.25)
    assert {k: total.get(k) for k in hand} == hand, total
    # after-call work by hand: each agent's AFTER_CALL_WORK change to its next change, to the ms
    acw_ms = []
    for agent, call in (("a1", answered), ("a2", moved), ("a1", transferred)):
        changes = sorted((m for m in c.bus.of("state_changed") if m.agent_id == agent),
                         key=lambda m: m.meta.occurred_at.ToMilliseconds())
        start = next(i for i, m in enumerate(changes)
                     if m.current == agent_pb2.AGENT_STATE_AFTER_CALL_WORK and m.call_uuid == call.uuid)
        acw_ms.append(changes[start + 1].meta.occurred_at.ToMilliseconds() - changes[start].meta.occurred_at.ToMilliseconds())
    assert 0.4 <= total["att_seconds"] < 2.0                       # each agent's phone talked 0.4 s
    assert total["aht_seconds"] - total["att_seconds"] == pytest.approx(sum(acw_ms) / 3 / 1000, abs=0.0015), acw_ms
    assert total["avg_hold_seconds"] == 0.0
    print(f"\nscripted day through the emulator: {total}; after-call work {acw_ms} ms")

    exported = await day.api.get(f"{url}.csv", params={"from": today, "lang": "en"}, headers=day.supervisor)
    last = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))[-1]
    assert last[:7] == ["total", "6", "5", "3", "2", "1", "1"]
    assert [float(v) for v in (last[7], last[8], last[9], last[15])] == [
        hand["abandon_rate"], hand["service_level"], hand["asa_seconds"], hand["fcr_rate"]]
    assert (last[13], last[14]) == ("1", "1")
    workbook = await day.api.get(f"{url}.xlsx", params={"from": today}, headers=day.supervisor)
    row = list(openpyxl.load_workbook(io.BytesIO(workbook.content)).active.iter_rows(values_only=True))[-1]
    assert list(row[1:7]) == [6, 5, 3, 2, 1, 1]
    assert [row[7], row[8], row[9], row[13], row[14], row[15]] == [
        hand["abandon_rate"], hand["service_level"], hand["asa_seconds"], 1, 1, hand["fcr_rate"]]
    # call 7's record: transferred, to 2100 (the report by transfer target; its CSV and xlsx rows)
    by_target = (await day.api.get(url, params={"from": today, "by": "transfer_target"}, headers=day.supervisor)).json()
    targets = {r["key"]: r for r in by_target["rows"]}
    assert (targets["2100"]["incoming"], targets["2100"]["answered"], targets["2100"]["transfers"]) == (1, 1, 1), targets
    assert sum(r["transfers"] for r in by_target["rows"]) == 1, targets
    exported = await day.api.get(f"{url}.csv", params={"from": today, "by": "transfer_target", "lang": "en"},
                                 headers=day.supervisor)
    assert ["2100", "1", "1", "1"] == next(r for r in csv.reader(io.StringIO(exported.content.decode("utf-8-sig")))
                                           if r[0] == "2100")[:4]
    workbook = await day.api.get(f"{url}.xlsx", params={"from": today, "by": "transfer_target"}, headers=day.supervisor)
    sheet = list(openpyxl.load_workbook(io.BytesIO(workbook.content)).active.iter_rows(values_only=True))
    assert next(r for r in sheet if r[0] == "2100")[13] == 1

    board = (await day.api.get(f"/api/v1/tenants/{c.tenant}/wallboard", headers=day.supervisor)).json()
    calls = board["calls"]
    assert (calls["offered"], calls["answered"], calls["abandoned"], calls["waiting"]) == (4, 3, 1, 0), calls
    assert calls["answer_rate"] == pytest.approx(3 / 4, abs=1e-4) and calls["service_level"] == 1.0, calls
