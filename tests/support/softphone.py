"""JsSIP (the desktop's SIP library, fetched by ``./dev`` from npm) driven in a headless Chromium
page, for the real-switch proof that a browser registers over WebSocket, calls and is called with
WebRTC audio both ways. The page is a blank document served on ``http://127.0.0.1:<free port>``
(a secure context, so ``getUserMedia`` works; a real loopback origin, so Chromium's Local Network
Access checks let it open a WebSocket to the switch on 127.x); JsSIP is added from the vendor file.

    phone = await BrowserPhone.open(media_page, ws_url, ext)
    await phone.call("7202"); await phone.wait("confirmed")
    stats = await phone.stats()          # {"sent": packets, "received": packets, "codec": "audio/opus"}
    await phone.hangup()
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from support.browser import BrowserPage

REPO = Path(__file__).resolve().parents[1].parent
JSSIP = REPO / "services/acd/src/hibiki/acd/desktop/vendor/jssip.min.js"
BLANK = b"<!doctype html><html lang=en><head><title>phone</title></head><body></body></html>"


class _Blank(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:   # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BLANK)))
        self.end_headers()
        self.wfile.write(BLANK)

    def log_message(self, *args: Any) -> None:
        pass


def blank_origin() -> str:
    """A page server on 127.0.0.1 (a daemon thread for the test process's life)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Blank)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"

DRIVER = r"""
window.phone = {events: [], session: null, ua: null};
window.phone.start = (ws, uri, password) => {
  const ua = new JsSIP.UA({sockets: [new JsSIP.WebSocketInterface(ws)], uri, password,
                           register: true, session_timers: false, register_expires: 300});
  const note = (type, more) => window.phone.events.push(Object.assign({type, at: Date.now()}, more || {}));
  ua.on("registered", () => note("registered"));
  ua.on("registrationFailed", e => note("registrationFailed", {cause: e.cause}));
  ua.on("newRTCSession", e => {
    const s = e.session;
    window.phone.session = s;
    note(e.originator === "remote" ? "incoming" : "outgoing", {from: s.remote_identity.uri.user});
    s.on("peerconnection", () => note("peerconnection"));
    s.on("accepted", () => note("accepted"));
    s.on("confirmed", () => note("confirmed"));
    s.on("ended", x => note("ended", {cause: x.cause}));
    s.on("failed", x => note("failed", {cause: x.cause}));
    const attach = pc => pc.addEventListener("track", t => {
      const audio = document.createElement("audio"); audio.autoplay = true; audio.srcObject = t.streams[0];
      document.body.appendChild(audio);
    });
    if (s.connection) attach(s.connection); else s.on("peerconnection", x => attach(x.peerconnection));
  });
  ua.start();
  window.phone.ua = ua;
};
window.phone.options = {mediaConstraints: {audio: true, video: false}, pcConfig: {iceServers: []},
                        rtcOfferConstraints: {offerToReceiveAudio: true, offerToReceiveVideo: false}};
window.phone.stats = async () => {
  const s = window.phone.session; const out = {sent: 0, received: 0, codec: "", bytesReceived: 0};
  if (!s || !s.connection) return out;
  const report = await s.connection.getStats();
  const codecs = {}, candidates = {};
  report.forEach(r => { if (r.type === "codec") codecs[r.id] = r.mimeType;
                        if (r.type.endsWith("candidate")) candidates[r.id] = `${r.address}:${r.port}/${r.candidateType}`; });
  report.forEach(r => { if (r.type === "transport") { out.dtls = r.dtlsState; out.srtp = r.srtpCipher || "";
                          out.pair = r.selectedCandidatePairId; } });
  report.forEach(r => { if (r.type === "candidate-pair" && r.id === out.pair)
                          out.path = `${candidates[r.localCandidateId]} -> ${candidates[r.remoteCandidateId]}`; });
  report.forEach(r => {
    if (r.type === "outbound-rtp" && r.kind === "audio") { out.sent += r.packetsSent; out.codec = codecs[r.codecId] || out.codec; }
    if (r.type === "inbound-rtp" && r.kind === "audio") { out.received += r.packetsReceived; out.bytesReceived += r.bytesReceived; }
  });
  return out;
};
"""


class BrowserPhone:
    def __init__(self, browser: BrowserPage) -> None:
        self.browser = browser
        self.page = browser.page

    @classmethod
    async def open(cls, browser: BrowserPage, ws_url: str, user: str, domain: str, password: str) -> BrowserPhone:
        if not JSSIP.is_file():
            pytest.skip(f"{JSSIP} is missing: ./dev fetches it from npm (tools/fetch_browser_libs.py)")
        await browser.page.goto(f"{blank_origin()}/")
        await browser.page.add_script_tag(path=str(JSSIP))
        await browser.page.add_script_tag(content=DRIVER)
        phone = cls(browser)
        await phone.page.evaluate("([ws, uri, pw]) => window.phone.start(ws, uri, pw)",
                                  [ws_url, f"sip:{user}@{domain}", password])
        await phone.wait("registered")
        return phone

    async def events(self) -> list[dict[str, Any]]:
        return list(await self.page.evaluate("window.phone.events"))

    async def wait(self, kind: str, timeout: float = 20.0, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            seen = await self.events()
            for event in seen[after:]:
                if event["type"] == kind:
                    return event
                if event["type"] in ("registrationFailed", "failed") and kind != event["type"]:
                    raise AssertionError(f"waiting for {kind}: {event} ({seen}; console: {self.browser.console[-10:]})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind} within {timeout} s: {seen}; console: {self.browser.console[-10:]}")
            await asyncio.sleep(0.1)

    async def mark(self) -> int:
        return len(await self.events())

    async def call(self, target: str) -> None:
        await self.page.evaluate("(t) => window.phone.ua.call(t, window.phone.options)", target)

    async def answer(self) -> None:
        await self.page.evaluate("window.phone.session.answer(window.phone.options)")

    async def hangup(self) -> None:
        await self.page.evaluate("window.phone.session && window.phone.session.terminate()")

    async def stats(self) -> dict[str, Any]:
        return dict(await self.page.evaluate("window.phone.stats()"))
