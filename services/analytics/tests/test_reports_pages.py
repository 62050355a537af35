"""The report page and the what-if page in headless Chromium (Debian's chromium through
playwright): the scripted day's figures on the page, Japanese then English, with the keyboard
alone; the what-if recomputes when the volume changes. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import re
import dataclasses
import time
import uuid
from pathlib import Path

import httpx
import nats

from hibiki.analytics import app
from hibiki.analytics.config import AnalyticsConfig
from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority

from support import scripted_day as sd
from support.browser import BrowserPage
from support.scripted_events import day_of_calls
from support.servers import NatsServer, free_port, running

HOST = "127.73.0.2"


async def test_report_and_what_if_pages(tmp_path: Path, nats_server: NatsServer, authority: TokenAuthority,
                                        browser_page: BrowserPage) -> None:
    tenant = f"toshima-{uuid.uuid4().hex[:8]}"
    config = dataclasses.replace(
        AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        host=HOST, port=free_port(), batch_wait=0.1)
    token = authority.issue(Claims("boss", "user", tenant, ("admin",)))
    base = f"http://{HOST}:{config.port}"
    async with running(app.main, config), httpx.AsyncClient(base_url=base) as api:
        headers = {"Authorization": f"Bearer {token}"}
        (await api.put(f"/api/v1/tenants/{tenant}/reports/sla", json={"unresolved_dispositions": sd.UNRESOLVED},
                       headers=headers)).raise_for_status()
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        for event in day_of_calls(tenant):
            await bus.publish(js, event.subject, event.payload(), event.event_id)
        await nc.drain()
        deadline = time.monotonic() + 30
        while (await api.get(f"/api/v1/tenants/{tenant}/reports/calls", params={"from": sd.DAY},
                             headers=headers)).json()["total"] != sd.HAND:
            assert time.monotonic() < deadline, "the scripted day was not stored"
            await asyncio.sleep(0.25)

        from playwright.async_api import expect

        page = browser_page.page
        await page.goto(f"{base}/reports?tenant={tenant}&from={sd.DAY}")
        assert await page.locator("h1").inner_text() == "コールセンター実績レポート"
        order = []                                         # the shared header first, then the token field
        for _ in range(5):
            await page.keyboard.press("Tab")
            order.append(await page.evaluate("document.activeElement.id || document.activeElement.getAttribute('href')"))
        assert order == ["#main", "/reports", "/planning", "lang", "token"]
        await page.keyboard.type(token)
        await page.keyboard.press("Enter")                 # submits the form
        total = page.locator("#report tbody tr").last
        await total.wait_for()
        cells = await total.locator("th, td").all_inner_texts()
        assert cells[:5] == ["合計", "7", "6", "4", "2"]
        assert cells[5] == "33.3% (未達)" and cells[6] == "40.0% (未達)" and cells[7] == "31.25"
        assert cells[8] == "152.5 (達成)" and cells[9] == "125 (未達)"
        await browser_page.screenshot("reports-ja")
        await page.focus("#lang")
        await page.keyboard.press("ArrowDown")              # English
        assert await page.locator("h1").inner_text() == "Contact center report"
        cells = await page.locator("#report tbody tr").last.locator("th, td").all_inner_texts()
        assert cells[0] == "Total" and cells[6] == "40.0% (missed)"
        await browser_page.screenshot("reports-en")

        await page.goto(f"{base}/planning?tenant={tenant}")
        await page.fill("#calls", "100")
        await page.fill("#aht_seconds", "180")
        await page.fill("#target_seconds", "20")
        await page.focus("#shrinkage")
        await page.keyboard.press("Enter")
        await expect(page.locator("#needed")).to_have_text("14")
        assert await page.locator("#scheduled").inner_text() == "20"
        await page.fill("#calls", "150")                    # what if: half as many calls again
        await expect(page.locator("#needed")).to_have_text(re.compile(r"^(1[5-9]|2\d)$"))
        await browser_page.screenshot("planning-what-if")
        assert not [line for line in browser_page.console if line.startswith(("error", "pageerror"))], \
            browser_page.console
