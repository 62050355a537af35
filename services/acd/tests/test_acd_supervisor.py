"""The supervisor page on a running ACD (real NATS, real directory): the page and its files with a
strict CSP; the tenant's overview and live feed only for the tenant's supervisors and admins
(a viewer, an auditor, an agent, another tenant's supervisor: 403); the feed pushes every agent's
state and every queue's waiting calls as they change; callcontrol's supervision paths on this
origin (503 when no callcontrol is configured); in Chromium, the board live, a state and the
queues changed from the page, axe-core in Japanese and English."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from hibiki.common.auth import Claims
from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.servers import running

WS = "wss://fs1.example.jp:7443"


async def feed(client: httpx.AsyncClient, path: str, out: asyncio.Queue[tuple[str, Any]]) -> None:
    async with client.stream("GET", path, timeout=None) as reply:
        assert reply.status_code == 200, await reply.aread()
        name = ""
        async for line in reply.aiter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                await out.put((name, json.loads(line[5:])))


async def overview_where(out: asyncio.Queue[tuple[str, Any]], check: Any, timeout: float = 10.0) -> Any:
    async def find() -> Any:
        while True:
            name, data = await out.get()
            if name == "overview" and check(data):
                return data
    return await asyncio.wait_for(find(), timeout)


def agent(view: dict[str, Any], agent_id: str) -> dict[str, Any]:
    return next(a for a in view["agents"] if a["id"] == agent_id)


async def test_page_roles_feed_and_proxy(make_config: Any, clients: Any, authority: Any, tenant: str) -> None:
    config = make_config(desktop_sip_ws=WS)
    async with running(main, config):
        admin = clients(config)
        t = f"/api/v1/tenants/{tenant}"
        await admin.put(f"{t}/queues/water", {})
        await admin.put(f"{t}/agents/a1", {"queues": ["water"]})
        async with httpx.AsyncClient(base_url=admin.base) as anonymous:
            page = await anonymous.get("/supervisor")
            assert page.status_code == 200 and "スーパーバイザー" in page.text and '"en"' in page.text
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp and f"connect-src 'self' {WS}" in csp and "unsafe" not in csp
            for asset in ("/supervisor/supervisor.js", "/supervisor/supervisor.css"):
                assert (await anonymous.get(asset)).status_code == 200
            assert (await anonymous.get(f"{t}/supervisor/overview")).status_code == 401

        who = {role: clients(config, authority.issue(Claims(f"u-{role}", "user", tenant, (role,))))
               for role in ("supervisor", "tenant-admin", "viewer", "auditor", "agent", "wallboard")}
        elsewhere = clients(config, authority.issue(Claims("yoso", "user", "elsewhere", ("supervisor",))))
        for role, client in [*who.items(), ("another tenant's supervisor", elsewhere)]:
            for path in ("overview", "events", "softphone?device=seat-1"):
                reply = await client.http.get(f"{t}/supervisor/{path}") if path != "events" else None
                if reply is None:
                    async with client.http.stream("GET", f"{t}/supervisor/events") as streamed:
                        status = streamed.status_code
                else:
                    status = reply.status_code
                allowed = role in ("supervisor", "tenant-admin")
                assert (status == 200) == allowed and (status == 403) == (not allowed), (role, path, status)
        assert (await who["supervisor"].http.get(f"{t}/supervisor/softphone?device=x@evil")).status_code == 400

        boss = who["supervisor"]
        out: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        task = asyncio.create_task(feed(boss.http, f"{t}/supervisor/events", out))
        try:
            first = await overview_where(out, lambda v: v["cause"] == "connected")
            assert agent(first, "a1")["state"] == "logged_out" and first["queues"][0]["queue_id"] == "water"
            # the supervisor logs the agent in and sets it to break through the agent API
            assert (await boss.http.post(f"{t}/agents/a1/login", json={"device": "seat-1"})).status_code == 200
            assert (await boss.http.post(f"{t}/agents/a1/state", json={"state": "break", "reason": "lunch"})
                    ).status_code == 200
            on_break = await overview_where(out, lambda v: agent(v, "a1")["state"] == "break")
            assert agent(on_break, "a1")["reason"] == "lunch" and agent(on_break, "a1")["state_since"] <= on_break["now"]
            for call, caller in (("c1", "0312345678"), ("c2", "0459876543")):
                await admin.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call, queue_id="water",
                                                                caller_number=caller), metadata=admin.metadata)
            waiting = await overview_where(out, lambda v: len(v["queues"][0]["waiting"]) == 2)
            assert [w["caller"] for w in waiting["queues"][0]["waiting"]] == ["0312345678", "0459876543"]
            assert waiting["queues"][0]["longest_wait"] >= 0
            await boss.http.post(f"{t}/agents/a1/state", json={"state": "ready"})
            talking = await overview_where(out, lambda v: agent(v, "a1")["call_id"] == "c1")
            assert len(talking["queues"][0]["waiting"]) == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        # callcontrol's supervision API on this origin: none configured here
        path = f"{t}/calls/0b0f9a4e-2f7e-4d5b-9a57-6f0c1d2e3f40/supervision"
        unset = await boss.http.post(path, json={"mode": "listen", "device": "seat-1"})
        assert unset.status_code == 503 and unset.json()["error_id"] == "no-callcontrol"
        assert (await boss.http.get(path)).status_code in (404, 405)        # only POST, PUT, DELETE go on


async def test_board_in_chromium(make_config: Any, clients: Any, authority: Any, tenant: str,
                                 browser_page: BrowserPage) -> None:
    config = make_config(desktop_sip_ws="")
    async with running(main, config):
        admin = clients(config)
        t = f"/api/v1/tenants/{tenant}"
        for queue in ("water", "tax"):
            await admin.put(f"{t}/queues/{queue}", {})
        await admin.put(f"{t}/agents/a1", {"queues": ["water"], "skills": {"water": 2}})
        await admin.put(f"{t}/agents/a2", {"queues": ["water"]})
        await admin.http.post(f"{t}/agents/a1/login", json={"device": "seat-1", "ready": False})
        await admin.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="tax",
                                                        caller_number="0312345678"), metadata=admin.metadata)
        token = authority.issue(Claims("boss", "user", tenant, ("supervisor",)))
        page = browser_page.page
        source = axe_source()
        await page.goto(f"http://127.0.0.1:{config.port}/supervisor#tenant={tenant}&token={token}")
        assert "#" not in page.url
        assert await serious_violations(page, source) == []
        await page.click("#signin-button")
        await page.wait_for_selector('#feed[data-state="live"]')
        await page.wait_for_selector("#agent-a1")
        assert (await page.text_content("#agent-state-a1") or "").startswith("受付不可")
        assert await page.text_content("#waiting-tax") == "1"
        first = await page.text_content("#longest-tax")
        await page.wait_for_function(f"() => document.querySelector('#longest-tax').textContent !== '{first}'",
                                     timeout=5000)
        assert (await page.text_content("#since-a1") or "").startswith("00:0")
        await browser_page.screenshot("supervisor-board")
        # the supervisor sets a1 ready and puts a2 in both queues, from the page, by keyboard
        await page.focus("#state-a1")
        await page.select_option("#state-a1", "ready")
        await page.focus("#apply-a1")
        await page.keyboard.press("Enter")
        await page.wait_for_selector('#agent-a1[data-state="ready"]')
        assert (await admin.http.get(f"{t}/agents/a1/state")).json()["state"] == "ready"
        await page.fill("#queues-a2", "water, tax")
        await page.click("#save-queues-a2")
        await page.wait_for_function("() => document.querySelector('#notice').textContent.includes('tax')")
        assert sorted((await admin.http.get(f"{t}/agents/a2")).json()["queues"]) == ["tax", "water"]
        assert await serious_violations(page, source) == [], "ja"
        await page.select_option("#lang", "en")
        await page.wait_for_function("() => document.querySelector('#agent-state-a1').textContent.startsWith('Ready')")
        assert await serious_violations(page, source) == [], "en"
        await browser_page.screenshot("supervisor-board-english")
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
