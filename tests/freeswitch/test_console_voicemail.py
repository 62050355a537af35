"""PBX-10 in the web UI on the real switch: a caller leaves a voicemail on FreeSWITCH 1.10.12
(sipp as the carrier, mod_voicemail records it), and the owner, a city's staff member (a console
user with the role self-service linked to their directory user, logged in at /login with password
and TOTP), finds it on their own page (/me, headless Chromium, served by the directory of ``hibiki
up``) with the caller's number, plays the very file
FreeSWITCH wrote (decoded by the browser: its length matches the WAV's) and deletes it: the file
is gone and mod_voicemail's own count (``vm_boxcount``, what *97 says) no longer has it."""

from __future__ import annotations

import sqlite3
import wave
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from support.browser import BrowserPage
from support.switch.bench import Extension, SwitchBench

T = "hachioji"
PASSWORD = "kawa-no-nagare-2026"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchBench]:
    """The bench, with the directory reading this FreeSWITCH's voicemail store (as a mount would)."""
    bench = SwitchBench(tmp_path_factory.mktemp("bench"))
    bench.stack.env.update({"HIBIKI_DIRECTORY_VOICEMAIL_DB": str(bench.fs.root / "db" / "voicemail_default.db"),
                            "HIBIKI_DIRECTORY_VOICEMAIL_DIR": str(bench.fs.root / "storage" / "voicemail")})
    try:
        bench.start()
        yield bench
    finally:
        bench.stop()


@pytest.fixture(scope="module")
def owner(bench: SwitchBench) -> Extension:
    bench.tenant(T)
    ext = bench.extension(T, "2001", voicemail_pin="4821")[0]
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": "042-620-1111", "target_kind": "voicemail",
                                                       "target": ext.user_id})
    return ext


async def test_a_voicemail_left_on_the_switch_is_played_and_deleted_on_the_users_page(
        bench: SwitchBench, owner: Extension, browser_page: BrowserPage) -> None:
    result = bench.carrier_call("0426201111", caller="0312345678", speak_after_ms=9000, talk_ms=9000)
    assert result.ok, result.output[-1500:]
    mailbox = bench.fs.root / "storage" / "voicemail" / "default" / owner.domain / owner.extension
    files = sorted(mailbox.glob("msg_*.wav"))
    assert len(files) == 1, sorted(mailbox.parent.parent.rglob("*"))
    with wave.open(str(files[0])) as recorded:
        seconds = recorded.getnframes() / recorded.getframerate()

    # identity is not call configuration: nothing to wait for on the switch (expect=...)
    bench.directory.put(f"/api/v1/tenants/{T}/identity_policy", {"mfa_required": True, "password_min_length": 12,
                                                                 "password_history": 5}, expect=200)
    bench.directory.post(f"/api/v1/tenants/{T}/console_users", {"login": "tanaka", "password": PASSWORD,
                                                                 "roles": ["self-service"],
                                                                 "directory_user_id": owner.user_id}, expect=201)
    page = browser_page.page
    await page.goto(f"{bench.stack.directory_url}/login?next=/me")
    await page.fill("#tenant", T)
    await page.fill("#login", "tanaka")
    await page.fill("#password", PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#secret:not(:empty)")                  # TOTP enrolment
    await page.fill("#code", pyotp.TOTP((await page.inner_text("#secret")).replace(" ", "")).now())
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#done:not([hidden])")
    await page.goto(f"{bench.stack.directory_url}/me")
    await page.wait_for_selector("#me-voicemail-list")
    row = await page.locator("#me-voicemail-list tbody tr").all_inner_texts()
    assert len(row) == 1 and "0312345678" in row[0]
    await page.get_by_role("button", name="0312345678 のメッセージを再生", exact=False).click()
    await page.wait_for_selector("#me-player:not([hidden])")
    duration = await page.evaluate("""() => new Promise(resolve => { const a = document.getElementById('me-player');
        if (a.readyState >= 1) resolve(a.duration); else a.addEventListener('loadedmetadata', () => resolve(a.duration)); })""")
    print(f"\nFreeSWITCH recorded {seconds:.2f} s; the browser decoded {duration:.2f} s")
    assert seconds >= 3 and abs(duration - seconds) < 0.05
    await browser_page.screenshot("console-me-voicemail-real-switch")
    await page.get_by_role("button", name="0312345678 のメッセージを削除", exact=False).click()
    await page.click("#ask-yes")
    await page.wait_for_selector("#me-voicemail-none")
    assert not files[0].exists()
    with sqlite3.connect(bench.fs.root / "db" / "voicemail_default.db") as conn:
        assert conn.execute("SELECT count(*) FROM voicemail_msgs").fetchall() == [(0,)]
    count = bench.fs.api(f"vm_boxcount {owner.extension}@{owner.domain}|all")
    print(f"mod_voicemail's own count after the delete: {count.strip()!r}")
    assert count.strip() == "0:0:0:0", count                             # new:saved:new urgent:saved urgent
    assert not [line for line in browser_page.console if line.startswith("pageerror")], browser_page.console
