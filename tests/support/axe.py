"""axe-core in a test's Chromium page: the accessibility check of the console (ADM-07).

The file comes from npm's ``axe-core`` (pinned in ``requirements/browser.toml``; ``./dev`` fetches it
into ``tests/support/vendor/`` without node) and is injected by the test itself over the DevTools protocol, so the page's
strict Content-Security-Policy does not have to allow it. Without it the test is skipped."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SERIOUS = ("serious", "critical")


def axe_source() -> str:
    path = Path(os.environ.get("HIBIKI_TEST_AXE", REPO / "tests" / "support" / "vendor" / "axe.min.js"))
    if not path.is_file():
        pytest.skip(f"axe-core is not installed ({path}: ./dev fetches it: requirements/browser.toml)")
    return path.read_text(encoding="utf-8")


async def serious_violations(page: Any, source: str) -> list[str]:
    """Every serious or critical axe violation of the page as it is now (WCAG 2.1 A/AA and best practices)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(source)
    result = await page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in result if v["impact"] in SERIOUS]
