"""The wallboard on a real FreeSWITCH: calls from the carrier to a DID, through an IVR with a
Japanese TTS greeting and an RFC 2833 digit, into a queue; an agent's baresip phone answers one,
the other caller gives up while the agent is in after-call work. The page in headless Chromium
(analytics as ``hibiki up`` runs it) shows exactly these calls, each within 2 s of the ACD's
event, and a screenshot is kept (test-artifacts/screenshots/wallboard-real-switch.png)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hibiki.events.v1 import acd_pb2
from support.browser import BrowserPage
from support.switch.bench import SwitchBench

T = "wb"
NUMBER = "0762209999"


async def page_shows(page: Any, expected: dict[str, str], since: float, within: float = 2.0) -> float:
    while True:
        seen = {key: (await page.text_content(f"#{key}") or "").strip() for key in expected}
        if seen == expected:
            return time.time() - since
        if time.time() - since > within + 5:
            raise AssertionError(f"the page shows {seen}, not {expected}")
        await asyncio.sleep(0.05)


def occurred(data: bytes, kind: Any) -> float:
    return float(kind.FromString(data).meta.occurred_at.ToNanoseconds()) / 1e9


async def test_the_wall_shows_the_calls_of_a_real_switch(bench: SwitchBench, browser_page: BrowserPage) -> None:
    bench.tenant(T)
    seat = bench.extension(T, "7101")[0]
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "madoguchi", "name": "窓口", "root_menu": "main",
        "menus": [{"id": "main", "name": "トップ", "greeting": {"text": "担当者におつなぎします。1を押してください。"},
                   "choices": {"1": {"queue": {"queue_id": "water"}}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": NUMBER, "target_kind": "ivr", "target": "madoguchi"})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/water", {"offer_timeout_seconds": 8, "service_level_seconds": 20})
    bench.acd.put(f"/api/v1/tenants/{T}/agents/a1", {"skills": {}, "queues": ["water"]})
    bench.acd.put(f"/api/v1/tenants/{T}/agents/a2", {"skills": {}, "queues": ["water"]})
    token = bench.stack.token("wall-1", T, ("wallboard",))
    url = f"http://127.0.0.1:{bench.stack.port('ANALYTICS_PORT')}/wallboard/{T}"
    page = browser_page.page
    await page.goto(f"{url}#token={token}")
    await page.wait_for_selector('#status[data-state="live"]', timeout=15000)
    await page_shows(page, {"offered": "0", "ready": "0", "logged_out": "2"}, time.time())

    phone = bench.baresip(seat)                                   # answers by itself
    bench.acd.post(f"/api/v1/tenants/{T}/agents/a1/login", {"device": "7101", "ready": True})
    await page_shows(page, {"ready": "1", "logged_out": "1"}, time.time())

    mark = bench.events.mark()
    first = bench.carrier_call(NUMBER, caller="0312345678", digits="1", talk_ms=3000, background=True,
                               before_digits_ms=3000)
    await asyncio.to_thread(phone.wait, "CALL_ESTABLISHED", timeout=40)
    answered = (await asyncio.to_thread(bench.events.wait, f"hibiki.{T}.acd.answered", mark))[0]
    answered_in = await page_shows(page, {"offered": "1", "answered": "1", "waiting": "0", "talking": "1"},
                                   occurred(answered.data, acd_pb2.QueueCallAnswered))
    assert (await asyncio.to_thread(first.result)).ok   # type: ignore[union-attr]
    ended = (await asyncio.to_thread(bench.events.wait, f"hibiki.{T}.acd.ended", mark))[0]
    await page_shows(page, {"after_call_work": "1", "service_level": "100%"},
                     occurred(ended.data, acd_pb2.QueueCallEnded))
    assert "20s" in (await page.text_content("#service_level-note") or "")     # the queue's own threshold

    mark = bench.events.mark()                                    # a1 is in after-call work: this caller waits
    second = bench.carrier_call(NUMBER, caller="0398765432", digits="1", talk_ms=6000, background=True,
                                before_digits_ms=3000)
    queued = (await asyncio.to_thread(bench.events.wait, f"hibiki.{T}.acd.queued", mark, 30))[0]
    queued_in = await page_shows(page, {"offered": "2", "waiting": "1"}, occurred(queued.data, acd_pb2.CallQueued))
    await asyncio.sleep(1.5)
    await browser_page.screenshot("wallboard-real-switch-waiting")
    left = (await asyncio.to_thread(bench.events.wait, f"hibiki.{T}.acd.left", mark, 30))[0]
    left_in = await page_shows(page, {"offered": "2", "answered": "1", "abandoned": "1", "waiting": "0",
                                      "answer_rate": "50%"}, occurred(left.data, acd_pb2.CallLeftQueue))
    assert (await asyncio.to_thread(second.result)).ok   # type: ignore[union-attr]
    await browser_page.screenshot("wallboard-real-switch")
    bench.acd.post(f"/api/v1/tenants/{T}/agents/a1/logout", {})
    print(f"wallboard on the real switch, event to page: answered {answered_in:.3f} s, queued {queued_in:.3f} s, "
          f"abandoned {left_in:.3f} s")
    assert max(answered_in, queued_in, left_in) <= 2.0
