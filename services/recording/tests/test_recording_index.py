"""The recording index's search, on chdb and on a real ClickHouse server (Debian's 18.16, the
legacy dialect): for any set of recordings and dispositions (saved before or after the recording
is indexed, several per call: the last one counts) and any query by date range, agent, number,
queue and disposition, ``recordings.search`` answers exactly the recordings a plain Python filter
picks, newest first. Hostile query values stay values."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hibiki.recording.index import recordings
from hibiki.recording.index.recordings import Query, Recording, Store
from hibiki.recording.index.stores import open_index
from support.clickhouse_server import ClickHouseServer, binary

T0 = datetime(2026, 3, 1, tzinfo=UTC)
AGENTS, QUEUES = ["a1", "a2", ""], ["juminka", "zeimu", ""]
NUMBERS = ["0312345678", "09011112222", "0462511111"]
DISPOSITIONS = ["complaint", "done", "it's \\ odd"]


@pytest.fixture(params=["chdb", pytest.param("clickhouse-server", marks=[pytest.mark.clickhouse_server,
                                                                      pytest.mark.slow])])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "chdb":
        index = open_index(f"chdb://{tmp_path / 'chdb'}")
        server = None
    else:
        if binary() is None:
            pytest.skip("Debian's clickhouse-server is not installed")
        server = ClickHouseServer(tmp_path / "clickhouse")
        server.start()
        index = open_index(server.url)
    index.migrate()
    try:
        yield index
    finally:
        index.close()
        if server is not None:
            server.kill()


def recording(tenant: str, n: int, minute: int, agent: str, queue: str, caller: str, callee: str,
              did: str) -> Recording:
    start = T0 + timedelta(minutes=minute)
    return Recording(tenant, str(uuid.UUID(int=n + 1)), f"call-{n % 4}", str(uuid.uuid4()), 1, start,
                     start + timedelta(seconds=30), 30_000, 2, "inbound", caller, callee, did, queue, agent, "",
                     "policy", "opus", 1000 + n, "0" * 64, f"{tenant}/{n}.ogg.hbr", "k1", start,
                     start + timedelta(days=1095))


rows = st.lists(st.tuples(st.integers(0, 60 * 24 * 40), st.sampled_from(AGENTS), st.sampled_from(QUEUES),
                          st.sampled_from(NUMBERS), st.sampled_from(NUMBERS), st.sampled_from(NUMBERS)),
                min_size=0, max_size=12)
dispositions = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(DISPOSITIONS), st.booleans()), max_size=6)
queries = st.fixed_dictionaries({
    "start": st.none() | st.integers(0, 60 * 24 * 40), "days": st.none() | st.integers(0, 40),
    "agent_id": st.none() | st.sampled_from(AGENTS[:2] + ["' OR 1=1 --"]),
    "number": st.none() | st.sampled_from(NUMBERS), "queue_id": st.none() | st.sampled_from(QUEUES[:2]),
    "disposition": st.none() | st.sampled_from(DISPOSITIONS), "limit": st.integers(1, 20)})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows, dispositions, queries)
def test_search_answers_what_a_plain_filter_picks(store: Store, made: list[tuple[int, str, str, str, str, str]],
                                                 saved: list[tuple[int, str, bool]], q: dict[str, object]) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    everything = [recording(tenant, n, *row) for n, row in enumerate(made)]
    latest: dict[str, str] = {}
    for k, (call, disposition, before) in enumerate(saved):     # a disposition may come before the row
        if before:
            recordings.save_disposition(store, tenant, f"call-{call}", disposition, "a1", T0 + timedelta(seconds=k))
            latest[f"call-{call}"] = disposition
    for r in everything:
        recordings.put(store, r)
        recordings.put(store, r)                                 # a retried index write: still one row
    for k, (call, disposition, before) in enumerate(saved):     # the agent's wrap-up, after the recording
        if not before:
            recordings.save_disposition(store, tenant, f"call-{call}", disposition, "a1",
                                        T0 + timedelta(hours=1, seconds=k))
            latest[f"call-{call}"] = disposition
    start = None if q["start"] is None else T0 + timedelta(minutes=int(str(q["start"])))
    end = None if start is None or q["days"] is None else start + timedelta(days=int(str(q["days"])))
    query = Query(tenant, start, end, q["agent_id"], q["number"], q["queue_id"],  # type: ignore[arg-type]
                  q["disposition"], int(str(q["limit"])))   # type: ignore[arg-type]

    def picked(r: Recording) -> bool:
        return ((start is None or r.start_time >= start) and (end is None or r.start_time < end)
                and (not query.agent_id or r.agent_id == query.agent_id)
                and (not query.queue_id or r.queue_id == query.queue_id)
                and (not query.number or query.number in (r.caller_number, r.callee_number, r.did))
                and (not query.disposition or latest.get(r.call_id, "") == query.disposition))
    expected = sorted((r for r in everything if picked(r)), key=lambda r: (-r.start_time.timestamp(), r.recording_id))
    found = recordings.search(store, query)
    assert [f.recording.recording_id for f in found] == [r.recording_id for r in expected][:query.limit]
    for f in found:
        assert f.disposition == latest.get(f.recording.call_id, "")
        assert f.recording == next(r for r in everything if r.recording_id == f.recording.recording_id)
    if everything:
        gone = everything[0]
        recordings.delete(store, tenant, gone.recording_id)
        assert recordings.get(store, tenant, gone.recording_id) is None
        assert gone.recording_id not in [f.recording.recording_id for f in
                                         recordings.search(store, Query(tenant, limit=500))]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 800 * 24), min_size=1, max_size=30), st.integers(1, 12), st.booleans(),
       st.none() | st.sampled_from(AGENTS[:2]))
def test_search_pages_across_its_week_month_quarter_and_year_windows(
        store: Store, hours: list[int], limit: int, bounded: bool, agent: str | None) -> None:
    """Rows spread over two years before the query's end (or now), some right at a window's edge: the
    page is the newest ``limit`` whichever window fills it first."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    end = datetime.now(UTC).replace(microsecond=0) if not bounded else T0 + timedelta(days=800)
    made = [hours[0], 7 * 24, 7 * 24 + 1, 31 * 24, 92 * 24, 366 * 24] + hours
    everything = []
    for n, h in enumerate(made):
        r = recording(tenant, n, 0, AGENTS[n % 2], "", "0312345678", "2001", "0462511111")
        start = end - timedelta(hours=h) - timedelta(seconds=1 if n % 3 else 0)
        everything.append(replace(r, start_time=start, end_time=start + timedelta(seconds=30)))
        recordings.put(store, everything[-1])
    query = Query(tenant, end=end if bounded else None, agent_id=agent, limit=limit)
    expected = sorted((r for r in everything if (not agent or r.agent_id == agent)
                       and (not bounded or r.start_time < end)),
                      key=lambda r: (-r.start_time.timestamp(), r.recording_id))
    found = recordings.search(store, query)
    assert [f.recording.recording_id for f in found] == [r.recording_id for r in expected][:limit]
