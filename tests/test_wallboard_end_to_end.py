"""The live wallboard (CC-07) across the services, nothing stubbed: the directory, callcontrol and
the ACD on the FreeSWITCH emulator (calls through the IVR into the queue, as in
test_acd_end_to_end), analytics run as an operator runs it (``hibiki serve analytics``) with real
NATS and chdb, and the page in headless Chromium (Debian's ``chromium``). The numbers on the page
equal the calls the test made and change within 2 s of each event; the page reconnects by itself
when analytics restarts, and the restarted analytics shows the same day (restored from ClickHouse
and the ACD). Screenshots are saved under test-artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from support.browser import BrowserPage
from support.served import Served, serve
from support.servers import NatsServer
from test_acd_end_to_end import Center, center, seat
from tools import ivr_test

pytestmark = pytest.mark.slow


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A NATS of this test's own: on the session's, analytics' new durable consumer would store
    every earlier test's events before this day's, which the restarted board restores."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def analytics(data_dir: Path, nats_url: str, acd_url: str, port: int | None = None,
                    replay_seconds: int = 300) -> AsyncIterator[Served]:
    """``hibiki serve analytics``, started and stopped in a thread: the ACD and callcontrol run in
    this test's event loop, which must keep turning meanwhile (analytics asks the ACD as it starts)."""
    process = serve("analytics", "127.0.0.1", data_dir, {
        "HIBIKI_AUTH_SECRET": os.environ["HIBIKI_AUTH_SECRET"], "HIBIKI_NATS_URL": nats_url,
        "HIBIKI_ANALYTICS_ACD_URL": acd_url, "HIBIKI_ANALYTICS_WALLBOARD_REPLAY_SECONDS": str(replay_seconds)}, port)
    served = await asyncio.to_thread(process.__enter__)
    try:
        yield served
    finally:
        await asyncio.to_thread(process.__exit__, None, None, None)


async def page_shows(page: Any, expected: dict[str, str], since: float, within: float = 2.0) -> float:
    """Seconds from ``since`` (an event's own time) until every figure reads as expected."""
    while True:
        seen = {key: (await page.text_content(f"#{key}") or "").strip() for key in expected}
        if seen == expected:
            return time.time() - since
        if time.time() - since > within + 3:
            raise AssertionError(f"the page shows {seen}, not {expected}")
        await asyncio.sleep(0.05)


def occurred(message: Any) -> float:
    return float(message.meta.occurred_at.ToNanoseconds()) / 1e9


async def ivr_test_mode_call(c: Center) -> Any:
    """A call of the IVR test mode (``./dev ivr-test``: ``hibiki_ivr_at`` set by its dialplan) that
    takes the IVR's keys to the queue: callcontrol keeps it out of the ACD, on hold music."""
    call = await c.emu.place_call(
        destination="hibiki-ivr-test", caller_id_number="09000000000", context="public",
        dialplan_xml=ivr_test.dialplan(c.tenant, "suido", "2026-12-07T12:00:00+09:00",
                                       f"127.0.0.1:{c.callcontrol.esl_port}"))
    keys = iter(["1", "1", "3"])

    def press(event: Any) -> None:
        if (event.name == "CHANNEL_EXECUTE" and event.get("Unique-ID") == call.uuid
                and event.get("Application") == "play_and_get_digits"):
            key = next(keys, None)
            if key is not None:
                call.send_dtmf(key)

    c.emu.switch.sinks.append(press)
    await call.wait_for(lambda ch: ("playback", "local_stream://default") in ch.executed)
    return call


@contextlib.asynccontextmanager
async def wall(browser_page: BrowserPage, url: str, token: str) -> AsyncIterator[Any]:
    page = browser_page.page
    await page.goto(f"{url}#token={token}")
    await page.wait_for_selector('#status[data-state="live"]', timeout=15000)
    yield page


