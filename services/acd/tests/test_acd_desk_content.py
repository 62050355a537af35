"""The desktop's content on a running ACD (real NATS, real directory): talk scripts per queue and
FAQ articles edited by the ``acd`` role and read by the agent, the FAQ searched in Japanese as
typed, and the screen pop's extras (script, the caller's phonebook contact from the directory's
HTTP API) answered within the peer timeout when the directory is dead or silent."""

from __future__ import annotations

import asyncio
import socket
import time
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hibiki.common.auth import Claims
from support.servers import running

from hibiki.acd.app import main
from hibiki.acd.desktop.content_api import DeskSettingsIn
from hibiki.acd.v1 import acd_pb2


async def _offer(admin: Any, tenant: str, call: str, caller: str, agent_id: str = "a1",
                 device: str = "seat-1") -> None:
    """A call from ``caller`` in q1, offered to ``agent_id`` (logged in ready on ``device``) and answered."""
    if agent_id:
        await admin.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id=agent_id, device=device,
                                                              ready=True), metadata=admin.metadata)
    await admin.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call, queue_id="q1",
                                                    caller_number=caller), metadata=admin.metadata)
    if agent_id:
        await admin.stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid=call, agent_id=agent_id,
                                                                outcome=acd_pb2.OFFER_OUTCOME_ANSWERED),
                                     metadata=admin.metadata)


async def test_scripts_and_faq_edited_by_acd_role_read_by_agent(make_config: Any, clients: Any, authority: Any,
                                                                  tenant: str, seats: Any) -> None:
    config = make_config(directory_http=seats.url)
    async with running(main, config):
        admin = clients(config)
        await admin.put(f"/api/v1/tenants/{tenant}/agents/a1", {})
        base = f"/api/v1/tenants/{tenant}"
        saved = await admin.http.put(f"{base}/queues/q1/script", json={"title": "住民票", "text": "お電話ありがとうございます。"})
        assert saved.status_code == 200 and saved.json()["text"] == "お電話ありがとうございます。"
        assert (await admin.http.get(f"{base}/queues/q1/script")).json()["title"] == "住民票"
        assert (await admin.http.put(f"{base}/queues/q1/script", json={"text": ""})).json()["details"]["field"] == "text"
        typo = await admin.http.put(f"{base}/queues/q1/script", json={"text": "x", "txt": "y"})
        assert typo.status_code == 400 and typo.json()["error_id"] == "unknown-field"
        assert (await admin.http.put(f"{base}/queues/q.x/script", json={"text": "x"})).status_code == 400

        made = await admin.http.post(f"{base}/faq", json={"id": "juminhyo", "title": "住民票の写しの請求",
                                                           "body": "窓口かオンラインで申請できます", "tags": ["証明書"]})
        assert made.status_code == 201
        assert (await admin.http.post(f"{base}/faq", json={"id": "juminhyo", "title": "x"})).status_code == 409
        other = (await admin.http.post(f"{base}/faq", json={"title": "ゴミの分別", "body": "燃えるごみは月曜"})).json()
        assert len(other["id"]) == 16
        assert {a["id"] for a in (await admin.http.get(f"{base}/faq")).json()["items"]} == {"juminhyo", other["id"]}

        agent = clients(config, authority.issue(Claims("a1", "user", tenant, ("agent",))))
        found = (await agent.http.get(f"{base}/agents/a1/faq", params={"q": "じゅうみんひょう"})).json()["items"]
        assert found == []           # a reading is not the kanji: no dictionary, only folding
        for typed in ("住民票", "ｵﾝﾗｲﾝ", "おんらいん", "写しの"):
            found = (await agent.http.get(f"{base}/agents/a1/faq", params={"q": typed})).json()["items"]
            assert [a["id"] for a in found] == ["juminhyo"], typed
        assert [a["id"] for a in (await agent.http.get(f"{base}/agents/a1/faq", params={"q": "ごみ"})).json()["items"]] \
            == [other["id"]]
        pop = (await agent.http.get(f"{base}/agents/a1/pop", params={"queue_id": "q1"})).json()
        assert pop["script"] is None          # a1 is no member of q1: no script
        await admin.put(f"/api/v1/tenants/{tenant}/agents/a1", {"queues": ["q1"]})
        pop = (await agent.http.get(f"{base}/agents/a1/pop", params={"queue_id": "q1"})).json()
        assert pop["script"]["text"] == "お電話ありがとうございます。"

        # the agent reads; it neither edits nor reads another agent's desk
        assert (await agent.http.put(f"{base}/queues/q1/script", json={"text": "x"})).status_code == 403
        assert (await agent.http.post(f"{base}/faq", json={"title": "x"})).status_code == 403
        assert (await agent.http.get(f"{base}/agents/a2/faq", params={"q": "x"})).status_code == 403
        foreign = clients(config, authority.issue(Claims("a1", "user", "elsewhere", ("agent",))))
        assert (await foreign.http.get(f"{base}/agents/a1/faq", params={"q": "x"})).status_code == 403

        assert (await admin.http.delete(f"{base}/faq/juminhyo")).status_code == 204
        assert (await admin.http.delete(f"{base}/faq/juminhyo")).status_code == 404
        assert (await admin.http.delete(f"{base}/queues/q1/script")).status_code == 204
        assert (await admin.http.get(f"{base}/queues/q1/script")).json()["error_id"] == "unknown-script"
        long = await agent.http.get(f"{base}/agents/a1/faq", params={"q": "あ" * 201})
        assert long.status_code == 400 and long.json()["details"]["field"] == "q"


