"""The key test of issue 12's reports ("What it must show"): a scripted day of calls published
as the events callcontrol and the ACD publish, on a real NATS JetStream, stored by the analytics
service's own consumer in chdb, gives exactly the hand-counted figures in the API, the CSV and
the xlsx of the running service (``hibiki.analytics.app.main``)."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import openpyxl

from hibiki.analytics import app
from hibiki.analytics.config import AnalyticsConfig
from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.events.v1 import agent_pb2, call_pb2

from support import scripted_day as sd
from support.call_events import Call, Published, agent_state
from support.servers import NatsServer, free_port, running

HOST = "127.73.0.1"
A = agent_pb2
T = call_pb2


def day_of_calls(tenant: str) -> list[Published]:
    """The calls of ``support.scripted_day`` (same ids and times, same hand figures) as events."""
    def call(name: str) -> Call:
        spec = next(c for c in sd.CALLS if c.call_id == name)
        return Call(tenant, start=sd.at(spec.start), call_id=f"{name}-{uuid.uuid4().hex[:8]}")

    inbound: dict[str, Any] = {"did": sd.DID, "caller_number": "0312345678", "destination_number": sd.DID}
    events: list[Published] = []
    c1 = call("c1-answered").started()
    c1.ivr(3, "main", "1").queued(5, "general").agent_answered(15, "general", "a1", 10_000)
    c1.leg(b=True, start=6, progress=6.5, answer=15, end=165, agent_id="a1", hold_ms=20_000)
    c1.leg(answer=0.5, end=165, **inbound)
    c1.disposition(170, "a1", "住民票", "general")
    c2 = call("c2-answered-late").started()
    c2.ivr(3, "main", "1").queued(5, "general").agent_answered(45, "general", "a2", 40_000)
    c2.leg(b=True, start=40, answer=45, end=135, agent_id="a2")
    c2.leg(answer=0.5, end=135, **inbound)
    c2.disposition(150, "a2", "escalated", "general")
    c3 = call("c3-abandoned-queue").started()
    c3.ivr(3, "main", "1").queued(5, "general").left_queue(30, "general", 25_000)
    c3.leg(answer=0.5, end=30, **inbound)
    c4 = call("c4-abandoned-ivr").started()
    c4.ivr(3, "main", "").leg(answer=0.5, end=9, **inbound)
    c5 = call("c5-overflowed").started()
    c5.ivr(3, "main", "2").queued(5, "general", (("main", "2"),)).overflowed(35, "general", "backup", 30_000)
    c5.agent_answered(75, "backup", "a1", 40_000)
    c5.leg(b=True, start=70, answer=75, end=275, agent_id="a1")
    c5.leg(answer=0.5, end=275, **inbound)
    c5.disposition(280, "a1", "税", "backup")
    c6 = call("c6-transferred").started()
    c6.ivr(3, "main", "1").queued(5, "general").agent_answered(10, "general", "a2", 5_000)
    c6.leg(b=True, start=8, answer=10, end=70, agent_id="a2", hint=T.CALL_RESULT_HINT_TRANSFERRED,
           transfer_target="2001")
    c6.leg(answer=0.5, end=130, **inbound)
    c7 = call("c7-after-hours").started()                 # the closed message, then voicemail
    c7.leg(answer=0.5, end=40, hint=T.CALL_RESULT_HINT_VOICEMAIL, **inbound)
    c8 = call("c8-test-mode").started()
    c8.ivr(3, "main", "1").queued(5, "general").agent_answered(8, "general", "a1", 3_000)
    c8.leg(b=True, start=6, answer=8, end=38, agent_id="a1", test_mode=True)
    c8.leg(answer=0.5, end=38, test_mode=True, **inbound)
    c9 = call("c9-outbound").started(direction=T.CALL_DIRECTION_OUTBOUND, caller="2001", destination="0311112222")
    outbound: dict[str, Any] = {"caller_number": "2001", "destination_number": "0311112222",
                                "direction": T.CALL_DIRECTION_OUTBOUND}
    c9.leg(b=True, start=0.2, progress=1, answer=6, end=51, **outbound)
    c9.leg(answer=6, end=51, user="2001", **outbound)
    for c in (c1, c2, c3, c4, c5, c6, c7, c8, c9):
        events.extend(c.events)

    def state(agent: str, hhmmss: str, current: int, c: Call | None = None) -> Published:
        h, m, s = (int(x) for x in hhmmss.split(":"))
        return agent_state(tenant, agent, sd.at(f"{h}:{m}").replace(second=s), current, c.call_id if c else "")

    events += [
        state("a1", "09:00:00", A.AGENT_STATE_READY), state("a1", "09:05:15", A.AGENT_STATE_TALKING, c1),
        state("a1", "09:07:45", A.AGENT_STATE_AFTER_CALL_WORK, c1), state("a1", "09:08:15", A.AGENT_STATE_READY),
        state("a1", "10:31:15", A.AGENT_STATE_TALKING, c5),
        state("a1", "10:34:35", A.AGENT_STATE_AFTER_CALL_WORK, c5), state("a1", "10:34:55", A.AGENT_STATE_READY),
        state("a1", "12:00:00", A.AGENT_STATE_LOGGED_OUT),
        state("a2", "09:00:00", A.AGENT_STATE_READY), state("a2", "09:20:45", A.AGENT_STATE_TALKING, c2),
        state("a2", "09:22:15", A.AGENT_STATE_AFTER_CALL_WORK, c2), state("a2", "09:23:15", A.AGENT_STATE_READY),
        state("a2", "11:00:10", A.AGENT_STATE_TALKING, c6), state("a2", "11:01:10", A.AGENT_STATE_READY),
        state("a2", "12:00:00", A.AGENT_STATE_LOGGED_OUT),
    ]
    return events


async def test_scripted_day_through_nats_and_the_running_service(tmp_path: Path, nats_server: NatsServer,
                                                                  authority: TokenAuthority) -> None:
    tenant = f"toshima-{uuid.uuid4().hex[:8]}"        # the NATS server is shared by the session's tests
    config = dataclasses.replace(
        AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        host=HOST, port=free_port(), batch_wait=0.1)
    supervisor = {"Authorization": "Bearer " + authority.issue(Claims("boss", "user", tenant, ("supervisor",)))}
    admin = {"Authorization": "Bearer " + authority.issue(Claims("root", "user", tenant, ("admin",)))}
    async with running(app.main, config), httpx.AsyncClient(base_url=f"http://{HOST}:{config.port}") as api:
        (await api.put(f"/api/v1/tenants/{tenant}/reports/sla",
                       json={"unresolved_dispositions": sd.UNRESOLVED}, headers=admin)).raise_for_status()
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await bus.ensure_events_stream(js)
        events = day_of_calls(tenant)
        for event in events:
            await bus.publish(js, event.subject, event.payload(), event.event_id)
        for event in events[:10]:                    # redelivered: counted once
            await bus.publish(js, event.subject, event.payload(), event.event_id)
        await nc.drain()
        url = f"/api/v1/tenants/{tenant}/reports/calls"
        started, got = time.monotonic(), {}
        while time.monotonic() - started < 30:
            got = (await api.get(url, params={"from": sd.DAY}, headers=supervisor)).json()
            if got.get("total") == sd.HAND:
                break
            await asyncio.sleep(0.25)
        print(f"\npipeline: {len(events)} events stored and reported in {time.monotonic() - started:.1f} s")
        assert got["total"] == sd.HAND
        by_hour = (await api.get(url, params={"from": sd.DAY, "by": "hour"}, headers=supervisor)).json()
        assert {r["key"]: (r["incoming"], r["offered"], r["answered"], r["abandoned"]) for r in by_hour["rows"]} \
            == sd.HAND_BY_HOUR
        by_agent = (await api.get(url, params={"from": sd.DAY, "by": "agent"}, headers=supervisor)).json()
        assert {r["key"]: (r["incoming"], r["offered"], r["answered"]) for r in by_agent["rows"]} == sd.HAND_BY_AGENT
        exported = await api.get(f"{url}.csv", params={"from": sd.DAY, "lang": "en"}, headers=supervisor)
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        h = sd.HAND
        assert rows[-1][:17] == ["total", "7", "6", "4", "2", "1", "1", "0.3333", "0.4", "31.25", "152.5", "125.0",
                                 "5.0", "1", "1", "0.5", "service level abandon rate ATT"]
        workbook = await api.get(f"{url}.xlsx", params={"from": sd.DAY}, headers=supervisor)
        last = list(openpyxl.load_workbook(io.BytesIO(workbook.content)).active.iter_rows(values_only=True))[-1]
        assert list(last[1:16]) == [h["incoming"], h["offered"], h["answered"], h["abandoned"], h["abandoned_queue"],
                                    h["abandoned_ivr"], h["abandon_rate"], h["service_level"], h["asa_seconds"],
                                    h["aht_seconds"], h["att_seconds"], h["avg_hold_seconds"], h["transfers"],
                                    h["overflowed"], h["fcr_rate"]]
        daily = (await api.get(f"/api/v1/tenants/{tenant}/reports/daily", params={"date": sd.DAY},
                               headers=supervisor)).json()
        assert (daily["incoming"], daily["answered"], daily["inquiries"], daily["peak_agents"]) == (7, 4, 4, 2)
        assert datetime.fromisoformat(daily["peak_at"]) == sd.at("09:00")
        history = (await api.get(f"/api/v1/tenants/{tenant}/calls/history", params={"from": sd.DAY},
                                 headers={"Authorization": "Bearer " + authority.issue(
                                     Claims("2001", "user", tenant))})).json()
        assert [(c["kind"], c["other_number"]) for c in history["calls"]] == [("outgoing", "0311112222")]
        print("pipeline total:", got["total"])
