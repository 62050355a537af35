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

import httpx
import nats
import openpyxl

from hibiki.analytics import app
from hibiki.analytics.config import AnalyticsConfig
from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority

from support import scripted_day as sd
from support.scripted_events import day_of_calls
from support.servers import NatsServer, free_port, running

HOST = "127.73.0.1"


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
