"""Headless Chromium for tests (Debian's ``chromium``, driven by Python ``playwright``): the
wallboard now, the recording, console and agent-desktop pages later.

    async def test_page(browser_page: BrowserPage) -> None:
        await browser_page.page.goto(url)
        ...
        await browser_page.screenshot("wallboard-live")      # test-artifacts/screenshots/<name>.png

Playwright's own browser downloads are never used (the machine has no network): it launches
``/usr/bin/chromium`` (``HIBIKI_TEST_CHROMIUM`` to change) with a fresh user-data directory per
test and the flags below. Without Chromium or playwright the test is skipped with that reason.
Screenshots go to ``test-artifacts/screenshots/`` at the repository root (``HIBIKI_TEST_ARTIFACTS``
to change; git-ignored), kept after the run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
                  "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    path = os.environ.get("HIBIKI_TEST_CHROMIUM", "/usr/bin/chromium")
    return path if Path(path).is_file() and os.access(path, os.X_OK) else shutil.which("chromium")


def artifacts_dir() -> Path:
    root = Path(os.environ.get("HIBIKI_TEST_ARTIFACTS", REPO / "test-artifacts"))
    shots = root / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    return shots


@dataclass
class BrowserPage:
    page: Any                 # playwright.async_api.Page
    context: Any              # playwright.async_api.BrowserContext
    shots: Path
    console: list[str]

    async def screenshot(self, name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        path = self.shots / f"{safe}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


# WebRTC with a fake microphone (a beep) granted without asking, ICE over loopback addresses
# (Chromium leaves 127.x out of its candidates unless told): the softphone tests.
MEDIA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
               "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
async def browser_page(tmp_path: Path) -> AsyncIterator[BrowserPage]:
    """A fresh headless Chromium page (1920x1080, Japanese locale, Asia/Tokyo)."""
    async for page in _launch(tmp_path, CHROMIUM_FLAGS):
        yield page


@pytest.fixture
async def media_page(tmp_path: Path) -> AsyncIterator[BrowserPage]:
    """``browser_page`` with a fake microphone and loopback ICE (``MEDIA_FLAGS``)."""
    async for page in _launch(tmp_path, CHROMIUM_FLAGS + MEDIA_FLAGS):
        yield page


async def _launch(tmp_path: Path, flags: list[str]) -> AsyncIterator[BrowserPage]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Python playwright is not installed")
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=executable, headless=True, args=flags,
            viewport={"width": 1920, "height": 1080}, locale="ja-JP", timezone_id="Asia/Tokyo")
        page = context.pages[0] if context.pages else await context.new_page()
        console: list[str] = []
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
        try:
            yield BrowserPage(page, context, artifacts_dir(), console)
        finally:
            await context.close()
