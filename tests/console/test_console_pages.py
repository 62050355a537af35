"""The console (/console) in headless Chromium through the real directory (and NATS): sign in,
create a user and a device (the phone's provisioning data shown), import a CSV with one bad row
(refused whole, the row named) and then a good one, the schedule calendar (New Year, a public
holiday), the IVR branch test mode, the disaster-mode switch and back by keyboard alone; axe-core
finds no serious violation on any section, at desktop and tablet width. Screenshots in
test-artifacts/screenshots/console-*.png."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import httpx
import pyotp

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main

from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.directory import directory_config
from support.servers import NatsServer, running

HOST = "127.16.0.2"
PASSWORD = "kawa-no-nagare-2026"
SECTIONS = ["users", "devices", "extensions", "ring_groups", "pickup", "park", "dids", "schedules", "ivrs", "phonebook",
            "gateways", "csv", "console_users", "security", "audit"]
WEEKDAYS = {d: [{"start": "08:30", "end": "17:15"}] for d in ("mon", "tue", "wed", "thu", "fri")}
IVR = {"id": "main", "name": "代表案内", "root_menu": "main", "menus": [
    {"id": "main", "name": "代表", "greeting": {"text": "お電話ありがとうございます。"},
     "choices": {"1": {"extension": "2001"}, "2": {"menu": "tax"}}},
    {"id": "tax", "name": "税務", "greeting": {"text": "税務課です。"}, "choices": {"1": {"voicemail": "2001"}, "9": {"back": True}}}]}


async def test_console_end_to_end(tmp_path: Path, nats_server: NatsServer, authority: TokenAuthority,
                                  browser_page: BrowserPage) -> None:
    axe = axe_source()
    tenant = f"zama{uuid.uuid4().hex[:6]}"
    config = dataclasses.replace(directory_config(tmp_path, nats_server), host=HOST)
    base = f"http://{HOST}:{config.port}"
    root = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
    admin = authority.issue(Claims("kanri", "user", tenant, ("admin",)))
    async with running(main, config), httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as api:
        (await api.post("/api/v1/tenants", json={"id": tenant, "domain": f"{tenant}.example.jp"},
                        headers={"Authorization": f"Bearer {root}"})).raise_for_status()
        t = f"/api/v1/tenants/{tenant}"
        schedule = (await api.post(f"{t}/schedules", json={"name": "本庁舎", "definition": {"weekly": WEEKDAYS}})).json()
        tanaka = (await api.post(f"{t}/users", json={"username": "tanaka", "extension": "2001"})).json()
        (await api.post(f"{t}/dids", json={"number": "046-251-2000", "schedule_id": schedule["id"], "target_kind": "user",
                                           "target": tanaka["id"],
                                           "branches": {"override:disaster": {"kind": "voicemail", "target": tanaka["id"]}}})).raise_for_status()
        (await api.post(f"{t}/ivrs", json=IVR)).raise_for_status()

        # a console user of the city, who must use TOTP: enrolled and logged in through /login
        (await api.put(f"{t}/identity_policy", json={"mfa_required": True, "password_min_length": 12,
                                                     "password_history": 5})).raise_for_status()
        (await api.post(f"{t}/console_users", json={"login": "kanri", "password": PASSWORD, "display_name": "管理 太郎",
                                                   "roles": ["tenant-admin"]})).raise_for_status()
        page = browser_page.page
        violations: dict[str, list[str]] = {}
        await page.goto(f"{base}/console")
        await page.wait_for_selector("#signin:not([hidden])")
        assert await page.evaluate("document.activeElement.id") == "signin-link"
        violations["signin"] = await serious_violations(page, axe)
        await page.keyboard.press("Enter")                                   # to /login?next=/console
        await page.wait_for_selector("#password-form")
        await page.fill("#tenant", tenant)
        await page.fill("#login", "kanri")
        await page.fill("#password", PASSWORD)
        await page.keyboard.press("Enter")
        try:
            await page.wait_for_selector("#secret:not(:empty)", timeout=8000)   # TOTP enrolment: the secret and its QR
        except Exception:
            raise AssertionError(browser_page.console)
        totp = pyotp.TOTP((await page.inner_text("#secret")).replace(" ", ""))
        await page.fill("#code", totp.now())
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#done:not([hidden])")                   # recovery codes shown once
        await page.goto(f"{base}/console")
        await page.wait_for_selector("#app:not([hidden])")
        assert "管理 太郎" in await page.inner_text("#hb-who")
        assert "hibiki_session" in {c["name"] for c in await browser_page.context.cookies()}
        await page.wait_for_selector("#users-list")
        assert await page.inner_text("#hb-title") == "管理コンソール"
        assert await page.inner_text("#view-title") == "ユーザー"

        # a user, by the form
        await page.click("#users-new")
        await page.fill("#users-form [data-field=username] input", "sato")
        await page.fill("#users-form [data-field=display_name] input", "佐藤 花子")
        await page.fill("#users-form [data-field=extension] input", "2002")
        await page.click("#users-form button[type=submit]")
        try:
            await page.wait_for_selector("#users-list tbody tr:has-text('sato')", timeout=5000)
        except Exception:
            raise AssertionError((await page.inner_text("#status"), browser_page.console))
        sato = next(u for u in (await api.get(f"{t}/users")).json()["items"] if u["username"] == "sato")
        assert sato["display_name"] == "佐藤 花子" and sato["extension"] == "2002"
        # a refused one: the field at fault is marked and named
        await page.click("#users-new")
        await page.fill("#users-form [data-field=username] input", "suzuki")
        await page.fill("#users-form [data-field=extension] input", "2002")
        await page.click("#users-form button[type=submit]")
        await page.wait_for_selector("#users-form [data-field=extension] input[aria-invalid=true]")
        assert "extension" in await page.inner_text("#status")
        await browser_page.screenshot("console-users")

        # a device for sato, with what the desk phone needs
        await page.click("a[data-section=devices]")
        await page.wait_for_selector("#devices-new")
        await page.click("#devices-new")
        await page.select_option("#devices-form [data-field=user_id] select", sato["id"])
        await page.fill("#devices-form [data-field=sip_username] input", f"sato-desk-{tenant}")
        await page.fill("#devices-form [data-field=phone] input", "00:15:65:aa:bb:cc")
        await page.fill("#devices-form [data-field=line_key] input", "1")
        await page.click("#generate-password")
        password = await page.input_value("#devices-form [data-field=password] input")
        assert len(password) >= 20
        await page.click("#devices-form button[type=submit]")
        await page.wait_for_selector("#provisioning")
        shown = dict(zip(await page.locator("#provisioning dt").all_inner_texts(),
                         await page.locator("#provisioning dd").all_inner_texts()))
        assert shown["SIP ドメイン（レジストラ）"] == f"{tenant}.example.jp" and shown["SIP パスワード"] == password
        assert shown["回線キー"] == "1" and shown["電話機の MAC アドレス"] == "00:15:65:aa:bb:cc"
        device = (await api.get(f"{t}/devices")).json()["items"][0]
        assert device["user_id"] == sato["id"] and device["phone"] == "00:15:65:aa:bb:cc"
        await browser_page.screenshot("console-device-provisioning")

        # pickup group by keyboard: the section link, the focus on its heading, two users put in a group
        await page.focus("a[data-section=pickup]")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#pickup_group-form")
        assert await page.evaluate("document.activeElement.id") == "view-title"
        await page.fill("#pickup_group-form [data-field=pickup_group] input", "madoguchi")
        await page.select_option("#pickup_group-form [data-field=members] select", [sato["id"], tanaka["id"]])
        await page.click("#pickup_group-form button[type=submit]")
        await page.wait_for_selector("#pickup_group-list tbody tr:has-text('madoguchi')")
        grouped = {u["username"] for u in (await api.get(f"{t}/users")).json()["items"] if u["pickup_group"] == "madoguchi"}
        assert grouped == {"sato", "tanaka"}

        # a number routed to sato, its target chosen from the suggested users
        await page.click("a[data-section=dids]")
        await page.wait_for_selector("#dids-new")
        await page.click("#dids-new")
        await page.fill("#dids-form [data-field=number] input", "046-251-2002")
        options = await page.locator("#dids-form [data-field=target] datalist option").evaluate_all(
            "os => os.map(o => [o.value, o.textContent])")
        assert [sato["id"], "ユーザー: 佐藤 花子 (2002)"] in options
        await page.fill("#dids-form [data-field=target] input", sato["id"])
        await page.click("#dids-form button[type=submit]")
        await page.wait_for_selector("#dids-list tbody tr:has-text('0462512002')")
        did = next(d for d in (await api.get(f"{t}/dids")).json()["items"] if d["number"] == "0462512002")
        assert did["target_kind"] == "user" and did["target"] == sato["id"]

        # CSV: one bad row refuses the whole file and is named; then a good file goes in
        await page.click("a[data-section=csv]")
        await page.wait_for_selector("#csv-form")
        bad = "username,display_name,extension\nkato,加藤,2101\nito,伊藤,0999\nendo,遠藤,2103\n"
        await page.set_input_files("#csv-form input[type=file]", files=[{"name": "users.csv", "mimeType": "text/csv",
                                                                         "buffer": bad.encode()}])
        await page.click("#csv-check")
        await page.wait_for_selector("#csv-errors")
        rows = await page.locator("#csv-errors tbody tr").all()
        assert len(rows) == 1
        cells = await rows[0].locator("th, td").all_inner_texts()
        assert cells[0] == "3" and cells[1] == "extension"
        assert await page.is_disabled("#csv-apply")
        assert "1 行に問題があるため" in await page.inner_text("#csv-result")
        await browser_page.screenshot("console-csv-refused")
        names = {u["username"] for u in (await api.get(f"{t}/users")).json()["items"]}
        assert not names & {"kato", "ito", "endo"}
        good = bad.replace("0999", "2102")
        await page.set_input_files("#csv-form input[type=file]", files=[{"name": "users.csv", "mimeType": "text/csv",
                                                                         "buffer": good.encode()}])
        await page.click("#csv-check")
        await page.wait_for_selector("#csv-apply:not([disabled])")
        names = {u["username"] for u in (await api.get(f"{t}/users")).json()["items"]}
        assert not names & {"kato", "ito", "endo"}                        # a dry run stores nothing
        await page.click("#csv-apply")
        await page.wait_for_selector("#csv-result:has-text('3 行を取り込みました')")
        names = {u["username"] for u in (await api.get(f"{t}/users")).json()["items"]}
        assert {"kato", "ito", "endo"} <= names

        # the schedule's calendar: New Year closure, a public holiday, the weekly hours
        await page.click("a[data-section=schedules]")
        await page.wait_for_selector("#calendar-table")
        await page.fill("#calendar [data-field=month] input, [data-field=month] input", "2027-01")
        await page.dispatch_event("[data-field=month] input", "change")
        await page.wait_for_selector("td[data-date='2027-01-11']")
        assert await page.get_attribute("td[data-date='2027-01-02']", "data-branch") == "new_year"
        assert await page.get_attribute("td[data-date='2027-01-11']", "data-branch") == "holiday"   # 成人の日
        assert "祝日" in await page.inner_text("td[data-date='2027-01-11']")
        assert "08:30–17:15" in await page.inner_text("td[data-date='2027-01-12']")
        await browser_page.screenshot("console-schedule-calendar")

        # the IVR: its tree and the branch test mode, every path listed and played
        await page.click("a[data-section=ivrs]")
        await page.wait_for_selector("#ivr-tree")
        assert "税務" in await page.inner_text("#ivr-tree")
        await page.click("#ivr-test-run")
        await page.wait_for_selector("#ivr-paths-table")
        ends = await page.locator("#ivr-paths-table tbody tr td:nth-child(4)").all_inner_texts()
        assert set(ends) >= {"extension:2001", "voicemail:2001"}
        await page.locator("#ivr-paths-table tbody tr", has_text="voicemail:2001").get_by_role("button").click()
        steps = await page.locator("#ivr-player li").all_inner_texts()
        assert steps[0].startswith("メニュー「代表」") and "キー 2 を押す" in steps and steps[-1] == "行先: voicemail:2001"
        await browser_page.screenshot("console-ivr-test")
        # the tree edited: the tax menu's greeting and a new key 3 to the water queue, saved whole
        tax = page.locator("#ivr-menus fieldset").nth(1)
        await tax.locator("[data-field=greeting] textarea").fill("税務課です。固定資産税は3を押してください。")
        await tax.get_by_role("button", name="キーを追加").click()
        await tax.locator("tbody tr").last.locator("select").nth(0).select_option("3")
        await tax.locator("tbody tr").last.locator("select").nth(1).select_option("queue")
        await tax.locator("tbody tr").last.locator("input").fill("kotei")
        await page.click("#ivr-form button[type=submit]")
        await page.wait_for_selector("#status:has-text('保存しました')")
        stored = (await api.get(f"{t}/ivrs/main")).json()
        menu = next(m for m in stored["menus"] if m["id"] == "tax")
        assert menu["greeting"] == {"text": "税務課です。固定資産税は3を押してください。"}
        assert menu["choices"]["3"] == {"queue": {"queue_id": "kotei"}} and menu["choices"]["9"] == {"back": True}

        # disaster mode, by keyboard alone: the switch, the confirmation, and back
        await page.focus("#disaster-toggle")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#ask[open]")
        assert await page.evaluate("document.activeElement.id") == "ask-no"     # the safe answer has the focus
        await page.keyboard.press("Shift+Tab")
        assert await page.evaluate("document.activeElement.id") == "ask-yes"
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#disaster-bar.on")
        assert (await api.get(f"{t}/disaster_mode")).json()["active"] is True
        stored = (await api.get(f"{t}/schedules/{schedule['id']}")).json()
        assert stored["definition"]["override"]["mode"] == "disaster"
        assert "災害モード運用中" in await page.inner_text("#disaster-state")
        await browser_page.screenshot("console-disaster-on")
        violations["disaster-on"] = await serious_violations(page, axe)
        await page.focus("#disaster-toggle")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#ask[open]")
        await page.keyboard.press("Escape")                                    # Escape cancels: nothing changes
        await page.wait_for_selector("#ask[open]", state="detached")
        assert (await api.get(f"{t}/disaster_mode")).json()["active"] is True
        await page.keyboard.press("Enter")                                     # the focus is back on the switch
        await page.wait_for_selector("#ask[open]")
        await page.click("#ask-yes")
        await page.wait_for_selector("#disaster-bar:not(.on)")
        assert (await api.get(f"{t}/disaster_mode")).json()["active"] is False
        assert (await api.get(f"{t}/schedules/{schedule['id']}")).json()["definition"]["override"] is None

        # every section: no serious accessibility violation, at desktop and at tablet width
        for width, height in ((1920, 1080), (768, 1024)):
            await page.set_viewport_size({"width": width, "height": height})
            for section in SECTIONS:
                await page.goto(f"{base}/console#{section}")
                await page.wait_for_selector(f"#content[data-section={section}] > *")
                violations[f"{section}@{width}"] = await serious_violations(page, axe)
                wide = await page.evaluate("document.documentElement.scrollWidth")
                if wide > width:                                           # the page itself never scrolls sideways
                    violations[f"{section}@{width}"].append(f"page {wide} px wide")
            await browser_page.screenshot(f"console-tablet-{width}")
        await page.goto(f"{base}/console?lang=en#users")
        await page.wait_for_selector("#users-list")
        assert await page.inner_text("#view-title") == "Users"
        violations["users-en"] = await serious_violations(page, axe)
        await browser_page.screenshot("console-users-en")
        assert len(violations) == 2 * len(SECTIONS) + 3 and {k: v for k, v in violations.items() if v} == {}
        await page.evaluate("document.getElementById('content').append(document.createElement('input'))")
        assert any(v.startswith("label (critical)") for v in await serious_violations(page, axe))   # the check can fail
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
