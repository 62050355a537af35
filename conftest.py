"""Fixtures every test folder shares (real NATS, free ports, in-process services), and the
summary of skipped tests (``./dev test`` says how many were skipped and why)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import settings

pytest_plugins = ["support.servers", "support.postgres", "support.browser"]


# Property tests check behaviour, not speed: Hypothesis's per-example deadline (200 ms) turned a busy
# machine's pause into a failure ("Unreliable test timings"). Speed is measured by `./dev bench`.
settings.register_profile("hibiki", deadline=None)
settings.load_profile("hibiki")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if isinstance(r, pytest.TestReport)]
    if not skipped:
        return
    reasons = Counter(_skip_reason(r) for r in skipped)
    terminalreporter.write_sep("=", f"{len(skipped)} tests skipped")
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count:5d} skipped: {reason}")
