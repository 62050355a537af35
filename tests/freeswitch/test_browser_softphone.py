"""A browser softphone on the real switch: headless Chromium with a fake microphone registers
over SIP/WebSocket (the ``internal`` profile's ws-binding) with JsSIP as a device of the tenant,
calls an extension answered by baresip, and is called by it and answers in the page. WebRTC
audio (DTLS-SRTP, ICE on loopback) flows both ways: counted by FreeSWITCH on the browser's leg
(its hangup event's RTP statistics) and by the browser (``getStats()``)."""

from __future__ import annotations

import asyncio

from support.browser import BrowserPage
from support.softphone import BrowserPhone
from support.switch.bench import SwitchBench, rtp_stats

T = "sp"


async def talk(phone: BrowserPhone, seconds: float = 3.0) -> dict[str, object]:
    await asyncio.sleep(seconds)
    return await phone.stats()


async def test_browser_calls_and_is_called_over_websocket(bench: SwitchBench, media_page: BrowserPage) -> None:
    bench.tenant(T)
    browser_ext = bench.extension(T, "7201")[0]
    desk = bench.extension(T, "7202")[0]
    ws = f"ws://{bench.fs.address}:{bench.fs.ports.ws}"
    phone = await BrowserPhone.open(media_page, ws, browser_ext.sip_username, browser_ext.domain, browser_ext.password)
    registered = bench.fs.registrations()
    assert "7201" in registered and "transport=ws" in registered.lower(), registered

    baresip = bench.baresip(desk, auto_answer=False)
    # the browser calls the desk phone
    with bench.hangups() as legs:
        mark = await phone.mark()
        await phone.call(f"sip:7202@{browser_ext.domain}")
        await asyncio.to_thread(baresip.wait, "CALL_INCOMING", 20)
        baresip.answer()
        await phone.wait("confirmed", after=mark)
        seen = await talk(phone)
        await phone.hangup()
        await phone.wait("ended", after=mark)
    browser_leg = next(e for e in legs if "/7201@" in e.get("Channel-Name", ""))
    media = {k.removeprefix("variable_"): v for k, v in browser_leg.headers.items()
             if any(w in k for w in ("dtls", "srtp", "ice", "read_codec", "write_codec", "secure", "transport"))}
    print(f"browser -> desk phone: browser sent {seen['sent']}, received {seen['received']} ({seen['codec']}); "
          f"FreeSWITCH on the browser's leg in/out {rtp_stats(browser_leg)}, {media}; all legs "
          f"{[rtp_stats(e) for e in legs]}")
    assert browser_leg.get("variable_rtp_use_codec_name", "").upper() in ("OPUS", "PCMU", "PCMA")
    print(f"browser media: DTLS {seen.get('dtls')}, SRTP {seen.get('srtp')}, ICE {seen.get('path')}")
    assert seen.get("dtls") == "connected"
    assert int(str(seen["sent"])) > 50 and int(str(seen["received"])) > 50
    assert all(i > 50 and o > 50 for i, o in map(rtp_stats, legs)), [rtp_stats(e) for e in legs]

    # the desk phone calls the browser, which answers in the page
    with bench.hangups() as legs:
        mark = await phone.mark()
        baresip.dial("7201")
        incoming = await phone.wait("incoming", after=mark)
        assert incoming["from"] == "7202"
        await phone.answer()
        await phone.wait("confirmed", after=mark)
        seen = await talk(phone)
        baresip.hangup()
        await phone.wait("ended", after=mark)
    print(f"desk phone -> browser: browser sent {seen['sent']}, received {seen['received']} ({seen['codec']}); "
          f"FreeSWITCH legs in/out {[rtp_stats(e) for e in legs]}")
    assert int(str(seen["sent"])) > 50 and int(str(seen["received"])) > 50
    assert all(i > 50 and o > 50 for i, o in map(rtp_stats, legs)), [rtp_stats(e) for e in legs]