async def test_pop_finds_the_callers_contact_in_the_directory(make_config: Any, clients: Any, authority: Any,
                                                              tenant: str, seats: Any) -> None:
    await seats.change("POST", f"/api/v1/tenants/{tenant}/phonebook",
                       {"name": "佐藤 花子", "name_kana": "サトウ ハナコ", "organization": "市民課",
                        "numbers": ["0258-12-3456"]})
    config = make_config(directory_http=seats.url)
    async with running(main, config):
        admin = clients(config)
        t = f"/api/v1/tenants/{tenant}"
        await admin.put(f"{t}/queues/q1", {})
        await admin.put(f"{t}/agents/a1", {"queues": ["q1"]})
        agent = clients(config, authority.issue(Claims("a1", "user", tenant, ("agent",))))
        await _offer(admin, tenant, "c1", "0258123456")
        pop = (await agent.http.get(f"{t}/agents/a1/pop")).json()
        assert pop["number"] == "0258123456" and pop["call_id"] == "c1" and pop["queue_id"] == "q1"
        assert pop["contacts_error"] == "" and [c["name"] for c in pop["contacts"]] == ["佐藤 花子"]
        assert pop["contacts"][0]["organization"] == "市民課"
        await admin.stub.EndCall(acd_pb2.EndCallRequest(tenant=tenant, call_uuid="c1"), metadata=admin.metadata)
        await _offer(admin, tenant, "c2", "0312345678", agent_id="")
        nobody = (await agent.http.get(f"{t}/agents/a1/pop")).json()   # c1 in wrap-up: still its caller
        assert nobody["number"] == "0258123456" and nobody["call_id"] == "c1"


async def test_pop_without_a_directory_answers_within_the_timeout(make_config: Any, clients: Any, authority: Any,
                                                                 tenant: str) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)          # accepts connections, never answers
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()              # nothing listens there
    try:
        for n, url in enumerate((f"http://127.0.0.1:{silent.getsockname()[1]}", f"http://127.0.0.1:{dead_port}"), 1):
            config = make_config(directory_http=url, analytics_http=url, desktop_peer_timeout=0.5)
            async with running(main, config):
                admin = clients(config)
                await admin.put(f"/api/v1/tenants/{tenant}/queues/q1", {})
                await admin.put(f"/api/v1/tenants/{tenant}/agents/a{n}", {"queues": ["q1"]})
                await admin.http.put(f"/api/v1/tenants/{tenant}/queues/q1/script", json={"text": "台本"})
                agent = clients(config, authority.issue(Claims(f"a{n}", "user", tenant, ("agent",))))
                await _offer(admin, tenant, f"c{n}", "0258123456", agent_id=f"a{n}", device=f"d{n}")
                started = time.monotonic()
                pop = (await agent.http.get(f"/api/v1/tenants/{tenant}/agents/a{n}/pop",
                                            params={"queue_id": "q1"})).json()
                took = time.monotonic() - started
                print(f"pop with the directory at {url}: {took:.2f} s, {pop['contacts_error']}")
                assert pop["contacts"] == [] and pop["contacts_error"] and pop["script"]["text"] == "台本"
                assert pop["calls"] == [] and pop["calls_error"]          # both asked at once: one timeout
                assert took < 2.0
                await asyncio.sleep(0)
    finally:
        silent.close()


