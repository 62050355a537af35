"""A city's staff member on their own page, in headless Chromium through the real services (issue 14):
the administrator links a console user to a directory user in the console (section console_users);
the staff member logs in at /login with their password and TOTP (the tenant enforces it) and /me
shows their devices, their forwarding (changed on the page), their voicemail (played, deleted) and
their call history, read from the real analytics service (its own process and chdb store, through
the directory's origin), limited to their own calls. Another user's page, mailbox and history are
refused (403) from the same session, and ``?user=`` names nobody else's. axe-core: no serious
violation at 1920 and 768 px. Screenshots: console-console-users-*.png, console-me-self-*.png."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main

from support import scripted_day as sd
from support.analytics_store import open_test_store
from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.directory import directory_config
from support.served import serve
from support.servers import NatsServer, free_port, running
from support.voicemail_store import leave_message

HOST = "127.16.0.5"
PASSWORD = "kawa-no-nagare-2026"
TIMES = ("start_time", "ring_time", "answer_time", "bridge_time", "end_time")


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A NATS of this test's own: analytics' durable consumers start on an empty stream."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


def calls_of(tenant: str, mine: str, theirs: str) -> list[dict[str, Any]]:
    """Yesterday's calls: mine out to a shop, theirs to me (answered), theirs out to a number of their own."""
    legs = [sd.leg("c1", "c1", "a", mine, "10:00", True, 45, caller="2001", callee="0311112222", direction="outbound"),
            sd.leg("c2", "c2", "a", theirs, "11:00", True, 30, caller="2002", callee="2001"),
            sd.leg("c2", "c2-b", "b", mine, "11:00", True, 30, caller="2002", callee="2001"),
            sd.leg("c3", "c3", "a", theirs, "12:00", True, 20, caller="2002", callee="0399990000",
                   direction="outbound")]
    shift = datetime.now(UTC) - timedelta(days=1) - sd.at("12:00")
    for leg in legs:
        leg["tenant"] = tenant
        for name in TIMES:
            if leg[name] is not None:
                leg[name] = leg[name] + shift
    return legs