async def test_the_wall_shows_the_calls_made_within_two_seconds_and_survives_a_restart(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
        browser_page: BrowserPage) -> None:
    queues = [{"id": "night"}, {"id": "water", "service_level_seconds": 15}]
    async with center(tmp_path, nats_server, nats_client, authority, queues) as c:
        acd_url = f"http://127.0.0.1:{c.acd_config.port}"
        wall_token = authority.issue(Claims("wall-1", "user", c.tenant, ("wallboard",)), 365 * 86400)
        latencies: dict[str, float] = {}
        async with httpx.AsyncClient(base_url=acd_url, headers={"Authorization": f"Bearer {wall_token}"}) as acd:
            refused = await acd.get(f"/api/v1/tenants/{c.tenant}/queues")   # the wall's token opens nothing else
            assert refused.status_code == 403, refused.text
        async with analytics(tmp_path / "analytics", nats_server.url, acd_url) as served:
            url = f"{served.url}/wallboard/{c.tenant}"
            async with wall(browser_page, url, wall_token) as page:
                assert await page.text_content("#title") == f"ウォールボード — {c.tenant}"
                await page_shows(page, {"offered": "0", "waiting": "0", "ready": "0", "logged_out": "3"}, time.time())

                c.endpoints[seat("a1")] = 0.5            # a1 answers, talks half a second, hangs up
                await c.login("a1")
                ready = await c.bus.wait("state_changed", lambda m: m.agent_id == "a1" and m.current == 2)
                latencies["agent ready"] = await page_shows(page, {"ready": "1", "logged_out": "2"}, occurred(ready))

                first = await c.dial(["1", "1", "3"])
                ended = await c.bus.wait("ended", lambda m: m.meta.call_uuid == first.uuid)
                await asyncio.wait_for(first.finished, 10)
                latencies["answered call"] = await page_shows(
                    page, {"offered": "1", "answered": "1", "abandoned": "0", "waiting": "0", "after_call_work": "1",
                           "service_level": "100%", "answer_rate": "100%"}, occurred(ended))

                second = await c.dial(["1", "1", "3"])  # a1 is in after-call work: the caller waits
                queued = await c.bus.wait("queued", lambda m: m.meta.call_uuid == second.uuid)
                latencies["waiting call"] = await page_shows(page, {"offered": "2", "waiting": "1"}, occurred(queued))
                waited = await page.text_content("#longest_wait")
                await asyncio.sleep(2.2)
                assert await page.text_content("#longest_wait") != waited        # the longest wait ticks
                assert await page.get_attribute('[data-figure="waiting"]', "data-level") in ("warn", "bad")
                await browser_page.screenshot("wallboard-caller-waiting")

                second.hangup_by_caller()
                left = await c.bus.wait("left", lambda m: m.meta.call_uuid == second.uuid)
                latencies["abandoned call"] = await page_shows(
                    page, {"offered": "2", "answered": "1", "abandoned": "1", "waiting": "0", "answer_rate": "50%"},
                    occurred(left))
                await browser_page.screenshot("wallboard-ja")

                testing = await ivr_test_mode_call(c)       # IVR test mode: never counted
                await asyncio.sleep(1.5)
                assert await page.text_content("#offered") == "2" and await page.text_content("#waiting") == "0"
                testing.hangup_by_caller()
                await asyncio.wait_for(testing.finished, 10)

                await page.keyboard.press("l")          # English, with the keyboard alone
                assert await page.text_content('[data-figure="waiting"] h2') == "Calls waiting"
                assert await page.evaluate("document.documentElement.lang") == "en"
                await browser_page.screenshot("wallboard-en")
                await page.keyboard.press("l")
                assert await page.text_content('[data-figure="waiting"] h2') == "待ち呼"

                async with httpx.AsyncClient(base_url=served.url, headers={"Authorization": f"Bearer {wall_token}"}) as http:
                    board = (await http.get(f"/api/v1/tenants/{c.tenant}/wallboard")).json()
                    water = (await http.get(f"/api/v1/tenants/{c.tenant}/wallboard", params={"queue": "water"})).json()
        print("wallboard latency, event to page (s):", {k: round(v, 3) for k, v in latencies.items()})
        assert all(v <= 2.0 for v in latencies.values()), latencies
        calls = board["calls"]
        assert (calls["offered"], calls["answered"], calls["abandoned"], calls["waiting"]) == (2, 1, 1, 0)
        assert calls["answer_rate"] == 0.5 and calls["answered_in_target"] == 1
        assert water["calls"]["offered"] == 2 and water["service_level_seconds"] == 15
        assert board["service_level_seconds"] == 15           # both queues have 15 s
        assert board["agents"]["after_call_work"] == 1 and board["agents"]["logged_out"] == 2

        # analytics restarts: the page says it lost the connection, reconnects by itself, and the
        # restarted analytics has restored the day from ClickHouse (it reads none of the event
        # stream's past here) and the agents from the ACD
        page = browser_page.page
        await page.wait_for_selector('#status[data-state="lost"]', timeout=10000)
        assert await page.text_content("#status") == "切断：再接続します"
        async with analytics(tmp_path / "analytics", nats_server.url, acd_url, port=int(served.url.rsplit(":", 1)[1]),
                       replay_seconds=0):
            await page.wait_for_selector('#status[data-state="live"]', timeout=15000)
            await page_shows(page, {"offered": "2", "answered": "1", "abandoned": "1", "waiting": "0",
                                    "after_call_work": "1", "logged_out": "2"}, time.time(), within=5)
            await browser_page.screenshot("wallboard-after-restart")
            third = await c.dial(["1", "1", "3"])
            queued = await c.bus.wait("queued", lambda m: m.meta.call_uuid == third.uuid)
            await page_shows(page, {"offered": "3", "waiting": "1"}, occurred(queued))
            third.hangup_by_caller()
            await c.bus.wait("left", lambda m: m.meta.call_uuid == third.uuid)