async def test_desktop_shows_contact_script_faq_and_phonebook(make_config: Any, clients: Any, authority: Any,
                                                              tenant: str, seats: Any, browser_page: Any) -> None:
    """In Chromium: the screen pop of a ringing call shows the caller's phonebook contact (a name
    with markup shown as text) and the queue's talk script; the FAQ found as typed in half-width
    katakana; the phonebook searched by reading with a dial button per number."""
    from hibiki.acd.v1 import acd_pb2
    from hibiki.events.v1 import call_pb2
    await seats.change("POST", f"/api/v1/tenants/{tenant}/phonebook",
                       {"name": "佐藤 花子<img src=x onerror=window.pwned=1>", "name_kana": "さとう はなこ",
                        "organization": "市民課", "numbers": ["0258-12-3456"]})
    config = make_config(directory_http=seats.url)
    async with running(main, config):
        admin = clients(config)
        t = f"/api/v1/tenants/{tenant}"
        await admin.put(f"{t}/queues/water", {})
        await admin.put(f"{t}/agents/a1", {"queues": ["water"]})
        await admin.http.put(f"{t}/queues/water/script", json={"title": "水道", "text": "お電話ありがとうございます。水道局です。"})
        await admin.http.post(f"{t}/faq", json={"id": "move", "title": "水道のオンライン申請", "body": "使用開始の3日前までに"})
        token = authority.issue(Claims("a1", "user", tenant, ("agent",)))
        page = browser_page.page
        await page.goto(f"http://127.0.0.1:{config.port}/desktop#tenant={tenant}&agent=a1&device=seat-1&token={token}")
        await page.click("#signin-button")
        await page.wait_for_selector('#state[data-state="not_ready"]')
        await page.click("#ready")
        await page.wait_for_selector('#state[data-state="ready"]')
        steps = [call_pb2.IvrStep(menu_id="main", menu_name="トップ", digits="2", branch="queue")]
        await admin.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="water",
                                                        caller_number="0258123456", ivr_path=steps),
                                 metadata=admin.metadata)
        await page.wait_for_selector("#pop-contact .contact")
        contact = await page.text_content("#pop-contact") or ""
        assert "佐藤 花子<img" in contact and "さとう はなこ" in contact and "市民課" in contact
        assert await page.evaluate("document.querySelectorAll('#pop img').length === 0 && !window.pwned")
        assert await page.text_content("#pop-script") == "お電話ありがとうございます。水道局です。"
        assert await page.text_content("#pop-history") == "通話履歴を参照できません"   # no analytics configured
        await browser_page.screenshot("desktop-pop-contact-script")

        await page.fill("#faq-q", "ｵﾝﾗｲﾝ")
        await page.click("#faq-go")
        await page.wait_for_selector("#faq-results summary")
        assert await page.text_content("#faq-results summary") == "水道のオンライン申請"
        await page.fill("#book-q", "サトウ")
        await page.press("#book-q", "Enter")
        await page.wait_for_selector("#book-results button.dial")
        assert await page.get_attribute("#book-results button.dial", "data-number") in ("0258123456", "0258-12-3456")
        await page.click("#book-results button.dial")       # no softphone registered: it says so
        await page.wait_for_function("document.querySelector('#notice').textContent.length > 0")
        await browser_page.screenshot("desktop-faq-phonebook")
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console


