"""The agent desktop's content edited in the console (headless Chromium, keyboard alone): a
queue's talk script, an FAQ article, the tenant's case types and not-ready reasons, sent through
the real directory to the real ACD; then the agent's desktop (served by that ACD) shows them: the
menus, the script in the screen pop of a queued call, the article found by a kana/width variant,
the new case type saved with the call. axe-core: no serious violation at 1920 and 768 px."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import grpc
import httpx

from hibiki.acd.app import main as acd_main
from hibiki.acd.config import AcdConfig
from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.rpc import token_metadata
from hibiki.directory.app import main

from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.directory import directory_config
from support.servers import NatsServer, free_port, running

HOST = "127.16.0.7"
SCRIPT = "お電話ありがとうございます。住民課の{担当}です。\nご用件をお伺いします。"


async def test_desk_content_edited_in_the_console_shows_on_the_desktop(
        tmp_path: Path, nats_server: NatsServer, authority: TokenAuthority, browser_page: BrowserPage) -> None:
    axe = axe_source()
    tenant = f"nagaoka{uuid.uuid4().hex[:6]}"
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    acd = dataclasses.replace(AcdConfig.from_env(env), host=HOST, port=free_port(), grpc_port=free_port(),
                              offer_grace_seconds=0.0)
    config = dataclasses.replace(directory_config(tmp_path, nats_server), host=HOST, acd_http=f"http://{HOST}:{acd.port}")
    base = f"http://{HOST}:{config.port}"
    acd = dataclasses.replace(acd, directory_grpc=f"{HOST}:{config.grpc_port}", directory_http=base)
    root = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
    admin = authority.issue(Claims("kanri", "user", tenant, ("admin",)))
    service = authority.issue(Claims("callcontrol", "service"))
    agent_token = authority.issue(Claims("a1", "user", tenant, ("agent",)))
    async with running(main, config), running(acd_main, acd), \
            httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as api:
        (await api.post("/api/v1/tenants", json={"id": tenant, "domain": f"{tenant}.example.jp"},
                        headers={"Authorization": f"Bearer {root}"})).raise_for_status()
        (await api.post(f"/api/v1/tenants/{tenant}/users", json={"username": "seat-1"})).raise_for_status()
        t = f"/api/v1/tenants/{tenant}"
        assert (await api.put(f"{t}/queues/juminka", json={})).status_code in (200, 201)
        assert (await api.put(f"{t}/agents/a1", json={"queues": ["juminka"]})).status_code in (200, 201)

        page = browser_page.page
        kb = page.keyboard
        await page.add_init_script(f"sessionStorage.setItem('hibiki.token', {admin!r})")
        await page.goto(f"{base}/console?tenant={tenant}#desk")
        await page.wait_for_selector("#scripts-list")
        assert await page.text_content("#view-title") == "デスクトップの内容"
        # the talk script of queue juminka, typed with the keyboard alone
        await page.focus("#script-edit-juminka")
        await kb.press("Enter")
        await page.wait_for_selector("#script-form-title:focus")
        await kb.press("Tab")
        await kb.type("住民課の受付")
        await kb.press("Tab")
        await page.keyboard.insert_text(SCRIPT)
        await kb.press("Tab")                       # Save
        await kb.press("Enter")
        await page.wait_for_selector("#scripts-list tbody tr:has-text('住民課の受付')")
        # an FAQ article
        await page.focus("#faq-new")
        await kb.press("Enter")
        await page.wait_for_selector("#faq-form-title:focus")
        await kb.press("Tab")
        await kb.type("マイナンバーカードの住所変更")
        await kb.press("Tab")
        await kb.insert_text("転入届と同時に、窓口で券面の記載を変更します。暗証番号が必要です。")
        await kb.press("Tab")
        await kb.insert_text("転入、カード")
        await kb.press("Enter")                     # submits the form from a text field
        await page.wait_for_selector("#faq-list tbody tr:has-text('マイナンバーカードの住所変更')")
        # a case type and a not-ready reason: a bad id first, refused at the field, then fixed
        await page.focus("#case_types-add")
        await kb.press("Enter")
        new_id = '[data-path="case_types.4.id"]'
        await page.wait_for_selector(f"{new_id}:focus")
        await kb.type("nenkin soudan")
        await kb.press("Tab")
        await kb.type("年金の相談")
        await kb.press("Tab")
        await kb.type("Pension")
        await page.focus("#not_ready_reasons-add")
        await kb.press("Enter")
        await kb.type("callback")
        await kb.press("Tab")
        await kb.type("折り返し電話")
        await page.focus("#desk-menus-save")
        await kb.press("Enter")
        await page.wait_for_selector(f"{new_id}[aria-invalid=true]:focus")
        assert "case_types.4.id" in (await page.text_content("#status") or "")
        assert (await page.text_content("#case_types-error") or "").strip()
        violations = await serious_violations(page, axe)
        await browser_page.screenshot("console-desk-refused")
        await page.fill(new_id, "nenkin")
        await page.focus("#desk-menus-save")
        await kb.press("Enter")
        await page.wait_for_selector("#desk-menus-default:not([disabled])")
        assert await page.input_value('[data-path="case_types.4.label"]') == "年金の相談"
        violations += await serious_violations(page, axe)
        await browser_page.screenshot("console-desk-1920")
        await page.set_viewport_size({"width": 768, "height": 1024})
        violations += await serious_violations(page, axe)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 768   # no sideways scrolling
        await browser_page.screenshot("console-desk-768")
        assert violations == []

        # what the ACD itself now holds (asked on its own port)
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{acd.port}{t}",
                                     headers={"Authorization": f"Bearer {admin}"}) as own:
            assert (await own.get("/queues/juminka/script")).json()["text"] == SCRIPT
            settings = (await own.get("/desk_settings")).json()
        assert settings["case_types"][-1] == {"id": "nenkin", "label": "年金の相談", "label_en": "Pension"}
        assert settings["not_ready_reasons"][-1] == {"id": "callback", "label": "折り返し電話", "label_en": ""}

        # the agent's desktop (served by the ACD)
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await page.goto(f"http://{HOST}:{acd.port}/desktop#tenant={tenant}&agent=a1&device=seat-1&token={agent_token}")
        await page.click("#signin-button")
        await page.wait_for_selector('#state[data-state="not_ready"]')
        await page.wait_for_selector("#not-ready-reason option[value=callback]", state="attached")
        assert await page.text_content("#not-ready-reason option[value=callback]") == "折り返し電話"
        await page.select_option("#not-ready-reason", "callback")
        await page.click("#not-ready")
        await page.wait_for_selector("#state-reason:text-is('(折り返し電話)')")
        await page.click("#ready")
        await page.wait_for_selector('#state[data-state="ready"]')
        async with grpc.aio.insecure_channel(f"{HOST}:{acd.grpc_port}") as channel:
            stub, meta = acd_pb2_grpc.AcdServiceStub(channel), token_metadata(service)
            await stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="juminka",
                                                      caller_number="0258111111"), metadata=meta)
            await page.wait_for_selector("#pop-script:has-text('住民課')")
            assert await page.text_content("#pop-script") == SCRIPT
            for typed in ("ﾏｲﾅﾝﾊﾞｰ", "まいなんばー", "住所変更"):
                await page.fill("#faq-q", typed)
                await page.click("#faq-go")
                await page.wait_for_selector("#faq-results summary")
                assert await page.text_content("#faq-results summary") == "マイナンバーカードの住所変更", typed
                await page.fill("#faq-q", "")
            await browser_page.screenshot("desktop-console-script-faq")
            await stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="c1", agent_id="a1",
                                                              outcome=acd_pb2.OFFER_OUTCOME_ANSWERED), metadata=meta)
            await stub.EndCall(acd_pb2.EndCallRequest(tenant=tenant, call_uuid="c1"), metadata=meta)
        await page.wait_for_selector("#wrap:not([hidden])")
        assert await serious_violations(page, axe) == []          # the desktop with the tenant's menus
        assert await page.text_content("#case-type option[value=nenkin]") == "年金の相談"
        assert "inquiry" in await page.eval_on_selector_all("#case-type option", "os => os.map(o => o.value)")
        await page.select_option("#case-type", "nenkin")
        await page.click("#save")
        await page.wait_for_selector("#wrap", state="hidden")
        await page.select_option("#lang", "en")
        await page.wait_for_selector("#case-type option[value=nenkin]:text-is('Pension')", state="attached")
        assert await page.text_content("#not-ready-reason option[value=callback]") == "折り返し電話"   # no English label
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
