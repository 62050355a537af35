"""A user's own page (/me) in headless Chromium through the real directory: their devices, their
forwarding changed, a voicemail message listened to (decoded by the browser) and deleted, no
serious axe violation. The mailbox is laid out as FreeSWITCH 1.10.12's mod_voicemail leaves it
(``db/voicemail_default.db`` with its ``voicemail_msgs`` table as created by the real switch, the
WAV under ``storage/voicemail/default/<domain>/<extension>/``); the real-switch tier would leave
it with a call."""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from pathlib import Path

import httpx

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main

from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.directory import directory_config
from support.servers import NatsServer, running
from support.voicemail_store import leave_message

HOST = "127.16.0.3"
async def test_user_page_devices_forwarding_and_voicemail(tmp_path: Path, nats_server: NatsServer,
                                                          authority: TokenAuthority, browser_page: BrowserPage) -> None:
    axe = axe_source()
    tenant = f"kofu{uuid.uuid4().hex[:6]}"
    domain = f"{tenant}.example.jp"
    storage, db = tmp_path / "fs" / "storage", tmp_path / "fs" / "db" / "voicemail_default.db"
    db.parent.mkdir(parents=True)
    config = dataclasses.replace(directory_config(tmp_path, nats_server), host=HOST, voicemail_db=db,
                                 voicemail_dir=storage / "voicemail")
    base = f"http://{HOST}:{config.port}"
    root = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
    admin = authority.issue(Claims("yamada", "user", tenant, ("admin",)))
    async with running(main, config), httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as api:
        (await api.post("/api/v1/tenants", json={"id": tenant, "domain": domain},
                        headers={"Authorization": f"Bearer {root}"})).raise_for_status()
        t = f"/api/v1/tenants/{tenant}"
        user = (await api.post(f"{t}/users", json={"username": "yamada", "display_name": "山田", "extension": "2001"})).json()
        (await api.post(f"{t}/devices", json={"user_id": user["id"], "sip_username": f"yamada-{tenant}",
                                              "password": "a-long-sip-password-1", "label": "窓口"})).raise_for_status()
        message, path = leave_message(storage, db, domain, "2001")
        other, other_path = leave_message(storage, db, domain, "2999")          # someone else's mailbox
        listed = (await api.get(f"{t}/users/{user['id']}/voicemail")).json()["messages"]
        assert [m["id"] for m in listed] == [message] and listed[0]["caller_number"] == "0312345678"
        assert (await api.get(f"{t}/users/{user['id']}/voicemail/{other}/audio")).status_code == 404   # not this mailbox's
        assert (await api.get(f"{t}/users/{user['id']}/voicemail/..%2F..%2Fx/audio")).status_code == 404

        page = browser_page.page
        await page.add_init_script(f"sessionStorage.setItem('hibiki.token', {admin!r})")
        await page.goto(f"{base}/me?user={user['id']}")
        await page.wait_for_selector("#me-voicemail-list")
        assert await page.inner_text("#me-devices-list tbody") == f"yamada-{tenant}\t卓上電話機\t窓口\t—"
        # forwarding, changed on the page
        await page.fill("#me-forwarding-form [data-field=forward_no_answer] input", "09012345678")
        await page.click("#me-forwarding-form button[type=submit]")
        await page.wait_for_selector("#status:has-text('保存しました')")
        assert (await api.get(f"{t}/users/{user['id']}")).json()["forward_no_answer"] == "09012345678"
        # listen: the browser gets the WAV and decodes it (2 s at 8 kHz)
        await page.get_by_role("button", name="0312345678 のメッセージを再生", exact=False).click()
        await page.wait_for_selector("#me-player:not([hidden])")
        duration = await page.evaluate("""() => new Promise(resolve => { const a = document.getElementById('me-player');
            if (a.readyState >= 1) resolve(a.duration); else a.addEventListener('loadedmetadata', () => resolve(a.duration)); })""")
        assert abs(duration - 2.0) < 0.05
        assert await page.get_attribute("#me-player", "data-message") == message
        violations = await serious_violations(page, axe)
        await browser_page.screenshot("console-me-voicemail")
        # delete, confirmed
        await page.get_by_role("button", name="0312345678 のメッセージを削除", exact=False).click()
        await page.click("#ask-yes")
        await page.wait_for_selector("#me-voicemail-none")
        assert not path.exists() and other_path.exists()
        with sqlite3.connect(db) as conn:
            left = [r[0] for r in conn.execute("SELECT uuid FROM voicemail_msgs").fetchall()]
        assert left == [other]                                          # the row goes, as mod_voicemail's purge does
        assert (await api.get(f"{t}/users/{user['id']}/voicemail")).json()["messages"] == []
        trail = (await api.get(f"{t}/audit")).json()["items"]
        deleted = [e for e in trail if e["action"] == "voicemail.delete"]
        assert [(e["actor"], e["resource_id"]) for e in deleted] == [("yamada", message)] and user["id"] in str(deleted[0]["before"])
        assert [e["action"] for e in trail if e["action"] == "users.forwarding"] == ["users.forwarding"]
        assert violations == []
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
