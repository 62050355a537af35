"""The real-switch tier: every test here is marked ``freeswitch`` and gets a module-wide bench
(``hibiki up`` + a real FreeSWITCH 1.10 on ``freeswitch/conf``). Skipped, with the reason, when
FreeSWITCH, sipp or baresip is not installed (``../shared/freeswitch/install.sh`` installs them)."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
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


# The tier's modules that took over a minute each (`--durations=0`, tests/freeswitch/README.md) run first:
# with `-n N --dist loadfile --no-loadscope-reorder` (./dev test) no worker is left alone with one of
# them at the end. The others follow in their usual order.
LONG_FIRST = ("test_recording.py", "test_scenarios.py", "test_desktop_transfer.py", "test_sounds_on_the_switch.py",
              "test_benchmarks.py", "test_contact_center.py", "test_rolling_update.py", "test_failover.py")


def _long_first(item: pytest.Item) -> int:
    name = Path(str(item.fspath)).name
    return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):   # an xdist worker: its order is the scheduler's
        items.sort(key=_long_first)      # stable: each module's tests keep their order
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
        # stopped in the background (FreeSWITCH and the stack take ~4 s) while the next module's
        # bench starts on its own addresses and ports; the session waits for every stop at its end
        stopping = threading.Thread(target=bench.stop, name="bench-stop")
        stopping.start()
        _STOPPING.append(stopping)


_STOPPING: list[threading.Thread] = []


@pytest.fixture(scope="session", autouse=True)
def _benches_stopped() -> Iterator[None]:
    """Every bench stopped before the session ends (no FreeSWITCH or stack outlives the run)."""
    yield
    for stopping in _STOPPING:
        stopping.join(120)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                         pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _phones_stop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Phones a test started are stopped when it ends, so the next test starts clean; after a
    failed test every channel left on the module's FreeSWITCH is hung up too (a caller the failed
    test left parked would fail the module's next tests' own checks of a clean switch)."""
    yield
    if "bench" in request.fixturenames:
        bench = request.getfixturevalue("bench")
        bench.stop_phones()
        if request.node.stash.get(FAILED, False):
            try:
                bench.fs.api("hupall NORMAL_CLEARING")
                bench.fs.wait_channels(0)
            except Exception as exc:     # the switch itself is gone: the next test says so
                print(f"after the failed test, channels not cleared: {exc}")
