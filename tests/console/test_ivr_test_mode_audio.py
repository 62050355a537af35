"""The IVR branch test mode plays every path as callers hear it (issue 14: "every path listed and
playable"), in headless Chromium through the real directory and the real callcontrol (its own
process, its prompt store and TTS): a recorded prompt is fetched and decoded, a text greeting is
spoken by the same TTS and cache the switch uses (the prompt the call would play), each key
sounds as its DTMF pair, the end is named. A viewer, who may not have text spoken, gets the
refusal at the step, not a broken page. Screenshot: console-ivr-test-audio.png."""

from __future__ import annotations

import dataclasses
import io
import math
import os
import struct
import uuid
import wave
from pathlib import Path

import httpx

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main

from support.axe import axe_source, serious_violations
from support.browser import BrowserPage
from support.directory import directory_config
from support.served import serve
from support.servers import NatsServer, free_port, running

HOST = "127.16.0.6"


def tone_wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 523 * i / 8000)))
                               for i in range(int(8000 * seconds))))
    return out.getvalue()


async def test_every_path_plays_its_greetings_and_keys(tmp_path: Path, nats_server: NatsServer,
                                                       authority: TokenAuthority, browser_page: BrowserPage) -> None:
    axe = axe_source()
    tenant = f"kodaira{uuid.uuid4().hex[:6]}"
    callcontrol_port = free_port()
    config = dataclasses.replace(directory_config(tmp_path, nats_server), host=HOST,
                                 callcontrol_http=f"http://{HOST}:{callcontrol_port}")
    base = f"http://{HOST}:{config.port}"
    root = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
    admin = authority.issue(Claims("kanri", "user", tenant, ("admin",)))
    viewer = authority.issue(Claims("miru", "user", tenant, ("viewer",)))
    nowhere = f"{HOST}:{free_port()}"
    env = {"HIBIKI_AUTH_SECRET": os.environ["HIBIKI_AUTH_SECRET"], "HIBIKI_NATS_URL": nats_server.url,
           "HIBIKI_CALLCONTROL_ESL_PORT": str(free_port()), "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": nowhere,
           "HIBIKI_CALLCONTROL_ACD_GRPC": nowhere}
    async with running(main, config), httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {admin}"},
                                                        timeout=60) as api:
        (await api.post("/api/v1/tenants", json={"id": tenant, "domain": f"{tenant}.example.jp"},
                        headers={"Authorization": f"Bearer {root}"})).raise_for_status()
        t = f"/api/v1/tenants/{tenant}"
        down = await api.post(f"{t}/prompts/speak", json={"text": "テスト"})
        assert down.status_code == 502 and down.json()["details"]["field"] == "callcontrol"
        with serve("callcontrol", HOST, tmp_path / "callcontrol", env, port=callcontrol_port):
            # through the directory's origin: the prompt store is callcontrol's
            recorded = await api.post(f"{t}/prompts", content=tone_wav(1.5), params={"filename": "welcome.wav"})
            assert recorded.status_code == 201, recorded.text
            welcome = recorded.json()
            ivr = {"id": "main", "name": "代表案内", "root_menu": "main", "menus": [
                {"id": "main", "name": "代表", "greeting": {"prompt_id": welcome["id"]},
                 "choices": {"2": {"menu": "tax"}, "0": {"extension": "2001"}}},
                {"id": "tax", "name": "税務", "greeting": {"text": "税務課です。担当者におつなぎします。"},
                 "choices": {"1": {"voicemail": "2001"}, "9": {"back": True}}}]}
            await api.post(f"{t}/users", json={"username": "tanaka", "extension": "2001"})
            (await api.post(f"{t}/ivrs", json=ivr)).raise_for_status()

            page = browser_page.page
            await page.goto(f"{base}/console")
            await page.evaluate(f"sessionStorage.setItem('hibiki.token', {admin!r})")
            await page.goto(f"{base}/console?tenant={tenant}#ivrs")
            await page.wait_for_selector("#ivr-tree")
            await page.click("#ivr-test-run")
            await page.wait_for_selector("#ivr-paths-table")
            ends = await page.locator("#ivr-paths-table tbody tr td:nth-child(4)").all_inner_texts()
            assert set(ends) >= {"extension:2001", "voicemail:2001"}, ends
            await page.locator("#ivr-paths-table tbody tr", has_text="voicemail:2001").get_by_role("button").click()
            await page.wait_for_selector("#ivr-player[data-done]", timeout=60000)
            steps = page.locator("#ivr-player li")
            texts = await steps.all_inner_texts()
            assert texts[0].startswith("メニュー「代表」") and texts[-1] == "行先: voicemail:2001", texts
            played = [await steps.nth(i).evaluate("(li) => ({...li.dataset})") for i in range(len(texts))]
            assert [p.get("played") for p in played] == ["1"] * len(texts)
            # the recorded prompt, decoded by the browser at its stored length
            assert abs(float(played[0]["seconds"]) - welcome["duration_ms"] / 1000) < 0.05, played
            assert played[1]["tone"] == "697+1336"                             # key 2
            # the text greeting: the prompt the switch would play (same text, same voice: one prompt)
            spoken = [p for p in (await api.get(f"{t}/prompts")).json()["items"] if p["source"] == "tts"]
            assert len(spoken) == 1 and abs(float(played[2]["seconds"]) - spoken[0]["duration_ms"] / 1000) < 0.05
            assert played[3]["tone"] == "697+1209"                             # key 1
            violations = await serious_violations(page, axe)
            await browser_page.screenshot("console-ivr-test-audio")
            assert violations == []

            # a viewer reads the tree and the paths; having text spoken is a change: refused at that step
            await page.evaluate(f"sessionStorage.setItem('hibiki.token', {viewer!r})")
            await page.goto(f"{base}/console?tenant={tenant}&as=viewer#ivrs")
            await page.wait_for_selector("#ivr-tree")
            await page.click("#ivr-test-run")
            await page.wait_for_selector("#ivr-paths-table")
            await page.locator("#ivr-paths-table tbody tr", has_text="voicemail:2001").get_by_role("button").click()
            await page.wait_for_selector("#ivr-player[data-done]", timeout=60000)
            seen = await page.locator("#ivr-player li").evaluate_all("(lis) => lis.map((li) => ({...li.dataset}))")
            assert "seconds" in seen[0] and "seconds" not in seen[2], seen      # recorded: yes; TTS: refused
            assert await page.locator("#ivr-player li").nth(2).locator(".error").count() == 1
        assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
