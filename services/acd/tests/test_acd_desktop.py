"""The agent desktop on a running ACD (real NATS, real directory): the page and its files with a
strict CSP, the SIP library missing (404, softphone unavailable) or present, the softphone's
settings from the directory, and the live feed: the agent's own state changes and offers (screen
pop: caller, queue, IVR path) pushed over SSE, nothing of another agent's, foreign tokens refused."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from hibiki.common.auth import Claims, csrf_digest
from hibiki.events.v1 import call_pb2
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


async def next_event(out: asyncio.Queue[tuple[str, Any]], kind: str, timeout: float = 10.0) -> Any:
    async def find() -> Any:
        while True:
            name, data = await out.get()
            if name == kind:
                return data
    return await asyncio.wait_for(find(), timeout)


async def test_page_library_and_softphone_settings(make_config: Any, clients: Any, authority: Any, tenant: str,
                                                   tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    config = make_config(desktop_sip_ws=WS, desktop_vendor_dir=vendor)
    async with running(main, config):
        admin = clients(config)
        await admin.put(f"/api/v1/tenants/{tenant}/agents/a1", {})
        async with httpx.AsyncClient(base_url=admin.base) as anonymous:
            page = await anonymous.get("/desktop")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp and f"connect-src 'self' {WS}" in csp and "unsafe" not in csp
            assert "エージェントデスクトップ" in page.text and '"en"' in page.text
            assert (await anonymous.get("/desktop/desktop.js")).status_code == 200
            assert (await anonymous.get("/desktop/desktop.css")).status_code == 200
            missing = await anonymous.get("/desktop/jssip.min.js")
            assert missing.status_code == 404 and missing.json()["error_id"] == "no-sip-library"
            assert (await anonymous.get(f"/api/v1/tenants/{tenant}/agents/a1/softphone?device=seat-1")).status_code == 401

        me = clients(config, authority.issue(Claims("a1", "user", tenant, ("agent",))))
        base = f"/api/v1/tenants/{tenant}/agents/a1/softphone"
        settings = (await me.http.get(f"{base}?device=seat-1")).json()
        assert settings["uri"] == f"sip:seat-1@{tenant}.example.jp" and settings["ws_url"] == WS
        assert settings["available"] is False and "jssip.min.js" in settings["reason"]
        vendor.mkdir()
        (vendor / "jssip.min.js").write_text("var JsSIP = {};")
        assert (await me.http.get(f"{base}?device=seat-1")).json()["available"] is True
        assert (await me.http.get("/desktop/jssip.min.js")).text == "var JsSIP = {};"
        unknown = await me.http.get(f"{base}?device=nobody")
        assert unknown.status_code == 400 and unknown.json()["error_id"] == "unknown-device"
        hostile = await me.http.get(f"{base}?device=" + "x@evil;transport=tcp")
        assert hostile.status_code == 400 and hostile.json()["details"]["field"] == "device"
        assert (await me.http.get(base)).status_code == 400
        other = clients(config, authority.issue(Claims("a2", "user", tenant, ("agent",))))
        assert (await other.http.get(f"{base}?device=seat-1")).status_code == 403


async def test_no_websocket_configured_means_no_softphone(make_config: Any, clients: Any, authority: Any,
                                                          tenant: str) -> None:
    config = make_config(desktop_sip_ws="")
    async with running(main, config):
        admin = clients(config)
        await admin.put(f"/api/v1/tenants/{tenant}/agents/a1", {})
        settings = (await admin.http.get(f"/api/v1/tenants/{tenant}/agents/a1/softphone?device=seat-1")).json()
        assert settings["available"] is False and "HIBIKI_ACD_DESKTOP_SIP_WS" in settings["reason"]
        page = await admin.http.get("/desktop")
        assert "connect-src 'self';" in page.headers["content-security-policy"]


async def test_feed_pushes_the_agents_own_state_and_offers(make_config: Any, clients: Any, authority: Any,
                                                           tenant: str) -> None:
    config = make_config()
    async with running(main, config):
        admin = clients(config)
        t = f"/api/v1/tenants/{tenant}"
        await admin.put(f"{t}/queues/water", {})
        await admin.put(f"{t}/agents/a1", {"queues": ["water"]})
        await admin.put(f"{t}/agents/a2", {"queues": ["water"]})
        me = clients(config, authority.issue(Claims("a1", "user", tenant, ("agent",))))
        refused = await clients(config, authority.issue(Claims("a2", "user", tenant, ("agent",)))).http.get(
            f"{t}/agents/a1/events")
        assert refused.status_code == 403
        assert (await me.http.get(f"{t}/agents/ghost/events")).status_code == 403
        assert (await admin.http.get(f"{t}/agents/ghost/events")).status_code == 404

        out: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        task = asyncio.create_task(feed(me.http, f"{t}/agents/a1/events", out))
        try:
            first = await next_event(out, "agent")
            assert first["cause"] == "connected" and first["view"]["state"] == "logged_out"
            await me.http.post(f"{t}/agents/a1/login", json={"device": "seat-1"})
            assert (await next_event(out, "agent"))["view"]["state"] == "not_ready"
            await admin.http.post(f"{t}/agents/a2/login", json={"device": "seat-2", "ready": True})
            await me.http.post(f"{t}/agents/a1/state", json={"state": "ready"})
            ready = await next_event(out, "agent")
            assert ready["view"]["state"] == "ready" and ready["cause"] == "state_changed"

            # a2 has waited longest: the first call is a2's, and a1's page hears nothing of it
            steps = [call_pb2.IvrStep(menu_id="main", menu_name="トップ", digits="1", branch="queue")]
            for call, caller in (("c1", "0312345678"), ("c2", "0459876543")):
                await admin.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call, queue_id="water",
                                                                caller_number=caller, ivr_path=steps),
                                         metadata=admin.metadata)
            offer = await next_event(out, "offer")
            assert offer["call_uuid"] == "c2" and offer["caller_number"] == "0459876543"
            assert offer["queue_id"] == "water" and offer["ivr_path"] and "main" in offer["ivr_path"][0]
            ringing = await next_event(out, "agent")
            assert ringing["view"]["state"] in ("reserved", "ringing") and ringing["view"]["call_id"] == "c2"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_console_session_signs_the_desk_in(make_config: Any, clients: Any, authority: Any, tenant: str,
                                                 browser_page: BrowserPage) -> None:
    """Signed in at the console (identity's cookies hibiki_session and hibiki_csrf): the page finds
    its agent without a token, logs in on a desk phone, goes ready (a change with the CSRF header);
    the same change without the header is refused."""
    config = make_config()
    async with running(main, config):
        admin = clients(config)
        await admin.put(f"/api/v1/tenants/{tenant}/agents/a1", {})
        csrf = secrets.token_urlsafe(16)
        session = authority.issue(Claims("a1", "user", tenant, ("agent",), session="sid-1", csrf=csrf_digest(csrf)))
        base = f"http://127.0.0.1:{config.port}"
        await browser_page.context.add_cookies([
            {"name": "hibiki_session", "value": session, "url": base, "httpOnly": True, "sameSite": "Strict"},
            {"name": "hibiki_csrf", "value": csrf, "url": base, "sameSite": "Strict"}])
        page = browser_page.page
        await page.goto(f"{base}/desktop")
        await page.wait_for_function("document.querySelector('#agent').value === 'a1'")
        assert await page.input_value("#tenant") == tenant and not await page.is_visible("#token")
        await page.fill("#device", "seat-1")
        await page.click("#signin-button")
        await page.wait_for_selector('#state[data-state="not_ready"]')
        assert await page.get_attribute("#phone-status", "data-state") == "desk"
        await page.click("#ready")
        await page.wait_for_selector('#state[data-state="ready"]')
        assert (await admin.http.get(f"/api/v1/tenants/{tenant}/agents/a1/state")).json()["state"] == "ready"
        await browser_page.screenshot("desktop-session-cookie")
        refused = await page.evaluate(f"""fetch('/api/v1/tenants/{tenant}/agents/a1/state', {{method: 'POST',
            headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{state: 'break'}})}})
            .then(r => r.status)""")
        assert refused == 403
        assert (await admin.http.get(f"/api/v1/tenants/{tenant}/agents/a1/state")).json()["state"] == "ready"


AXE = Path(os.environ.get("HIBIKI_TEST_AXE", Path(__file__).resolve().parents[3] / "tests/support/vendor/axe.min.js"))


async def test_without_the_library_the_page_says_so_and_passes_axe(make_config: Any, clients: Any, authority: Any,
                                                                  tenant: str, tmp_path: Path,
                                                                  browser_page: BrowserPage) -> None:
    """The SIP library missing: signing in with a SIP password, the page says the softphone is
    unavailable (no script error) and the state buttons still work; axe-core (when installed: the
    ``tests/support/vendor/axe.min.js`` fetched by ``./dev``, or ``HIBIKI_TEST_AXE``) finds no serious or critical violation in
    Japanese or English."""
    config = make_config(desktop_sip_ws=WS, desktop_vendor_dir=tmp_path / "empty")
    async with running(main, config):
        admin = clients(config)
        await admin.put(f"/api/v1/tenants/{tenant}/agents/a1", {})
        token = authority.issue(Claims("a1", "user", tenant, ("agent",)))
        page = browser_page.page

        async def axe(view: str) -> None:
            if not AXE.is_file():
                return
            if not await page.evaluate("typeof axe !== 'undefined'"):
                await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")   # evaluated, not injected: the CSP stays
            for lang in ("ja", "en"):
                await page.select_option("#lang", lang)
                found = await page.evaluate("axe.run(document).then(r => r.violations.map(v => [v.id, v.impact]))")
                assert [v for v in found if v[1] in ("serious", "critical")] == [], (view, lang, found)
            await page.select_option("#lang", "ja")

        await page.goto(f"http://127.0.0.1:{config.port}/desktop#tenant={tenant}&agent=a1&device=seat-1&token={token}")
        await axe("sign-in")
        await page.fill("#sip-password", "whatever")
        await page.click("#signin-button")
        await page.wait_for_selector('#phone-status[data-state="unavailable"]')
        assert "jssip.min.js" in (await page.text_content("#phone-reason") or "")
        await page.click("#break")
        await page.wait_for_selector('#state[data-state="break"]')
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
        await browser_page.screenshot("desktop-softphone-unavailable")
        await axe("desk")
        if not AXE.is_file():
            pytest.skip(f"axe-core not installed ({AXE}); the rest passed")
