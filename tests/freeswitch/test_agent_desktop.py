"""The agent desktop on the real switch, in headless Chromium with a fake microphone: the agent
signs in on ``/desktop`` (the ACD's page; an agent token until identity's session lands) with its
softphone device, which registers over SIP/WebSocket; goes ready; a carrier call goes through the
IVR (digit 1) into the queue; the page shows the screen pop (caller, queue, IVR path) while the
call still rings; the agent answers in the browser, RTP flows both ways (FreeSWITCH's counters on
every leg, the page's getStats()); the agent hangs up; the next caller waits in the queue until the
disposition is saved (the Ready button is disabled, the ACD refuses ready), then rings the agent.
Screenshots of each step: test-artifacts/screenshots/desktop-*.png."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from support.browser import BrowserPage
from support.softphone import JSSIP
from support.switch.bench import SwitchBench, rtp_stats

import pytest

T = "dk"
NUMBER = "0762201111"
FIRST, SECOND = "0312345678", "0459876543"


async def until(page: Any, script: str, arg: Any = None, timeout: float = 20.0) -> Any:
    """Polls ``script`` (a JS function of ``arg``) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{script} still false after {timeout} s")
        await asyncio.sleep(0.1)


def text(selector: str) -> str:
    return f"() => (document.querySelector('{selector}').textContent || '').trim()"


def data_state(selector: str, state: str) -> str:
    return f"() => document.querySelector('{selector}').dataset.state === '{state}'"


async def test_agent_takes_a_queue_call_in_the_browser(bench: SwitchBench, media_page: BrowserPage) -> None:
    if not JSSIP.is_file():
        pytest.skip(f"{JSSIP} is missing: ./dev fetches it from npm")
    bench.tenant(T)
    seat = bench.extension(T, "7301")[0]
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "madoguchi", "name": "窓口", "root_menu": "main",
        "menus": [{"id": "main", "name": "トップ", "greeting": {"text": "担当者におつなぎします。1を押してください。"},
                   "choices": {"1": {"queue": {"queue_id": "water"}}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": NUMBER, "target_kind": "ivr", "target": "madoguchi"})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/water", {"offer_timeout_seconds": 20})
    bench.acd.put(f"/api/v1/tenants/{T}/agents/a1", {"skills": {}, "queues": ["water"]})
    token = bench.stack.token("a1", T, ("agent",))
    acd = f"http://127.0.0.1:{bench.stack.port('ACD_PORT')}"
    page = media_page.page
    shots = media_page.screenshot

    await page.goto(f"{acd}/desktop#tenant={T}&agent=a1&device=7301&token={token}")
    assert "#" not in page.url                                     # the token left the address bar
    await page.fill("#sip-password", seat.password)
    await shots("desktop-1-signin")
    await page.click("#signin-button")
    await until(page, data_state("#phone-status", "registered"))
    await until(page, data_state("#feed", "live"))
    assert "7301" in bench.fs.registrations()
    await page.click("#ready")
    await until(page, data_state("#state", "ready"))
    assert bench.acd.get(f"/api/v1/tenants/{T}/agents/a1/state")["state"] == "ready"
    await shots("desktop-2-ready")

    mark = bench.events.mark()
    with bench.hangups() as legs:
        first = bench.carrier_call(NUMBER, caller=FIRST, digits="1", before_digits_ms=3000, speak_after_ms=4000,
                                   remote_bye=True, background=True)
        await until(page, text("#pop-caller"), timeout=40)
        await until(page, data_state("#call-status", "incoming"))
        pop = {key: await page.evaluate(text(f"#pop-{key}")) for key in ("caller", "queue", "ivr")}
        assert pop["caller"] == FIRST and pop["queue"] == "water" and "main" in pop["ivr"], pop
        assert await page.evaluate(data_state("#call-status", "incoming"))   # the pop came before the answer
        await shots("desktop-3-screen-pop")
        await page.keyboard.press("Alt+a")                        # answered from the keyboard
        await until(page, data_state("#call-status", "talking"))
        await until(page, data_state("#state", "talking"))
        # the caller's 7 s of audio (sipp) starts 4 s after its digit: both ways counted while it plays
        seen = await until(page, "async () => { const s = await window.hibikiDesktop.stats(); "
                                 "return s.sent > 100 && s.received > 100 ? s : null; }", timeout=12)
        await shots("desktop-4-talking")
        await page.click("#hangup")
        await until(page, data_state("#state", "after_call_work"))
        assert (await asyncio.to_thread(first.result)).ok        # type: ignore[union-attr]
    print(f"agent desktop: browser sent {seen['sent']}, received {seen['received']} ({seen['codec']}); "
          f"FreeSWITCH legs in/out {[rtp_stats(e) for e in legs]}")
    assert seen["sent"] > 50 and seen["received"] > 50
    # the browser's leg is named after its registration's contact (JsSIP: <random>@<random>.invalid)
    agent_leg = [e for e in legs if e.get("Channel-Name", "").endswith(".invalid")]
    assert len(agent_leg) == 1 and len(legs) == 2, [e.get("Channel-Name") for e in legs]
    assert all(i > 50 and o > 50 for i, o in map(rtp_stats, legs)), [rtp_stats(e) for e in legs]
    assert bench.events.wait(f"hibiki.{T}.acd.answered", mark)

    # wrap-up: the form is there, Ready is not, and the next caller waits
    assert await page.is_visible("#wrap") and await page.is_disabled("#ready")
    mark = bench.events.mark()
    second = bench.carrier_call(NUMBER, caller=SECOND, digits="1", before_digits_ms=3000, speak_after_ms=2500,
                                remote_bye=True, background=True)
    await asyncio.to_thread(bench.events.wait, f"hibiki.{T}.acd.queued", mark, 30)
    await asyncio.sleep(3)
    assert await page.evaluate(text("#pop-caller")) == FIRST        # nothing new offered
    stats = bench.acd.get(f"/api/v1/tenants/{T}/queues/water/stats")
    assert [w["caller"] for w in stats["waiting"]] == [SECOND], stats
    refused = bench.acd.post(f"/api/v1/tenants/{T}/agents/a1/state", {"state": "ready"}, expect=409)
    assert refused["error_id"], refused
    await page.click("#save")                                      # no case type chosen: refused in the page
    assert await page.is_visible("#errors") and await page.is_visible("#case-type-error")
    await shots("desktop-5-wrap-up-required")
    await page.select_option("#case-type", "inquiry")
    await page.fill("#note", "水道料金の問い合わせ")
    await page.click("#save")
    await until(page, f"() => document.querySelector('#pop-caller').textContent === '{SECOND}'", timeout=30)
    await until(page, data_state("#call-status", "incoming"))
    saved = bench.events.wait(f"hibiki.{T}.agent.disposition_saved", mark)
    assert saved
    await shots("desktop-6-next-call")
    await page.select_option("#lang", "en")
    assert await page.evaluate(text("#pop-heading")) == "Caller"
    await shots("desktop-7-english")
    await page.click("#answer")
    await until(page, data_state("#call-status", "talking"))
    await page.click("#hangup")
    await until(page, data_state("#state", "after_call_work"))
    assert (await asyncio.to_thread(second.result)).ok          # type: ignore[union-attr]
    await page.select_option("#case-type", "other")
    await page.click("#save")
    await until(page, data_state("#state", "ready"))
    await page.click("#logout")
    await until(page, "() => !document.querySelector('#signin').hidden")
    assert bench.acd.get(f"/api/v1/tenants/{T}/agents/a1/state")["state"] == "logged_out"