async def test_a_staff_member_sees_and_changes_only_their_own_page(
        tmp_path: Path, nats_server: NatsServer, authority: TokenAuthority, browser_page: BrowserPage) -> None:
    axe = axe_source()
    tenant = f"fuchu{uuid.uuid4().hex[:6]}"
    domain = f"{tenant}.example.jp"
    storage, db = tmp_path / "fs" / "storage", tmp_path / "fs" / "db" / "voicemail_default.db"
    db.parent.mkdir(parents=True)
    analytics_port = free_port()
    config = dataclasses.replace(directory_config(tmp_path, nats_server), host=HOST, voicemail_db=db,
                                 voicemail_dir=storage / "voicemail", analytics_http=f"http://{HOST}:{analytics_port}")
    base = f"http://{HOST}:{config.port}"
    root = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
    admin = authority.issue(Claims("kanri", "user", tenant, ("admin",)))
    async with running(main, config), httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as api:
        (await api.post("/api/v1/tenants", json={"id": tenant, "domain": domain},
                        headers={"Authorization": f"Bearer {root}"})).raise_for_status()
        t = f"/api/v1/tenants/{tenant}"
        mine = (await api.post(f"{t}/users", json={"username": "tanaka", "display_name": "田中 一郎",
                                                   "extension": "2001"})).json()
        theirs = (await api.post(f"{t}/users", json={"username": "sato", "display_name": "佐藤 花子",
                                                     "extension": "2002"})).json()
        for user, sip, label in ((mine, f"tanaka-{tenant}", "窓口"), (theirs, f"sato-{tenant}", "奥の席")):
            (await api.post(f"{t}/devices", json={"user_id": user["id"], "sip_username": sip,
                                                  "password": "a-long-sip-password-1", "label": label})).raise_for_status()
        (await api.put(f"{t}/identity_policy", json={"mfa_required": True, "password_min_length": 12,
                                                     "password_history": 5})).raise_for_status()
        message, path = leave_message(storage, db, domain, "2001")
        other, other_path = leave_message(storage, db, domain, "2002")
        chdb = tmp_path / "analytics" / "chdb"
        store = open_test_store(chdb)
        legs = calls_of(tenant, mine["id"], theirs["id"])
        store.insert("legs", tuple(legs[0]), [tuple(leg.values()) for leg in legs])
        store.close()
        env = {"HIBIKI_AUTH_SECRET": os.environ["HIBIKI_AUTH_SECRET"], "HIBIKI_NATS_URL": nats_server.url,
               "HIBIKI_ANALYTICS_CLICKHOUSE_URL": f"chdb://{chdb}",
               "HIBIKI_ANALYTICS_ACD_URL": f"http://{HOST}:{free_port()}"}
        with serve("analytics", HOST, tmp_path / "analytics", env, port=analytics_port):
            page = browser_page.page
            violations: dict[str, list[str]] = {}

            # the administrator links a console user to the directory user, in the console
            await page.goto(f"{base}/console")
            await page.evaluate(f"sessionStorage.setItem('hibiki.token', {admin!r}); "
                                f"sessionStorage.setItem('hibiki.tenant', {tenant!r})")
            await page.goto(f"{base}/console?tenant={tenant}#console_users")       # a new load, not a hash change
            try:
                await page.wait_for_selector("#console_users-list", timeout=10000)
            except Exception:
                raise AssertionError((await page.inner_text("body"), browser_page.console)) from None
            await page.click("#console_users-new")
            form = "#console_users-form"
            await page.fill(f"{form} [data-field=login] input", "tanaka")
            await page.fill(f"{form} [data-field=display_name] input", "田中 一郎")
            await page.fill(f"{form} [data-field=password] input", PASSWORD)
            await page.select_option(f"{form} [data-field=roles] select", ["self-service"])
            await page.click(f"{form} button[type=submit]")                       # no directory user: refused
            await page.wait_for_selector(f"{form} [data-field=directory_user_id] select[aria-invalid=true]")
            assert await page.evaluate("document.activeElement.name") == "directory_user_id"
            await page.select_option(f"{form} [data-field=directory_user_id] select", label="田中 一郎 (2001)")
            await page.click(f"{form} button[type=submit]")
            await page.wait_for_selector("#console_users-list tbody tr:has-text('tanaka')")
            assert "田中 一郎 (2001)" in await page.inner_text("#console_users-list tbody tr:has-text('tanaka')")
            made = (await api.get(f"{t}/console_users")).json()["items"]
            assert [(u["login"], u["roles"], u["directory_user_id"]) for u in made] == \
                [("tanaka", ["self-service"], mine["id"])]
            # edited: the link moved to another user and back (each save ends the user's sessions)
            for label, expected in (("佐藤 花子 (2002)", theirs["id"]), ("田中 一郎 (2001)", mine["id"])):
                await page.get_by_role("button", name="編集: tanaka").click()
                await page.select_option(f"{form} [data-field=directory_user_id] select", label=label)
                await page.click(f"{form} button[type=submit]")
                await page.wait_for_selector(f"#console_users-list tbody tr:has-text('{label}')")
                linked = (await api.get(f"{t}/console_users")).json()["items"][0]["directory_user_id"]
                assert linked == expected
            for width, height in ((1920, 1080), (768, 1024)):
                await page.set_viewport_size({"width": width, "height": height})
                violations[f"console_users@{width}"] = await serious_violations(page, axe)
                await browser_page.screenshot(f"console-console-users-{width}")
            await page.set_viewport_size({"width": 1920, "height": 1080})
            await page.evaluate("sessionStorage.clear()")

            # the staff member: /me, to /login, password, TOTP enrolment, back to /me
            await page.goto(f"{base}/me")
            await page.wait_for_selector("#signin:not([hidden])")
            await page.click("#signin-link")
            await page.wait_for_selector("#password-form")
            await page.fill("#tenant", tenant)
            await page.fill("#login", "tanaka")
            await page.fill("#password", PASSWORD)
            await page.keyboard.press("Enter")
            await page.wait_for_selector("#secret:not(:empty)", timeout=8000)
            totp = pyotp.TOTP((await page.inner_text("#secret")).replace(" ", ""))
            await page.fill("#code", totp.now())
            await page.keyboard.press("Enter")
            await page.wait_for_selector("#done:not([hidden])")
            await page.goto(f"{base}/console")                                     # nothing there for them:
            await page.wait_for_url(f"{base}/me")                                  # their own page instead
            await page.goto(f"{base}/me?user={theirs['id']}")                      # asks for someone else's
            await page.wait_for_selector("#me-voicemail-list")
            await page.wait_for_selector("#me-history-list, #me-history-error")
            assert await page.inner_text("#pick-user") == ""                        # no one to pick
            assert "田中 一郎" in await page.inner_text("#me-name")
            assert await page.inner_text("#me-devices-list tbody") == f"tanaka-{tenant}\t卓上電話機\t窓口\t—"
            history = await page.inner_text("#me-history-list tbody")
            assert "0311112222" in history and "2002" in history and "0399990000" not in history, history
            assert "発信" in history and "着信" in history
            assert len(history.strip().splitlines()) == 2
            listed = await page.locator("#me-voicemail-list tbody tr").count()
            assert listed == 1

            # forwarding, changed on the page
            await page.fill("#me-forwarding-form [data-field=forward_busy] input", "2002")
            await page.click("#me-forwarding-form button[type=submit]")
            await page.wait_for_selector("#status:has-text('保存しました')")
            assert (await api.get(f"{t}/users/{mine['id']}")).json()["forward_busy"] == "2002"
            # the voicemail: listened to (the browser decodes 2 s), then deleted
            await page.get_by_role("button", name="0312345678 のメッセージを再生", exact=False).click()
            await page.wait_for_selector("#me-player:not([hidden])")
            duration = await page.evaluate("""() => new Promise(resolve => { const a = document.getElementById('me-player');
                if (a.readyState >= 1) resolve(a.duration); else a.addEventListener('loadedmetadata', () => resolve(a.duration)); })""")
            assert abs(duration - 2.0) < 0.05
            for width, height in ((1920, 1080), (768, 1024)):
                await page.set_viewport_size({"width": width, "height": height})
                violations[f"me@{width}"] = await serious_violations(page, axe)
                assert await page.evaluate("document.documentElement.scrollWidth") <= width    # no sideways scrolling
                await browser_page.screenshot(f"console-me-self-{width}")
            await page.set_viewport_size({"width": 1920, "height": 1080})
            await page.get_by_role("button", name="0312345678 のメッセージを削除", exact=False).click()
            await page.click("#ask-yes")
            await page.wait_for_selector("#me-voicemail-none")
            assert not path.exists() and other_path.exists()

            # someone else's, from the same session: refused, nothing changed
            attempts = {
                "own": ("GET", f"{t}/users/{theirs['id']}/own"),
                "forwarding": ("PUT", f"{t}/users/{theirs['id']}/forwarding"),
                "voicemail": ("GET", f"{t}/users/{theirs['id']}/voicemail"),
                "audio": ("GET", f"{t}/users/{theirs['id']}/voicemail/{other}/audio"),
                "delete": ("DELETE", f"{t}/users/{theirs['id']}/voicemail/{other}"),
                "history": ("GET", f"{t}/calls/history?user={theirs['id']}"),
                "users": ("GET", f"{t}/users"),
                "user": ("PATCH", f"{t}/users/{theirs['id']}"),
            }
            got = await page.evaluate("""async (attempts) => {
                const csrf = document.cookie.split('; ').find((c) => c.startsWith('hibiki_csrf=')).split('=')[1];
                const out = {};
                for (const [name, [method, path]] of Object.entries(attempts)) {
                  const r = await fetch(path, {method, headers: {'X-Hibiki-CSRF': csrf, 'Content-Type': 'application/json'},
                                               body: method === 'GET' || method === 'DELETE' ? undefined : '{"forward_always": "09011112222"}'});
                  out[name] = r.status;
                }
                return out; }""", attempts)
            assert got == {name: 403 for name in attempts}, got
            assert other_path.exists()
            assert (await api.get(f"{t}/users/{theirs['id']}")).json()["forward_always"] == ""
            own = (await api.get(f"{t}/calls/history?user={mine['id']}")).json()["calls"]
            assert sorted(c["call_id"] for c in own) == ["c1", "c2"]
        assert {k: v for k, v in violations.items() if v} == {}, violations
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
