"""The real-switch tier: every test here is marked ``freeswitch`` and gets a module-wide bench
(``hibiki up`` + a real FreeSWITCH 1.10 on ``freeswitch/conf``). Skipped, with the reason, when
FreeSWITCH, sipp or baresip is not installed (``../shared/freeswitch/install.sh`` installs them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.switch import baresip, sipp
from support.switch.bench import SwitchBench
from support.switch.freeswitch import FREESWITCH

HERE = Path(__file__).resolve().parent


def missing() -> str | None:
    if not FREESWITCH.exists():
        return f"real FreeSWITCH not installed: {FREESWITCH} is missing (run ../shared/freeswitch/install.sh as root)"
    if not sipp.available():
        return "sipp not installed (Debian sip-tester; ../shared/freeswitch/install.sh installs it)"
    if not baresip.available():
        return "baresip with ctrl_tcp not installed (../shared/freeswitch/install.sh installs it)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = missing()
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.freeswitch)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchBench]:
    """One stack and one FreeSWITCH for the whole test module (a FreeSWITCH stop takes ~5 s).
    A module's ``FREESWITCH_ENV`` dict adds variables for ``vars.xml`` (e.g. survival routing)."""
    bench = SwitchBench(tmp_path_factory.mktemp("bench"), getattr(request.module, "FREESWITCH_ENV", None))
    try:
        bench.start()
        yield bench
    finally:
        bench.stop()


@pytest.fixture(autouse=True)
def _phones_stop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Phones a test started are stopped when it ends, so the next test starts clean."""
    yield
    if "bench" in request.fixturenames:
        request.getfixturevalue("bench").stop_phones()
