"""The recordings page (``GET /recordings``) in headless Chromium through the real service (real
NATS, chdb, the pipeline): search by agent, number and date, play with the keyboard, seek (the
browser asks a ``Range`` from the middle and plays from there), download, score the recording with
a form and see the agent's scores, delete with a confirmation (Escape keeps it), Japanese then
English. Screenshots in test-artifacts/screenshots/ (recordings-ja, recordings-evaluation,
recordings-delete-confirm, recordings-en)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from support.browser import BrowserPage
from support.recording import long_wav, publish_stopped, spool_path, stopped
from support.servers import free_port, running

pytestmark = pytest.mark.slow
HOST = "127.14.0.2"
SECONDS = 600.0          # ten minutes: more than the browser reads ahead, so a seek asks the server


async def _until(check: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.2)


async def test_recordings_page_search_play_seek_download_evaluate_delete(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
        browser_page: BrowserPage) -> None:
    tenant = f"kanazawa{uuid.uuid4().hex[:6]}"
    spool = tmp_path / "spool"
    config = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "var"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(spool), "HIBIKI_RECORDING_CONSUMER": f"rec-{tenant}"}),
        host=HOST, port=free_port())
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    now = datetime.now(UTC)
    base = f"http://{HOST}:{config.port}"
    token = authority.issue(Claims("kato", "user", tenant, ("recording-admin",)))
    headers = {"Authorization": f"Bearer {token}"}
    ids: dict[str, str] = {}

    async with running(main, config), httpx.AsyncClient(base_url=f"{base}/api/v1/tenants/{tenant}",
                                                        headers=headers) as api:
        for name, agent, caller, started, seconds in (
                ("long", "agent-1", "0762201111", now - timedelta(hours=3), SECONDS),
                ("short", "agent-2", "09012345678", now - timedelta(hours=2), 4.0),
                ("old", "agent-1", "0762203333", now - timedelta(days=3), 4.0)):
            rid = str(uuid.uuid4())
            path = long_wav(spool_path(spool, tenant, rid, started), seconds)
            event = stopped(tenant, rid, path, started=started, seconds=seconds, agent_id=agent, caller_number=caller,
                            queue_id="juminka")
            await publish_stopped(js, event)
            ids[name] = rid

        async def indexed() -> bool:
            answer = await api.get("/recordings")
            return answer.status_code == 200 and len(answer.json()["recordings"]) == 3
        await _until(indexed, 120, "three recordings indexed")
        form = await api.put("/evaluation-forms/basic", json={"name": "応対品質", "scale": 5, "criteria": [
            {"id": "greeting", "label": "挨拶", "weight": 1}, {"id": "accuracy", "label": "案内の正確さ", "weight": 3}]})
        assert form.status_code == 200, form.text
        size = len((await api.get(f"/recordings/{ids['long']}/audio")).content)

        from playwright.async_api import expect

        expect.set_options(timeout=20_000)          # a shared, loaded machine: Chromium and the service are slow

        page = browser_page.page
        audio_requests: list[tuple[float, str | None]] = []
        answers: list[tuple[float, int, str | None]] = []
        page.on("request", lambda r: audio_requests.append((time.monotonic(), r.headers.get("range")))
                if r.url.endswith("/audio") else None)
        page.on("response", lambda r: answers.append((time.monotonic(), r.status, r.headers.get("content-range")))
                if r.url.endswith("/audio") else None)

        await page.goto(f"{base}/recordings?tenant={tenant}")
        assert await page.locator("h1").inner_text() == "通話録音の検索と再生"
        await page.keyboard.press("Tab")                   # the first control is the token field
        assert await page.evaluate("document.activeElement.id") == "token"
        await page.keyboard.type(token)
        await page.keyboard.press("Enter")                 # submits the search
        rows = page.locator("#results tbody tr")
        await expect(rows).to_have_count(3)
        assert await rows.first.get_attribute("data-id") == ids["short"]     # newest first

        # every control has a name a screen reader reads out
        unnamed = await page.evaluate("""() => [...document.querySelectorAll('input, select, button, a, textarea, audio')]
            .filter(el => !el.closest('[hidden]') && !el.closest('dialog:not([open])'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
            .map(el => el.id || el.outerHTML.slice(0, 80))""")
        assert unnamed == []

        # search by agent, by number, by date range
        await page.fill("#agent", "agent-1")
        await page.press("#agent", "Enter")
        await expect(rows).to_have_count(2)
        await page.fill("#agent", "")
        await page.fill("#number", "09012345678")
        await page.press("#number", "Enter")
        await expect(rows).to_have_count(1)
        await page.fill("#number", "")
        day = (now - timedelta(days=3)).astimezone(ZoneInfo("Asia/Tokyo")).date().isoformat()
        await page.fill("#from", day)
        await page.fill("#to", day)
        await page.press("#agent", "Enter")
        await expect(rows.first).to_have_attribute("data-id", ids["old"])
        await expect(rows).to_have_count(1)
        await page.fill("#from", "")
        await page.fill("#to", "")
        await page.press("#agent", "Enter")
        await expect(rows).to_have_count(3)

        # play the long one with the keyboard, then seek to 60 %: a Range from the middle, played from there.
        # The link is throttled to 64 KB/s (a city office's share of a line) so the browser has not read
        # that far ahead yet; on loopback it may have read the whole file before the seek.
        cdp = await browser_page.context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20,
                                                            "downloadThroughput": 64 * 1024,
                                                            "uploadThroughput": 64 * 1024})
        play = page.locator(f"#results tr[data-id='{ids['long']}'] button[data-action=play]")
        await play.focus()
        await page.keyboard.press("Enter")
        player = page.locator("#player")
        await _until(lambda: page.evaluate("document.getElementById('player').currentTime > 0.5"), 30, "playing")
        duration = await page.evaluate("document.getElementById('player').duration")
        assert abs(duration - SECONDS) < 2, duration
        await page.evaluate("document.getElementById('player').pause()")
        mark = time.monotonic()
        target = round(duration * 0.6)
        await page.evaluate(f"document.getElementById('player').currentTime = {target}")
        await page.evaluate("document.getElementById('player').play()")
        await _until(lambda: page.evaluate(f"document.getElementById('player').currentTime > {target + 1}"), 30,
                     "playing after the seek")
        position = await page.evaluate("document.getElementById('player').currentTime")
        assert target < position < target + 20
        after = [rng for at, rng in audio_requests if at >= mark]
        starts = [int(rng.split("=")[1].split("-")[0]) for rng in after if rng and rng.startswith("bytes=")]
        assert any(size * 0.4 < s < size * 0.8 for s in starts), (after, size)
        partial = [(status, cr) for at, status, cr in answers if at >= mark and status == 206]
        assert partial and all(cr and cr.endswith(f"/{size}") for _, cr in partial), partial
        print(f"seek to {target} s of {duration:.0f} s: Range requests after the seek {after} "
              f"(audio {size} bytes); playing at {position:.1f} s")
        await page.evaluate("document.getElementById('player').pause()")
        await cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                            "uploadThroughput": -1})
        await browser_page.screenshot("recordings-ja")

        # download with the keyboard: the whole decrypted file
        async with page.expect_download() as download_info:
            await page.locator(f"#results tr[data-id='{ids['short']}'] a[data-action=download]").focus()
            await page.keyboard.press("Enter")
        download = await download_info.value
        saved = await download.path()
        assert saved is not None and Path(saved).read_bytes()[:4] == b"OggS"

        # score the long recording: form, criteria by keyboard (radio groups), comment; then the agent's scores
        await page.locator(f"#results tr[data-id='{ids['long']}'] button[data-action=evaluate]").focus()
        await page.keyboard.press("Enter")
        await expect(page.locator("#criteria fieldset")).to_have_count(2)
        await expect(page.locator("#form-id")).to_be_focused()
        await page.keyboard.press("Tab")                   # the first criterion's radio group
        await page.keyboard.press("ArrowRight")            # 1 -> 2
        await page.keyboard.press("ArrowRight")            # -> 3
        await page.keyboard.press("Tab")                   # the second criterion
        for _ in range(4):
            await page.keyboard.press("ArrowRight")        # -> 5
        await page.keyboard.press("Tab")
        await page.keyboard.type("丁寧な案内")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await expect(page.locator("#evaluations tbody tr")).to_have_count(1)
        expected = round(100 * (1 * (3 - 1) / 4 + 3 * (5 - 1) / 4) / 4, 2)        # 87.5
        assert f"{expected:.1f}" in await page.locator("#evaluations tbody tr").inner_text()
        await page.fill("#scores-agent", "agent-1")
        await page.press("#scores-agent", "Enter")
        await expect(page.locator("#scores tbody tr")).to_have_count(1)
        assert f"{expected:.1f}" in await page.locator("#scores tbody tr").inner_text()
        await browser_page.screenshot("recordings-evaluation")

        # delete with a confirmation: Escape keeps it, the confirm button deletes it
        delete = page.locator(f"#results tr[data-id='{ids['old']}'] button[data-action=delete]")
        await delete.focus()
        await page.keyboard.press("Enter")
        await expect(page.locator("#confirm")).to_have_attribute("open", "")
        await browser_page.screenshot("recordings-delete-confirm")
        await page.keyboard.press("Escape")
        await expect(page.locator("#confirm")).not_to_have_attribute("open", "")
        assert (await api.get(f"/recordings/{ids['old']}")).status_code == 200
        await delete.focus()
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "cancel-delete"   # the safe choice first
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await expect(rows).to_have_count(2)
        assert (await api.get(f"/recordings/{ids['old']}")).status_code == 404

        # English, chosen with the keyboard
        await page.focus("#lang")
        await page.keyboard.press("ArrowDown")
        await expect(page.locator("h1")).to_have_text("Call recordings: search and play")
        assert await page.evaluate("document.documentElement.lang") == "en"
        await expect(page.locator("#results thead th").first).to_have_text("Started")
        await browser_page.screenshot("recordings-en")

        # the audit trail as CSV, by keyboard
        async with page.expect_download() as audit_info:
            await page.focus("#audit-csv")
            await page.keyboard.press("Enter")
        audit_csv = Path(await (await audit_info.value).path()).read_bytes()
        assert audit_csv.startswith("\ufeff".encode()) and b",play," in audit_csv and b",delete," in audit_csv

        trail = (await api.get("/recording-audit")).json()["entries"]
        plays = [e["detail"] for e in trail if e["action"] == "play" and e["recording_id"] == ids["long"]]
        assert any(d.startswith("bytes ") and size * 0.4 < int(d.split()[1].split("-")[0]) < size * 0.8
                   for d in plays), plays
        assert [e["action"] for e in trail if e["recording_id"] == ids["old"]].count("delete") == 1
        assert any(e["action"] == "evaluate" and e["recording_id"] == ids["long"] for e in trail)
        assert any(e["action"] == "download" and e["recording_id"] == ids["short"] for e in trail)
        errors = [line for line in browser_page.console if line.startswith(("error", "pageerror"))]
        assert errors == [], errors
        print(f"page: 3 recordings searched by agent, number and date; played, sought, downloaded, scored "
              f"({expected}), deleted with confirmation; audit entries {len(trail)}")

