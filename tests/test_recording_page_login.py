"""The recordings page with the console's one login (identity, issue 14): a recording administrator
logged in at the directory uses the recording service's page (same host, another port: cookies
ignore ports) with the session alone: search, play, delete (with the CSRF header the page takes
from ``hibiki_csrf``); after the logout the page is refused. Real directory, real recording
service, headless Chromium."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main as directory_main
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from support.browser import BrowserPage
from support.directory import directory_config
from support.recording import long_wav, publish_stopped, spool_path, stopped
from support.servers import free_port, running

pytestmark = pytest.mark.slow
HOST = "127.14.0.3"


async def _true(value: bool) -> bool:
    return value


async def _until(check: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.2)
    return value


async def test_one_console_login_opens_the_recordings_page(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
        browser_page: BrowserPage) -> None:
    """The console's one login (identity): a recording administrator logs in at the directory; the
    recordings page on the recording service's port (same host: cookies ignore ports) searches,
    plays and deletes with that session alone, no token pasted (the delete carries the CSRF
    header the page takes from ``hibiki_csrf``); after the logout the page is refused."""
    tenant = f"shiojiri{uuid.uuid4().hex[:6]}"
    spool = tmp_path / "spool"
    directory = dataclasses.replace(directory_config(tmp_path / "directory", nats_server), host=HOST)
    recording = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "var"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(spool), "HIBIKI_RECORDING_CONSUMER": f"rec-{tenant}",
        "HIBIKI_RECORDING_DIRECTORY_URL": f"http://{HOST}:{directory.port}"}), host=HOST, port=free_port())
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    rid, started = str(uuid.uuid4()), datetime.now(UTC) - timedelta(minutes=10)
    await publish_stopped(js, stopped(tenant, rid, long_wav(spool_path(spool, tenant, rid, started), 6), started=started,
                                      seconds=6, agent_id="agent-5"))
    dir_base, rec_base = f"http://{HOST}:{directory.port}", f"http://{HOST}:{recording.port}"
    platform = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
    service = authority.issue(Claims("setup", "service"))
    async with running(directory_main, directory), running(main, recording), httpx.AsyncClient(timeout=30) as http:
        made = await http.post(f"{dir_base}/api/v1/tenants", headers={"Authorization": f"Bearer {platform}"},
                               json={"id": tenant, "domain": f"{tenant}.example.jp"})
        assert made.status_code == 201, made.text
        user = await http.post(f"{dir_base}/api/v1/tenants/{tenant}/console_users",
                               headers={"Authorization": f"Bearer {service}"},
                               json={"login": "rokuon", "password": "kawa-no-nagare-2026", "roles": ["recording-admin"]})
        assert user.status_code == 201, user.text

        async def indexed() -> bool:
            token = authority.issue(Claims("check", "service"))
            answer = await http.get(f"{rec_base}/api/v1/tenants/{tenant}/recordings/{rid}",
                                    headers={"Authorization": f"Bearer {token}"})
            return answer.status_code == 200
        await _until(indexed, 60, "indexed")

        from playwright.async_api import expect

        expect.set_options(timeout=20_000)          # a shared, loaded machine: Chromium and the service are slow

        page = browser_page.page
        login = await browser_page.context.request.post(f"{dir_base}/api/v1/auth/login", data={
            "tenant": tenant, "login": "rokuon", "password": "kawa-no-nagare-2026"})
        assert login.status == 200, await login.text()
        jar = {c["name"]: c for c in await browser_page.context.cookies(rec_base)}
        assert jar["hibiki_session"]["httpOnly"] and jar["hibiki_session"]["sameSite"] == "Strict"

        renewals: list[int] = []
        page.on("response", lambda r: renewals.append(r.status) if r.url.endswith("/api/v1/auth/renew") else None)
        await page.goto(f"{rec_base}/recordings?tenant={tenant}")
        assert await page.input_value("#token") == ""
        await page.press("#tenant", "Enter")
        rows = page.locator("#results tbody tr")
        await expect(rows).to_have_count(1)
        await _until(lambda: _true(renewals == [200]), 20, "the session renewed at the directory")
        await page.locator("button[data-action=play]").focus()
        await page.keyboard.press("Enter")
        await _until(lambda: page.evaluate("document.getElementById('player').currentTime > 0.3"), 30, "playing")
        await page.evaluate("document.getElementById('player').pause()")
        await page.locator("button[data-action=delete]").focus()
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await expect(rows).to_have_count(0)
        await expect(page.locator("#status")).to_have_text(re.compile("削除しました"))
        token = authority.issue(Claims("check", "service"))
        assert (await http.get(f"{rec_base}/api/v1/tenants/{tenant}/recordings/{rid}",
                               headers={"Authorization": f"Bearer {token}"})).status_code == 404

        jar = {c["name"]: c for c in await browser_page.context.cookies(rec_base)}   # renewed
        csrf = jar["hibiki_csrf"]["value"]
        out = await browser_page.context.request.post(f"{dir_base}/api/v1/auth/logout",
                                                      headers={"X-Hibiki-CSRF": csrf})
        assert out.status == 204, await out.text()

        async def refused() -> bool:
            await page.press("#tenant", "Enter")
            return "401" in await page.locator("#status").inner_text()
        await _until(refused, 20, "refused after the logout")
        await browser_page.screenshot("recordings-after-logout")
        print("one login: the recordings page searched, played and deleted with the console session; refused after "
              "the logout")
