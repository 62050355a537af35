"""The wallboard's API and page, on analytics run as an operator runs it (``hibiki serve
analytics``) with real NATS and chdb, fed with the protobuf events the ACD publishes, and no ACD
running (the board starts from the events alone: open for service):

- who may read (tenant's admin, supervisor and wallboard tokens; service tokens) and who may not
  (no token, a viewer, an agent, another tenant's admin), ids checked before anything is looked up;
- the page is served without a token, holds no data, and forbids inline code it does not carry;
- the SSE stream sends a new snapshot within 2 s of an event, and a redelivered event (a new
  message id, the same event) changes nothing;
- in headless Chromium, a display without a token asks for one, and everything works with the
  keyboard alone."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.events.v1 import acd_pb2, agent_pb2, meta_pb2
from support.browser import BrowserPage
from support.served import Served, serve
from support.servers import free_port

TENANT = "wb1"


@pytest.fixture
def analytics(tmp_path: Path, nats_server: Any, authority: TokenAuthority) -> Iterator[Served]:
    with serve("analytics", "127.0.0.1", tmp_path / "analytics", {
            "HIBIKI_AUTH_SECRET": os.environ["HIBIKI_AUTH_SECRET"], "HIBIKI_NATS_URL": nats_server.url,
            "HIBIKI_ANALYTICS_ACD_URL": f"http://127.0.0.1:{free_port()}"}) as served:
        yield served


def token(authority: TokenAuthority, role: str, tenant: str = TENANT, kind: str = "user") -> str:
    return authority.issue(Claims(f"{role}-1", kind, tenant, (role,) if role else ()))  # type: ignore[arg-type]


def meta(call_uuid: str = "") -> meta_pb2.EventMeta:
    m = meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=TENANT, source="test", call_uuid=call_uuid)
    m.occurred_at.FromNanoseconds(time.time_ns())
    return m


async def publish(js: Any, event: str, message: Any) -> None:
    domain = "agent" if event == "state_changed" else "acd"
    await bus.publish(js, bus.subject(TENANT, domain, event), message.SerializeToString(), message.meta.id)


async def snapshots(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    name, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            if name == "snapshot":
                yield json.loads(data)
            name, data = "", ""


async def test_who_may_read_the_board(analytics: Served, authority: TokenAuthority) -> None:
    path = f"{analytics.url}/api/v1/tenants/{TENANT}/wallboard"
    async with httpx.AsyncClient(timeout=10) as http:
        def auth(value: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {value}"}

        assert (await http.get(path)).status_code == 401
        for role in ("admin", "supervisor", "wallboard"):
            reply = await http.get(path, headers=auth(token(authority, role)))
            assert reply.status_code == 200, (role, reply.text)
        assert (await http.get(path, headers=auth(token(authority, "", "*", "service")))).status_code == 200
        for refused in (token(authority, "viewer"), token(authority, "agent"), token(authority, "admin", "other"),
                        token(authority, "wallboard", "other")):
            reply = await http.get(path, headers=auth(refused))
            assert reply.status_code == 403 and reply.json()["error_id"] == "forbidden", reply.text
        admin = auth(token(authority, "admin"))
        bad_queue = await http.get(path, params={"queue": "../x"}, headers=admin)
        assert bad_queue.status_code == 400 and bad_queue.json()["details"]["field"] == "queue"
        bad_tenant = await http.get(f"{analytics.url}/api/v1/tenants/a.b/wallboard/stream",
                                    headers=auth(token(authority, "", "*", "service")))
        assert bad_tenant.status_code == 400 and bad_tenant.json()["details"]["field"] == "tenant"
        stream_refused = await http.get(f"{path}/stream", headers=auth(token(authority, "viewer")))
        assert stream_refused.status_code == 403


async def test_the_page_needs_no_token_holds_no_data_and_runs_only_its_own_code(analytics: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        page = await http.get(f"{analytics.url}/wallboard/{TENANT}")
        queue_page = await http.get(f"{analytics.url}/wallboard/{TENANT}/water")
        other = await http.get(f"{analytics.url}/wallboard/{TENANT}/water/x")
    assert page.status_code == 200 and queue_page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and page.headers["referrer-policy"] == "no-referrer"
    assert TENANT not in page.text                      # the tenant comes from the address, as text
    assert other.status_code == 401                     # anything else is behind the token check


async def test_the_stream_pushes_each_event_within_two_seconds_and_counts_it_once(
        analytics: Served, authority: TokenAuthority, nats_client: Any) -> None:
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    headers = {"Authorization": f"Bearer {token(authority, 'wallboard')}"}
    latencies = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=20)) as http, \
            http.stream("GET", f"{analytics.url}/api/v1/tenants/{TENANT}/wallboard/stream", headers=headers) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        boards = snapshots(reply)
        first = await anext(boards)
        assert first["calls"]["offered"] == 0 and first["tenant"] == TENANT

        async def next_where(check: Any, since: float) -> dict[str, Any]:
            while True:
                board = await anext(boards)
                if check(board):
                    latencies.append(time.time() - since)
                    return board

        ready = agent_pb2.AgentStateChanged(meta=meta(), agent_id="a1", previous=agent_pb2.AGENT_STATE_LOGGED_OUT,
                                            current=agent_pb2.AGENT_STATE_READY, queue_ids=["water"])
        await publish(js, "state_changed", ready)
        await next_where(lambda b: b["agents"]["ready"] == 1, time.time())

        call = str(uuid.uuid4())
        queued = acd_pb2.CallQueued(meta=meta(call), queue_id="water", position=1)
        await publish(js, "queued", queued)
        board = await next_where(lambda b: b["calls"]["waiting"] == 1, time.time())
        assert board["calls"]["offered"] == 1 and board["calls"]["oldest_waiting_since"] is not None

        again = acd_pb2.CallQueued()
        again.CopyFrom(queued)
        again.meta.id = str(uuid.uuid4())                # redelivered under a new message id
        await publish(js, "queued", again)
        answered = acd_pb2.QueueCallAnswered(meta=meta(call), queue_id="water", agent_id="a1", wait_ms=20_000)
        await publish(js, "answered", answered)
        board = await next_where(lambda b: b["calls"]["answered"] == 1, time.time())
        calls = board["calls"]
        assert (calls["offered"], calls["waiting"], calls["answered_in_target"]) == (1, 0, 0)   # 20 s > 15 s
        assert calls["service_level"] == 0.0 and calls["answer_rate"] == 1.0
        water = next(q for q in board["queues"] if q["queue"] == "water")
        assert water["calls"]["offered"] == 1 and water["agents"]["ready"] == 1
    print("wallboard stream latency, event to snapshot (s):", [round(v, 3) for v in latencies])
    assert max(latencies) <= 2.0


async def test_a_display_without_a_token_asks_for_one_and_works_with_the_keyboard_alone(
        analytics: Served, authority: TokenAuthority, browser_page: BrowserPage) -> None:
    page, tenant = browser_page.page, "wbkeys"           # a tenant no other test of the session fed
    await page.goto(f"{analytics.url}/wallboard/{tenant}/water")
    await page.wait_for_selector("#token:focus", timeout=10000)          # the token field has the focus
    await page.keyboard.type(token(authority, "viewer", tenant))          # a viewer's token is refused
    await page.keyboard.press("Enter")
    await page.wait_for_selector('#status[data-state="refused"]', timeout=10000)
    assert await page.text_content("#status") == "トークンが拒否されました"
    await page.wait_for_selector("#token:focus", timeout=10000)
    await page.keyboard.type(token(authority, "wallboard", tenant))
    await page.keyboard.press("Enter")
    await page.wait_for_selector('#status[data-state="live"]', timeout=10000)
    assert await page.text_content("#title") == f"ウォールボード — {tenant} / キュー water"
    assert await page.text_content("#offered") == "0"
    assert not await page.evaluate("location.hash")                       # no token in the address
    await page.keyboard.press("Tab")                                      # the language button, by keyboard
    assert await page.evaluate("document.activeElement.id") == "lang"
    await page.keyboard.press("Enter")
    assert await page.text_content("#title") == f"Wallboard — {tenant} / Queue water"
    await browser_page.screenshot("wallboard-queue-en")
    assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
