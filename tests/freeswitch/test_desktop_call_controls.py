"""The agent desktop's in-call controls on the real switch, in headless Chromium: a desk phone
(baresip) calls the agent's browser softphone; the agent answers in the page, sends DTMF (FreeSWITCH
sees the RFC 2833 digits on the browser's leg), holds and resumes (FreeSWITCH's CHANNEL_HOLD and
CHANNEL_UNHOLD), mutes and unmutes (the page's pressed state and JsSIP's), then blind-transfers the
caller to a third phone, which rings and talks to the caller while the browser's call ends.
Screenshot: test-artifacts/screenshots/desktop-controls-held.png."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from support.browser import BrowserPage
from support.softphone import JSSIP
from support.switch.bench import SwitchBench

T = "dc"


async def until(page: Any, script: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await page.evaluate(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{script} still false after {timeout} s")
        await asyncio.sleep(0.1)


def call_is(state: str) -> str:
    return f"() => document.querySelector('#call-status').dataset.state === '{state}'"


async def test_dtmf_hold_mute_and_blind_transfer_from_the_page(bench: SwitchBench, media_page: BrowserPage) -> None:
    if not JSSIP.is_file():
        pytest.skip(f"{JSSIP} is missing: ./dev fetches it from npm")
    bench.tenant(T)
    seat = bench.extension(T, "7401")[0]
    caller = bench.baresip(bench.extension(T, "7402")[0])
    other = bench.baresip(bench.extension(T, "7403")[0], auto_answer=False)
    bench.acd.put(f"/api/v1/tenants/{T}/agents/a1", {"skills": {}, "queues": []})
    token = bench.stack.token("a1", T, ("agent",))
    page = media_page.page
    await page.goto(f"http://127.0.0.1:{bench.stack.port('ACD_PORT')}/desktop#tenant={T}&agent=a1&device=7401&token={token}")
    await page.fill("#sip-password", seat.password)
    await page.click("#signin-button")
    await until(page, "() => document.querySelector('#phone-status').dataset.state === 'registered'")

    esl = bench.fs.esl()
    esl.subscribe("DTMF", "CHANNEL_HOLD", "CHANNEL_UNHOLD")
    try:
        caller.dial("7401")
        await until(page, call_is("incoming"))
        await page.click("#answer")
        await until(page, call_is("talking"))
        await asyncio.to_thread(caller.wait, "CALL_ESTABLISHED", 10)

        await page.fill("#dtmf", "12#")
        await page.click("#dtmf-send")
        digits: list[str] = []
        while len(digits) < 3:                                         # the digits FreeSWITCH read from the browser
            event = await asyncio.to_thread(esl.wait_event, "DTMF", 10)
            if event.get("Channel-Name").endswith(".invalid"):
                digits.append(event.get("DTMF-Digit"))
        assert digits == ["1", "2", "#"], digits

        await page.click("#hold")
        held = await asyncio.to_thread(esl.wait_event, "CHANNEL_HOLD", 10)
        assert held.get("Channel-Name").endswith(".invalid")          # the browser's leg
        await until(page, "() => document.querySelector('#hold').getAttribute('aria-pressed') === 'true'")
        await media_page.screenshot("desktop-controls-held")
        await page.click("#hold")
        await asyncio.to_thread(esl.wait_event, "CHANNEL_UNHOLD", 10)

        await page.click("#mute")
        assert await page.get_attribute("#mute", "aria-pressed") == "true"
        await page.click("#mute")
        assert await page.get_attribute("#mute", "aria-pressed") == "false"

        await page.fill("#transfer-to", "7403")
        await page.click("#transfer")
        ring = await asyncio.to_thread(other.wait, "CALL_INCOMING", 15)
        assert "7402" in ring.peer, ring.data                        # the caller, not the agent
        await until(page, call_is("ended"))
        other.answer()
        await asyncio.to_thread(other.wait, "CALL_ESTABLISHED", 10)
        await asyncio.to_thread(other.wait, "CALL_RTPESTAB", 10)
        other.hangup()
    finally:
        esl.close()
    print(f"desktop controls: DTMF {digits}, hold/unhold seen by FreeSWITCH, blind transfer to 7403 rang from {ring.peer}")
