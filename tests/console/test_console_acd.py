"""Queues, agents and skills in the console (headless Chromium): the pages reach the real ACD's
API through the directory's origin (the directory passes the paths on with the caller's own
credentials; the ACD decides), a queue and an agent with skills created on the page are the
ACD's; no serious axe violation; the ACD down is a clear 502 ``peer-unavailable``, not a hang."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import httpx

from hibiki.acd.app import main as acd_main
from hibiki.acd.config import AcdConfig
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main

from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.directory import directory_config
from support.servers import NatsServer, free_port, running

HOST = "127.16.0.4"


async def test_queues_and_agents_through_the_console(tmp_path: Path, nats_server: NatsServer, authority: TokenAuthority,
                                                     browser_page: BrowserPage) -> None:
    axe = axe_source()
    tenant = f"toyama{uuid.uuid4().hex[:6]}"
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    acd = dataclasses.replace(AcdConfig.from_env(env), host=HOST, port=free_port(), grpc_port=free_port())
    config = dataclasses.replace(directory_config(tmp_path, nats_server), host=HOST, acd_http=f"http://{HOST}:{acd.port}")
    acd = dataclasses.replace(acd, directory_grpc=f"127.0.0.1:{config.grpc_port}")
    base = f"http://{HOST}:{config.port}"
    root = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
    admin = authority.issue(Claims("kanri", "user", tenant, ("admin",)))
    viewer = authority.issue(Claims("miru", "user", tenant, ("viewer",)))
    async with running(main, config), httpx.AsyncClient(base_url=base) as api:
        (await api.post("/api/v1/tenants", json={"id": tenant, "domain": f"{tenant}.example.jp"},
                        headers={"Authorization": f"Bearer {root}"})).raise_for_status()
        down = await api.get(f"/api/v1/tenants/{tenant}/queues", headers={"Authorization": f"Bearer {admin}"})
        assert down.status_code == 502 and down.json()["error_id"] == "peer-unavailable"
        assert down.json()["details"]["field"] == "acd"
        async with running(acd_main, acd):
            page = browser_page.page
            await page.add_init_script(f"sessionStorage.setItem('hibiki.token', {admin!r})")
            await page.goto(f"{base}/console?tenant={tenant}#queues")
            await page.wait_for_selector("#queues-list")
            await page.click("#queues-new")
            await page.fill("#queues-form [data-field=id] input", "suido")
            definition = {"strategy": "longest_idle", "skills": {"水道": 1}, "service_level_seconds": 20}
            await page.fill("#queues-form [data-field=definition] textarea", json.dumps(definition, ensure_ascii=False))
            await page.click("#queues-form button[type=submit]")
            await page.wait_for_selector("#queues-list tbody tr:has-text('suido')")
            violations = await serious_violations(page, axe)
            await browser_page.screenshot("console-queues")
            await page.click("a[data-section=agents]")
            await page.wait_for_selector("#agents-list")
            await page.click("#agents-new")
            await page.fill("#agents-form [data-field=id] input", "a-101")
            await page.fill("#agents-form [data-field=definition] textarea", '{"skills": {"水道": 3, "英語": 2}, "queues": ["suido"]}')
            await page.click("#agents-form button[type=submit]")
            await page.wait_for_selector("#agents-list tbody tr:has-text('a-101')")
            assert "水道:3" in await page.inner_text("#agents-list tbody")
            violations += await serious_violations(page, axe)
            await browser_page.screenshot("console-agents")
            # what the ACD itself now holds (asked directly on its own port)
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{acd.port}/api/v1/tenants/{tenant}",
                                         headers={"Authorization": f"Bearer {admin}"}) as own:
                queue = (await own.get("/queues/suido")).json()
                agent = (await own.get("/agents/a-101")).json()
            assert queue["skills"] == {"水道": 1} and queue["service_level_seconds"] == 20
            assert agent["skills"] == {"水道": 3, "英語": 2} and agent["queues"] == ["suido"]
            # the ACD decides who may: a viewer's change is refused by it, through the directory
            refused = await api.put(f"/api/v1/tenants/{tenant}/queues/x", json={},
                                    headers={"Authorization": f"Bearer {viewer}"})
            assert refused.status_code == 403
            assert violations == []
