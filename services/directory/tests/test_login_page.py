"""The ``/login`` page in headless Chromium against the real directory: a tenant that requires TOTP,
a console user's first login enrols it (the QR code and its key shown; the code computed with
pyotp as a phone would), the recovery codes shown once, ``/api/v1/auth/me`` seen on the page,
the logout; then a second login with the next TOTP code, typed with the keyboard alone.
Screenshots: ``test-artifacts/screenshots/login-*.png``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from hibiki.common.auth import TokenAuthority
from support.browser import BrowserPage
from support.directory import Directory, directory_config, running_directory
from support.servers import NatsServer

PASSWORD = "kawa-no-nagare-2026"


@pytest.fixture
async def directory(tmp_path: Path, nats_server: NatsServer, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as d:
        await d.post("/api/v1/tenants", {"id": "toshima", "domain": "toshima.example.jp"})
        reply = await d.api.put("/api/v1/tenants/toshima/identity_policy",
                                json={"mfa_required": True, "password_min_length": 12, "password_history": 5})
        assert reply.status_code == 200
        made = await d.api.post("/api/v1/tenants/toshima/console_users", json={
            "login": "yamada", "display_name": "山田 花子", "password": PASSWORD, "roles": ["tenant-admin"]})
        assert made.status_code == 201
        yield d


async def test_login_with_totp_me_and_logout_in_chromium(directory: Directory, browser_page: BrowserPage) -> None:
    page = browser_page.page
    await page.goto(directory.url + "/login")
    assert await page.title() == "ログイン - Hibiki"
    assert await page.locator("html").get_attribute("lang") == "ja"
    # labels name every field (a screen reader reads them)
    for label in ("テナント（自治体・組織のID）", "ログインID", "パスワード"):
        assert await page.get_by_label(label).count() == 1
    await page.get_by_label("テナント（自治体・組織のID）").fill("toshima")
    await page.get_by_label("ログインID").fill("yamada")
    await page.get_by_label("パスワード").fill("wrong password here")
    await page.get_by_role("button", name="ログイン").click()
    await page.locator("#errors").wait_for(state="visible")
    assert "正しくありません" in await page.locator("#error-text").inner_text()
    await browser_page.screenshot("login-wrong-password")
    await page.get_by_label("パスワード").fill(PASSWORD)
    await page.get_by_role("button", name="ログイン").click()
    await page.locator("#enrol").wait_for(state="visible")
    assert await page.locator("#qr svg").count() == 1
    secret = (await page.locator("#secret").inner_text()).strip()
    await browser_page.screenshot("login-totp-enrolment")
    totp = pyotp.TOTP(secret)
    first_step = int(time.time() // 30)
    await page.get_by_label("確認コード（6桁）").fill(totp.at(first_step * 30))
    await page.get_by_role("button", name="確認").click()
    await page.locator("#done").wait_for(state="visible")
    assert (await page.locator("#me-user").inner_text()) == "山田 花子 (yamada)"
    assert (await page.locator("#me-tenant").inner_text()) == "toshima"
    assert "tenant-admin" in await page.locator("#me-roles").inner_text()
    assert await page.locator("#code-list li").count() == 10
    cookies = {c["name"]: c for c in await browser_page.context.cookies()}
    assert cookies["hibiki_session"]["httpOnly"] and cookies["hibiki_session"]["sameSite"] == "Strict"
    assert not await page.evaluate("document.cookie.includes('hibiki_session')")     # HttpOnly: not for scripts
    me = await page.evaluate("fetch('/api/v1/auth/me').then(r => r.json())")
    assert me["user"]["login"] == "yamada" and me["tenant"] == "toshima"
    await browser_page.screenshot("login-done-with-recovery-codes")
    await page.get_by_role("button", name="ログアウト").click()
    await page.locator("#status").filter(has_text="ログアウトしました").wait_for()
    assert "hibiki_session" not in {c["name"] for c in await browser_page.context.cookies()}
    assert await page.evaluate("fetch('/api/v1/auth/me').then(r => r.status)") == 401
    await browser_page.screenshot("login-logged-out")

    # again, in English, with the keyboard alone and the next code (a code works once)
    await page.goto(directory.url + "/login?lang=en")
    assert await page.locator("html").get_attribute("lang") == "en"
    await page.keyboard.type("toshima")                  # the tenant field has the focus
    await page.keyboard.press("Tab")
    await page.keyboard.type("yamada")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.locator("#totp-step").wait_for(state="visible")
    assert await page.evaluate("document.activeElement.id") == "code"
    wait = (first_step + 1) * 30 - time.time()
    if wait > 0:
        await asyncio.sleep(wait + 0.2)
    await page.keyboard.type(totp.now())
    await page.keyboard.press("Enter")
    await page.locator("#done").wait_for(state="visible")
    assert await page.evaluate("document.activeElement.id") == "done-heading"
    assert (await page.locator("#me-tenant").inner_text()) == "toshima"
    await browser_page.screenshot("login-english-keyboard")
    await page.get_by_role("button", name="Log out").click()
    await page.locator("#status").filter(has_text="You are logged out.").wait_for()
    assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
