"""Console identity in the console (issue 14, ADM-04/05), headless Chromium through the real
directory and NATS: the tenant's identity policy set on the page (a bad value named at its
field), an integration's API token issued (shown once, it opens the API) and revoked with a
confirmation (refused at once: the revocation travels over NATS KV), a console user's token
issued with their roles, and the audit trail: the chain verified intact, the changes just made
listed, the CSV exported. No serious axe violation. Screenshots console-security.png, console-audit.png."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path

import httpx

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main

from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.directory import directory_config
from support.servers import NatsServer, running

HOST = "127.16.0.7"
PASSWORD = "kawa-no-nagare-2026"


async def test_policy_tokens_and_the_audit_trail_in_the_console(tmp_path: Path, nats_server: NatsServer,
                                                                authority: TokenAuthority,
                                                                browser_page: BrowserPage) -> None:
    axe = axe_source()
    tenant = f"akishima{uuid.uuid4().hex[:6]}"
    config = dataclasses.replace(directory_config(tmp_path, nats_server), host=HOST)
    base = f"http://{HOST}:{config.port}"
    root = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
    admin = authority.issue(Claims("kanri", "user", tenant, ("tenant-admin",)))
    async with running(main, config), httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as api:
        (await api.post("/api/v1/tenants", json={"id": tenant, "domain": f"{tenant}.example.jp"},
                        headers={"Authorization": f"Bearer {root}"})).raise_for_status()
        t = f"/api/v1/tenants/{tenant}"
        (await api.post(f"{t}/console_users", json={"login": "suzuki", "password": PASSWORD, "display_name": "鈴木",
                                                   "roles": ["supervisor"]})).raise_for_status()
        page = browser_page.page
        violations: dict[str, list[str]] = {}
        await page.goto(f"{base}/console")
        await page.evaluate(f"sessionStorage.setItem('hibiki.token', {admin!r})")
        await page.goto(f"{base}/console?tenant={tenant}#security")
        await page.wait_for_selector("#policy-form")

        # the policy: a bad length named at its field, then TOTP required
        await page.fill("#policy-form [data-field=password_min_length] input", "6")
        await page.click("#policy-form button[type=submit]")
        await page.wait_for_selector("#policy-form [data-field=password_min_length] input[aria-invalid=true]")
        await page.fill("#policy-form [data-field=password_min_length] input", "14")
        await page.check("#policy-form [data-field=mfa_required] input")
        await page.click("#policy-form button[type=submit]")
        await page.wait_for_selector("#status:has-text('保存しました')")
        assert (await api.get(f"{t}/identity_policy")).json() == {"mfa_required": True, "password_min_length": 14,
                                                                  "password_history": 5}

        # an integration's token: shown once, opens the API with its role
        form = "#api_tokens-form"
        await page.fill(f"{form} [data-field=name] input", "juminhyo-kiosk")
        await page.select_option(f"{form} [data-field=token_kind] select", "integration")
        await page.select_option(f"{form} [data-field=roles] select", ["viewer"])
        await page.click(f"{form} button[type=submit]")
        await page.wait_for_selector("#api-token-once")
        assert await page.evaluate("document.activeElement.id") == "token-once-title"
        token = (await page.inner_text("#api-token-value")).strip()
        bearer = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base) as kiosk:
            assert (await kiosk.get(f"{t}/users", headers=bearer)).status_code == 200
            assert (await kiosk.post(f"{t}/users", json={"username": "x"}, headers=bearer)).status_code == 403
            violations["security@1920"] = await serious_violations(page, axe)
            await browser_page.screenshot("console-security")
            # revoked on the page, with a confirmation: refused from then on
            row = page.locator("#api_tokens-list tbody tr", has_text="juminhyo-kiosk")
            await row.get_by_role("button", name="無効にする").click()
            await page.click("#ask-yes")
            await page.wait_for_selector("#api_tokens-list tbody tr:has-text('juminhyo-kiosk'):has-text('無効（')")
            deadline = time.monotonic() + 5
            while (status := (await kiosk.get(f"{t}/users", headers=bearer)).status_code) != 401:
                assert time.monotonic() < deadline, status
        # a console user's token: their roles
        await page.fill(f"{form} [data-field=name] input", "suzuki-report")
        await page.select_option(f"{form} [data-field=token_kind] select", "user")
        await page.select_option(f"{form} [data-field=user_id] select", label="鈴木 (suzuki)")
        await page.click(f"{form} button[type=submit]")
        await page.wait_for_selector("#api_tokens-list tbody tr:has-text('suzuki-report')")
        made = {k["name"]: k for k in (await api.get(f"{t}/api_tokens")).json()["items"]}
        assert made["suzuki-report"]["roles"] == ["supervisor"] and made["suzuki-report"]["subject"] == "suzuki"
        assert made["juminhyo-kiosk"]["revoked_at"] is not None

        # the audit trail: intact, the changes above listed, exported
        await page.click("a[data-section=audit]")
        await page.wait_for_selector("#audit-list")
        assert "改ざんなし" in await page.inner_text("#audit-verdict")
        actions = await page.locator("#audit-list tbody tr td:nth-child(4)").all_inner_texts()
        assert {"identity_policy.change", "api_token.create", "api_token.revoke", "console_user.create"} <= set(actions)
        async with page.expect_download() as download:
            await page.click("#audit-csv")
        exported = Path(await (await download.value).path()).read_text(encoding="utf-8-sig")
        assert "api_token.revoke" in exported and "juminhyo-kiosk" in exported
        for width, height in ((1920, 1080), (768, 1024)):
            await page.set_viewport_size({"width": width, "height": height})
            violations[f"audit@{width}"] = await serious_violations(page, axe)
        await browser_page.screenshot("console-audit")
        assert {k: v for k, v in violations.items() if v} == {}, violations
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