async def test_pop_attacks_read_no_other_callers_history(make_config: Any, clients: Any, authority: Any,
                                                         tenant: str, seats: Any) -> None:
    """An agent asks the pop for another number, for another agent's call, and for a number while
    idle: not one history row comes back and analytics is never asked for those numbers; the pop
    of its own caller still shows that caller's previous calls. Analytics here is a small HTTP
    server that answers a row for any number it is asked and records what it was asked."""
    import json
    from urllib.parse import parse_qs, urlsplit
    asked: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        number = parse_qs(urlsplit(head.split()[1]).query).get("number", [""])[0]
        asked.append(number)
        body = json.dumps({"calls": [{"call_id": f"old-{number}", "kind": "inbound", "other_number": number,
                                      "start_time": "2026-12-01T00:00:00Z", "talk_seconds": 60}]}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     + f"content-length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = make_config(directory_http=seats.url, analytics_http=f"http://127.0.0.1:{port}")
        async with running(main, config):
            admin = clients(config)
            t = f"/api/v1/tenants/{tenant}"
            await admin.put(f"{t}/queues/q1", {})
            for a in ("a1", "a2"):
                await admin.put(f"{t}/agents/{a}", {"queues": ["q1"]})
            a1 = clients(config, authority.issue(Claims("a1", "user", tenant, ("agent",))))
            rows = 0
            idle = await a1.http.get(f"{t}/agents/a1/pop", params={"number": "0399990000", "queue_id": "q1"})
            assert idle.status_code == 200 and idle.json()["number"] == ""
            rows += len(idle.json()["calls"])
            await _offer(admin, tenant, "c2", "0355550000", agent_id="a2", device="d2")   # a2's caller
            other_agent = await a1.http.get(f"{t}/agents/a2/pop")
            assert other_agent.status_code == 403
            await _offer(admin, tenant, "c1", "0258123456")                              # a1's own caller
            other_number = (await a1.http.get(f"{t}/agents/a1/pop", params={"number": "0355550000"})).json()
            rows += sum(1 for c in other_number["calls"] if c["other_number"] != "0258123456")
            assert other_number["number"] == "0258123456"
            print(f"pop attacks: {rows} history rows of other numbers returned; analytics asked for {sorted(set(asked))}")
            assert rows == 0 and asked and set(asked) == {"0258123456"}
            own = (await a1.http.get(f"{t}/agents/a1/pop")).json()
            assert [c["call_id"] for c in own["calls"]] == ["old-0258123456"] and own["calls_error"] == ""
    finally:
        server.close()


async def test_desk_settings_per_tenant_validated_and_read_by_the_agent(make_config: Any, clients: Any, authority: Any,
                                                                         tenant: str, seats: Any) -> None:
    """Case types and reasons: the defaults until set; set whole by the ``acd`` role, refused with
    the field at fault for a bad id, label (length, characters), count or a repeat; the agent reads
    its tenant's, not another agent's path, and cannot change them; DELETE restores the defaults."""
    config = make_config(directory_http=seats.url)
    async with running(main, config):
        admin = clients(config)
        await admin.put(f"/api/v1/tenants/{tenant}/queues/q1", {})
        await admin.put(f"/api/v1/tenants/{tenant}/agents/a1", {"queues": ["q1"]})
        base = f"/api/v1/tenants/{tenant}/desk_settings"
        first = (await admin.http.get(base)).json()
        assert first["stored"] is False and [c["id"] for c in first["case_types"]] == ["inquiry", "procedure", "complaint", "other"]
        assert [c["id"] for c in first["not_ready_reasons"]] == ["meeting", "training", "paperwork", "other"]
        mine = {"case_types": [{"id": "tax", "label": " 税の相談 ", "label_en": "Tax"}, {"id": "gomi", "label": "ごみ収集"}],
                "not_ready_reasons": [{"id": "callback", "label": "折り返し電話", "label_en": "Call-back"}],
                "break_reasons": [{"id": "lunch", "label": "昼休憩"}]}
        saved = await admin.http.put(base, json=mine)
        assert saved.status_code == 200, saved.text
        assert saved.json()["case_types"][0] == {"id": "tax", "label": "税の相談", "label_en": "Tax"}
        bad_cases: list[tuple[dict[str, Any], str]] = [
            ({**mine, "case_types": [{"id": "a b", "label": "x"}]}, "case_types.0.id"),
            ({**mine, "case_types": [{"id": "a", "label": "x" * 41}]}, "case_types.0.label"),
            ({**mine, "case_types": [{"id": "a", "label": "改\n行"}]}, "case_types.0.label"),
            ({**mine, "case_types": [{"id": "a", "label": "見えない\u200b"}]}, "case_types.0.label"),
            ({**mine, "case_types": [{"id": "a", "label": "   "}]}, "case_types.0"),
            ({**mine, "case_types": [{"id": "a", "label": "x", "label_en": "\x07"}]}, "case_types.0.label_en"),
            ({**mine, "case_types": []}, "case_types"),
            ({**mine, "case_types": [{"id": f"c{i}", "label": f"種別{i}"} for i in range(21)]}, "case_types"),
            ({**mine, "case_types": [{"id": "a", "label": "x"}, {"id": "a", "label": "y"}]}, "case_types"),
            ({**mine, "case_types": [{"id": "a", "label": "x"}, {"id": "b", "label": "x"}]}, "case_types"),
            ({**mine, "case_types": [{"id": "a", "label": "x", "colour": "red"}]}, "case_types.0.colour"),
            ({k: v for k, v in mine.items() if k != "break_reasons"}, "break_reasons"),
        ]
        for body, field in bad_cases:
            refused = await admin.http.put(base, json=body)
            assert refused.status_code == 400, (field, refused.text)
            assert refused.json()["details"]["field"] == field, (field, refused.json())
        kept = (await admin.http.get(base)).json()          # nothing refused was stored
        assert kept["stored"] is True and [c["id"] for c in kept["case_types"]] == ["tax", "gomi"]

        agent = clients(config, authority.issue(Claims("a1", "user", tenant, ("agent",))))
        read = (await agent.http.get(f"/api/v1/tenants/{tenant}/agents/a1/desk_settings")).json()
        assert read["not_ready_reasons"] == [{"id": "callback", "label": "折り返し電話", "label_en": "Call-back"}]
        assert (await agent.http.get(f"/api/v1/tenants/{tenant}/agents/a2/desk_settings")).status_code == 403
        assert (await agent.http.put(base, json=mine)).status_code == 403
        assert (await agent.http.get("/api/v1/tenants/other/agents/a1/desk_settings")).status_code == 403
        # the agent's state and disposition take only the tenant's ids
        agents = f"/api/v1/tenants/{tenant}/agents/a1"
        await _offer(admin, tenant, "c1", "0258000000")
        await admin.stub.EndCall(acd_pb2.EndCallRequest(tenant=tenant, call_uuid="c1"), metadata=admin.metadata)
        for case_type in ("inquiry", "税の相談", "TAX"):
            refused = await agent.http.post(f"{agents}/disposition", json={"call_uuid": "c1", "case_type": case_type})
            assert refused.status_code == 400 and refused.json()["error_id"] == "unknown-case-type", refused.text
            assert refused.json()["details"]["field"] == "case_type"
        assert (await agent.http.get(f"{agents}/state")).json()["pending_disposition"] == "c1"
        saved = await agent.http.post(f"{agents}/disposition", json={"call_uuid": "c1", "case_type": "tax"})
        assert saved.status_code == 200 and saved.json()["pending_disposition"] == "", saved.text
        wrong = await agent.http.post(f"{agents}/state", json={"state": "not_ready", "reason": "lunch"})
        assert wrong.status_code == 400 and wrong.json()["error_id"] == "unknown-reason"
        assert (await agent.http.post(f"{agents}/state", json={"state": "break", "reason": "callback"})).status_code == 400
        paused = await agent.http.post(f"{agents}/state", json={"state": "not_ready", "reason": "callback"})
        assert paused.status_code == 200 and paused.json()["reason"] == "callback"
        assert (await agent.http.post(f"{agents}/state", json={"state": "break", "reason": "lunch"})).json()["reason"] == "lunch"
        assert (await agent.http.post(f"{agents}/state", json={"state": "not_ready"})).status_code == 200  # no reason

        assert (await admin.http.delete(base)).status_code == 204
        assert (await admin.http.get(base)).json()["stored"] is False
        back = await agent.http.post(f"{agents}/state", json={"state": "not_ready", "reason": "meeting"})
        assert back.status_code == 200, back.text         # the defaults again


def _menus(**change: Any) -> dict[str, Any]:
    one = [{"id": "a", "label": "あ"}]
    return {"case_types": one, "not_ready_reasons": one, "break_reasons": one, **change}


@given(st.text(max_size=50), st.text(max_size=50))
@settings(max_examples=300, deadline=None)
def test_a_label_is_accepted_exactly_when_it_is_one_clean_line(label: str, label_en: str) -> None:
    """Any text: refused with a ValidationError (never another exception), or kept trimmed, 1-40
    characters (English 0-40), with no control, format, separator or unassigned character but the space."""
    def clean(text: str, least: int) -> bool:
        raw_ok = len(text) <= 40 and (least == 0 or len(text) >= 1)
        text = text.strip()
        return raw_ok and least <= len(text) and \
            all(c == " " or unicodedata.category(c)[0] not in ("C", "Z") for c in text)
    try:
        kept = DeskSettingsIn.model_validate(_menus(case_types=[{"id": "x", "label": label, "label_en": label_en}]))
    except ValidationError:
        assert not (clean(label, 1) and clean(label_en, 0))
        return
    assert clean(label, 1) and clean(label_en, 0)
    assert (kept.case_types[0].label, kept.case_types[0].label_en) == (label.strip(), label_en.strip())
