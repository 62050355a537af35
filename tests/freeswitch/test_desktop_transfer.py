"""Transfers from the agent desktop's softphone on the real switch, in headless Chromium.

A desk phone (baresip 7502) calls the agent's browser softphone (7501). Attended transfer: the
agent types the target (7503, another baresip) and starts a consultation from the keyboard (Alt+T):
the caller is put on hold and FreeSWITCH plays it the project's hold music (``local_stream://default``
on the caller's channel, the ``internal`` profile's hold-music), the page calls the target, the agent
talks to it, then completes: JsSIP sends a REFER with ``Replaces`` (RFC 3891) on the caller's call,
FreeSWITCH bridges the caller to the target (its CHANNEL_BRIDGE pairs their channels) and ends both
browser calls; the caller and the target go on talking (RTP both ways on both, FreeSWITCH's
counters). The browser's leg is published as transferred to 7503 (``call.ended``: result hint
TRANSFERRED, transfer target). A second call: consult, then cancel: the target's call ends, the
caller is taken off hold and talks to the agent again (the page's RTP counters move on).
The keypad's digits reach the far end (baresip's CALL_DTMF_START, RFC 2833).
Screenshots: test-artifacts/screenshots/desktop-transfer-*.png."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from hibiki.analytics.events import IgnoredEvent, InvalidEvent, decode
from hibiki.analytics.ingest import Ingestor
from hibiki.analytics.storage import Store, open_store
from hibiki.events.v1 import call_pb2
from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.softphone import JSSIP
from support.switch.bench import Extension, SwitchBench, rtp_stats

T = "xf"


async def until(page: Any, script: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await page.evaluate(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{script} still false after {timeout} s")
        await asyncio.sleep(0.1)


def state_is(selector: str, state: str) -> str:
    return f"() => document.querySelector('{selector}').dataset.state === '{state}'"


async def received(page: Any) -> int:
    return int((await page.evaluate("() => window.hibikiDesktop.stats()"))["received"])


@pytest.fixture(scope="module")
def tenant(bench: SwitchBench) -> str:
    bench.tenant(T)
    return T


async def test_attended_transfer_complete_and_cancel_and_keypad(bench: SwitchBench, media_page: BrowserPage,
                                                                tenant: str) -> None:
    if not JSSIP.is_file():
        pytest.skip(f"{JSSIP} is missing: ./dev fetches it from npm")
    axe = axe_source()
    seat = bench.extension(T, "7501")[0]
    caller = bench.baresip(bench.extension(T, "7502")[0])
    target = bench.baresip(bench.extension(T, "7503")[0], auto_answer=False)
    bench.acd.put(f"/api/v1/tenants/{T}/agents/a1", {"skills": {}, "queues": []})
    token = bench.stack.token("a1", T, ("agent",))
    page, shots = media_page.page, media_page.screenshot
    await page.goto(f"http://127.0.0.1:{bench.stack.port('ACD_PORT')}/desktop#tenant={T}&agent=a1&device=7501&token={token}")
    await page.fill("#sip-password", seat.password)
    await page.click("#signin-button")
    await until(page, state_is("#phone-status", "registered"))

    esl = {name: bench.fs.esl() for name in ("PLAYBACK_START", "CHANNEL_HOLD", "CHANNEL_BRIDGE")}
    for name, connection in esl.items():                          # one connection per kind of wait
        connection.subscribe(name)
    try:
        # -- attended transfer, completed --------------------------------------------------------
        mark = bench.events.mark()
        with bench.hangups() as legs:
            caller.dial("7501")
            await until(page, state_is("#call-status", "incoming"))
            await page.keyboard.press("Alt+a")
            await until(page, state_is("#call-status", "talking"))
            await asyncio.to_thread(caller.wait, "CALL_ESTABLISHED", 10)
            await until(page, "async () => (await window.hibikiDesktop.stats()).received > 20")   # media is up

            # the keypad, digit by digit: baresip (the far end) hears them as RFC 2833 events
            dtmf_mark = caller.mark()
            for digit in ("4", "#"):
                await page.click(f"#keypad [data-digit='{digit}']")
                heard = await asyncio.to_thread(caller.wait, "CALL_DTMF_START", 10, dtmf_mark)
                assert heard.data.get("param") == digit, heard.data
                dtmf_mark = caller.mark()

            await page.fill("#transfer-to", "7503")
            await page.keyboard.press("Alt+t")                     # the consultation, from the keyboard
            hold = await asyncio.to_thread(esl["CHANNEL_HOLD"].wait_event, "CHANNEL_HOLD", 10)
            assert hold.get("Channel-Name").endswith(".invalid")   # the browser's leg to the caller
            music = await asyncio.to_thread(esl["PLAYBACK_START"].wait_event, "PLAYBACK_START", 10)
            assert music.get("Playback-File-Path") == "local_stream://default", music.headers
            assert "/7502@" in music.get("Channel-Name", "") or music.get("Caller-Caller-ID-Number") == "7502", \
                music.headers                                           # played to the caller
            ring = await asyncio.to_thread(target.wait, "CALL_INCOMING", 15)
            assert "7501" in ring.peer, ring.data                    # the agent consults
            await until(page, state_is("#consult-status", "calling"))
            target.answer()
            await until(page, state_is("#consult-status", "talking"))
            await asyncio.to_thread(target.wait, "CALL_RTPESTAB", 10)
            assert await page.evaluate("() => document.activeElement.id") == "consult-complete"
            assert not caller.saw("CALL_CLOSED")
            await shots("desktop-transfer-1-consulting")
            assert await serious_violations(page, axe) == []

            await page.keyboard.press("Enter")                      # "complete the transfer" has the focus
            await until(page, state_is("#call-status", "ended"))
            await until(page, state_is("#consult-status", "done"))
            await shots("desktop-transfer-2-completed")
            while True:                        # FreeSWITCH bridged the caller's channel to the target's
                event = await asyncio.to_thread(esl["CHANNEL_BRIDGE"].wait_event, "CHANNEL_BRIDGE", 10)
                if event.get("Channel-Name", "").startswith("sofia/internal/7502@") and \
                        event.get("Other-Leg-Channel-Name", "").startswith("sofia/internal/7503"):
                    break
            await asyncio.sleep(3)                                   # the caller and the target talk
            assert not caller.saw("CALL_CLOSED") and not target.saw("CALL_CLOSED")
            caller.hangup()
            await asyncio.to_thread(target.wait, "CALL_CLOSED", 10)
            await asyncio.to_thread(bench.fs.wait_channels, 0)
        names = {e.get("Unique-ID"): e.get("Channel-Name", "") for e in legs}
        print(f"attended transfer legs: {[(e.get('Channel-Name'), rtp_stats(e)) for e in legs]}")
        # the phones' channels (the caller's, the target's); the browser's two: the call it
        # answered (its contact, <random>.invalid) and the consultation it placed (as 7501)
        phones = [e for e in legs if e.get("Channel-Name", "").startswith(("sofia/internal/7502@", "sofia/internal/7503-"))]
        assert len(legs) == 4 and len(phones) == 2, names
        assert all(i > 50 and o > 50 for i, o in map(rtp_stats, phones)), [rtp_stats(e) for e in phones]
        ended = {m.meta.call_uuid: m for m in (
            call_pb2.CallEnded.FromString(e.data)
            for e in bench.events.wait(f"hibiki.{T}.call.ended", after=mark, count=4, timeout=30))}
        record = {names[uuid]: (call_pb2.CallResultHint.Name(m.result_hint), m.transfer_target)
                  for uuid, m in ended.items()}
        print(f"attended transfer records: {record}")
        transferor = next(n for n in record if n.endswith(".invalid"))        # the call the agent answered
        consultation = next(n for n in record if n.startswith("sofia/internal/7501@"))
        assert record.pop(transferor) == ("CALL_RESULT_HINT_TRANSFERRED", "7503")
        assert record.pop(consultation) == ("CALL_RESULT_HINT_TRANSFERRED", "7503")
        assert set(record.values()) == {("CALL_RESULT_HINT_UNSPECIFIED", "")}, record   # the caller, the target

        # -- attended transfer, cancelled: back to the caller ---------------------------------------
        caller_mark, target_mark = caller.mark(), target.mark()
        caller.dial("7501")
        await until(page, state_is("#call-status", "incoming"))
        await page.click("#answer")
        await until(page, state_is("#call-status", "talking"))
        await page.fill("#transfer-to", "7503")
        await page.click("#consult")
        await asyncio.to_thread(target.wait, "CALL_INCOMING", 15, target_mark)
        target.answer()
        await until(page, state_is("#consult-status", "talking"))
        esl["CHANNEL_UNHOLD"] = bench.fs.esl()
        esl["CHANNEL_UNHOLD"].subscribe("CHANNEL_UNHOLD")
        await page.click("#consult-cancel")
        await asyncio.to_thread(target.wait, "CALL_CLOSED", 10, target_mark)
        await until(page, state_is("#consult-status", "cancelled"))
        unhold = await asyncio.to_thread(esl["CHANNEL_UNHOLD"].wait_event, "CHANNEL_UNHOLD", 10)
        assert unhold.get("Channel-Name").endswith(".invalid")
        await until(page, "() => document.querySelector('#hold').getAttribute('aria-pressed') === 'false'")
        before = await received(page)
        await asyncio.sleep(2)
        after = await received(page)
        assert after - before > 50, (before, after)                 # the caller's audio again
        await shots("desktop-transfer-3-cancelled")
        assert not caller.saw("CALL_CLOSED", caller_mark)
        await page.click("#hangup")
        await asyncio.to_thread(caller.wait, "CALL_CLOSED", 10, caller_mark)

        # a target the page refuses: a clear error on the field, nothing sent
        await page.select_option("#lang", "en")
        caller.dial("7501")
        await until(page, state_is("#call-status", "incoming"))
        await page.click("#answer")
        await until(page, state_is("#call-status", "talking"))
        await page.fill("#transfer-to", "7503@evil;transport=tcp")
        await page.click("#consult")
        assert await page.get_attribute("#transfer-to", "aria-invalid") == "true"
        assert "up to 32 digits" in await page.inner_text("#errors")
        assert await page.is_hidden("#consult-box")
        await shots("desktop-transfer-4-refused-en")
        await page.click("#hangup")
    finally:
        for connection in esl.values():
            connection.close()


NUMBER, CALLER = "0762205555", "0312340000"
RECORD = ("call_id", "caller_number", "agent_id", "result", "queues", "transfer_target", "legs")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = open_store(f"chdb://{tmp_path_factory.mktemp('analytics') / 'chdb'}")
    store.migrate()
    yield store
    store.close()


def call_records(bench: SwitchBench, store: Store, mark: int) -> list[dict[str, Any]]:
    """Every event of the tenant since ``mark`` through analytics' own decoder and ingestor."""
    now = datetime.now(UTC)
    batch = []
    for event in bench.events.matching(f"hibiki.{T}.*", after=mark):
        try:
            batch.append(decode(event.subject, event.data, now))
        except (IgnoredEvent, InvalidEvent):
            continue
    Ingestor(store, lambda tenant: 1095).store_batch(batch)
    rows = store.query(f"SELECT {', '.join(RECORD)} FROM hibiki.calls FINAL WHERE tenant = %(t)s "
                       "AND call_id IN %(k)s", {"t": T, "k": tuple({e.key for e in batch})})
    return [dict(zip(RECORD, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def queue_line(bench: SwitchBench, tenant: str) -> Extension:
    """The tenant's number: IVR digit 1 into the queue ``zeimu``; the transfer target 7513."""
    target = bench.extension(T, "7513")[0]
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "uketsuke", "name": "受付", "root_menu": "main",
        "menus": [{"id": "main", "name": "トップ", "greeting": {"text": "1を押してください。"},
                   "choices": {"1": {"queue": {"queue_id": "zeimu"}}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": NUMBER, "target_kind": "ivr", "target": "uketsuke"})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/zeimu", {"offer_timeout_seconds": 20})
    return target


@pytest.mark.parametrize("kind", ["blind", "attended"])
async def test_queue_call_transferred_to_an_extension(bench: SwitchBench, media_page: BrowserPage, store: Store,
                                                      queue_line: Extension, kind: str) -> None:
    """A carrier call through the IVR into the queue, answered in the browser, transferred to
    7513 (blind; or attended: consulted while the caller hears the hold music, then completed):
    the target talks to the caller (RTP both ways on the caller's and the target's channels); the
    agent goes to wrap-up; analytics records the caller's call as transferred to 7513, answered
    by the agent in the queue."""
    if not JSSIP.is_file():
        pytest.skip(f"{JSSIP} is missing: ./dev fetches it from npm")
    agent, device = f"q{kind}", "7511" if kind == "blind" else "7512"
    seat = bench.extension(T, device)[0]
    target = bench.baresip(queue_line, auto_answer=False)
    bench.acd.put(f"/api/v1/tenants/{T}/agents/{agent}", {"skills": {}, "queues": ["zeimu"]})
    token = bench.stack.token(agent, T, ("agent",))
    page = media_page.page
    await page.goto(f"http://127.0.0.1:{bench.stack.port('ACD_PORT')}/desktop#tenant={T}&agent={agent}&device={device}&token={token}")
    await page.fill("#sip-password", seat.password)
    await page.click("#signin-button")
    await until(page, state_is("#phone-status", "registered"))
    await until(page, state_is("#feed", "live"))
    await page.click("#ready")
    await until(page, state_is("#state", "ready"))

    mark = bench.events.mark()
    with bench.hangups() as legs:
        call = bench.carrier_call(NUMBER, caller=CALLER, digits="1", before_digits_ms=3000, speak_after_ms=3000,
                                  remote_bye=True, background=True)
        await until(page, state_is("#call-status", "incoming"), timeout=40)
        await page.click("#answer")
        await until(page, state_is("#call-status", "talking"))
        await until(page, "async () => (await window.hibikiDesktop.stats()).received > 20")
        await page.fill("#transfer-to", "7513")
        if kind == "blind":
            await page.click("#transfer")
            ring = await asyncio.to_thread(target.wait, "CALL_INCOMING", 15)
            assert CALLER in ring.peer, ring.data                  # the caller rings the target
            await until(page, state_is("#call-status", "ended"))
            target.answer()
        else:
            await page.click("#consult")
            await asyncio.to_thread(target.wait, "CALL_INCOMING", 15)
            target.answer()
            await until(page, state_is("#consult-status", "talking"))
            await page.click("#consult-complete")
            await until(page, state_is("#call-status", "ended"))
            await until(page, state_is("#consult-status", "done"))
        await until(page, state_is("#state", "after_call_work"))
        await asyncio.to_thread(target.wait, "CALL_RTPESTAB", 10)
        await asyncio.sleep(3)
        await media_page.screenshot(f"desktop-transfer-5-queue-call-{kind}")
        assert not target.saw("CALL_CLOSED")
        target.hangup()
        assert (await asyncio.to_thread(call.result)).ok          # type: ignore[union-attr]
        await asyncio.to_thread(bench.fs.wait_channels, 0)
    phones = [e for e in legs if e.get("Channel-Name", "").startswith((f"sofia/internal/{CALLER}@", "sofia/internal/7513-"))]
    print(f"queue call {kind} transfer legs: {[(e.get('Channel-Name'), rtp_stats(e)) for e in legs]}")
    assert len(phones) == 2 and all(i > 50 and o > 50 for i, o in map(rtp_stats, phones)), \
        [(e.get("Channel-Name"), rtp_stats(e)) for e in legs]
    bench.events.wait(f"hibiki.{T}.call.ended", after=mark, count=len(legs), timeout=30)
    await asyncio.sleep(1)
    rows = [r for r in call_records(bench, store, mark) if r["caller_number"] == CALLER]
    print(f"analytics: {rows}")
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["result"], row["transfer_target"], row["agent_id"]) == ("transferred", "7513", agent), row
    assert "zeimu" in row["queues"], row
    await page.select_option("#case-type", "inquiry")
    await page.click("#save")
    await until(page, state_is("#state", "ready"))
    await page.click("#logout")


async def test_transfer_targets_go_through_the_dial_plan(bench: SwitchBench, media_page: BrowserPage,
                                                        queue_line: Extension) -> None:
    """What a transfer may reach is the dial plan's to say, whatever the transferring phone sends.
    A phone (baresip, not the page: it sends any target) blind-transfers its caller to one of our
    own route names (``hibiki_route_external_...``): the directory refuses it (``hibiki_refused=route``)
    and nothing is bridged. A carrier caller in the queue, blind-transferred from the page to an
    outside number: no user's class of service covers that caller, so the number is unallocated
    (the caller hears so) and no call goes out."""
    if not JSSIP.is_file():
        pytest.skip(f"{JSSIP} is missing: ./dev fetches it from npm")
    caller = bench.baresip(bench.extension(T, "7521")[0])
    hostile = bench.baresip(bench.extension(T, "7522")[0])          # answers by itself
    with bench.hangups() as legs:
        caller.dial("7522")
        await asyncio.to_thread(hostile.wait, "CALL_ESTABLISHED", 10)
        await asyncio.sleep(1)
        hostile.command("transfer", f"sip:hibiki_route_external_0311112222@{queue_line.domain}")
        await asyncio.to_thread(caller.wait, "CALL_CLOSED", 20)
        await asyncio.to_thread(bench.fs.wait_channels, 0)
    moved = next(e for e in legs if e.get("Channel-Name", "").startswith("sofia/internal/7521@"))
    print(f"route name as a transfer target: {[(e.get('Channel-Name'), e.get('variable_hibiki_refused')) for e in legs]}")
    assert moved.get("variable_hibiki_refused") == "route", moved.headers
    assert len(legs) == 2                                          # nothing else was rung

    seat = bench.extension(T, "7514")[0]
    bench.acd.put(f"/api/v1/tenants/{T}/agents/qout", {"skills": {}, "queues": ["zeimu"]})
    token = bench.stack.token("qout", T, ("agent",))
    page = media_page.page
    await page.goto(f"http://127.0.0.1:{bench.stack.port('ACD_PORT')}/desktop#tenant={T}&agent=qout&device=7514&token={token}")
    await page.fill("#sip-password", seat.password)
    await page.click("#signin-button")
    await until(page, state_is("#phone-status", "registered"))
    await until(page, state_is("#feed", "live"))
    await page.click("#ready")
    await until(page, state_is("#state", "ready"))
    with bench.hangups() as legs:
        call = bench.carrier_call(NUMBER, caller=CALLER, digits="1", before_digits_ms=3000, speak_after_ms=3000,
                                  remote_bye=True, background=True)
        await until(page, state_is("#call-status", "incoming"), timeout=40)
        await page.click("#answer")
        await until(page, state_is("#call-status", "talking"))
        await page.fill("#transfer-to", "0311112222")
        await page.click("#transfer")
        await until(page, state_is("#call-status", "ended"))
        assert (await asyncio.to_thread(call.result)).ok          # type: ignore[union-attr]
        await asyncio.to_thread(bench.fs.wait_channels, 0)
    carrier = next(e for e in legs if e.get("Channel-Name", "").startswith(f"sofia/internal/{CALLER}@"))
    print(f"carrier caller to an outside number: {[(e.get('Channel-Name'), e.get('Hangup-Cause')) for e in legs]}")
    assert carrier.get("Hangup-Cause") == "UNALLOCATED_NUMBER", carrier.get("Hangup-Cause")
    assert len(legs) == 2                                          # the caller and the agent: no carrier leg
    await page.select_option("#case-type", "other")
    await page.click("#save")
    await until(page, state_is("#state", "ready"))
    await page.click("#logout")


async def test_outside_transfer_target_follows_the_class_of_service(bench: SwitchBench, media_page: BrowserPage,
                                                                   tenant: str) -> None:
    """A blind transfer from the page to an outside number re-routes the caller's channel through
    the dial plan, whose class-of-service check is the caller's user's (the REFER's caller keeps
    ``hibiki_user``): a caller who may call outside is sent to the carrier (the carrier receives
    the INVITE for the number; whether they then talk is test_outside_calls.py's subject: this
    sipp carrier answers in PCMA only, and the call here ends INCOMPATIBLE_DESTINATION); a caller
    who may not is refused (``class_of_service``), and the carrier receives nothing."""
    if not JSSIP.is_file():
        pytest.skip(f"{JSSIP} is missing: ./dev fetches it from npm")
    bench.carrier_gateway(T, "xf-carrier", caller_id_in_from=True)
    seat = bench.extension(T, "7542")[0]
    allowed = bench.baresip(bench.extension(T, "7541")[0])
    barred = bench.baresip(bench.extension(T, "7543", outbound_classes=[])[0])
    bench.acd.put(f"/api/v1/tenants/{T}/agents/a7", {"skills": {}, "queues": []})
    token = bench.stack.token("a7", T, ("agent",))
    page = media_page.page
    await page.goto(f"http://127.0.0.1:{bench.stack.port('ACD_PORT')}/desktop#tenant={T}&agent=a7&device=7542&token={token}")
    await page.fill("#sip-password", seat.password)
    await page.click("#signin-button")
    await until(page, state_is("#phone-status", "registered"))

    async def transfer_out(phone: Any) -> None:
        phone.dial("7542")
        await until(page, state_is("#call-status", "incoming"))
        await page.click("#answer")
        await until(page, state_is("#call-status", "talking"))
        await page.fill("#transfer-to", "0312345678")
        await page.click("#transfer")
        await until(page, state_is("#call-status", "ended"))

    carrier = bench.carrier_uas(talk_ms=2000)
    with bench.hangups() as legs:
        await transfer_out(allowed)
        answered = await asyncio.to_thread(carrier.result)
        await asyncio.to_thread(allowed.wait, "CALL_CLOSED", 20)
        await asyncio.to_thread(bench.fs.wait_channels, 0)
    print(f"allowed caller transferred out: {[(e.get('Channel-Name'), e.get('Hangup-Cause'), rtp_stats(e)) for e in legs]}")
    invite = answered.requests("INVITE")[0]
    assert invite.startswith("INVITE sip:0312345678@"), invite
    moved = next(e for e in legs if e.get("Channel-Name", "").startswith("sofia/internal/7541@"))
    assert not moved.get("variable_hibiki_refused") and len(legs) == 3, moved.get("variable_hibiki_refused")

    with bench.hangups() as legs:
        await transfer_out(barred)
        await asyncio.to_thread(barred.wait, "CALL_CLOSED", 20)
        await asyncio.to_thread(bench.fs.wait_channels, 0)
    moved = next(e for e in legs if e.get("Channel-Name", "").startswith("sofia/internal/7543@"))
    print(f"barred caller: {[(e.get('Channel-Name'), e.get('variable_hibiki_refused')) for e in legs]}")
    assert moved.get("variable_hibiki_refused") == "class_of_service", moved.headers
    assert len(legs) == 2                                          # the caller and the agent: no carrier leg
