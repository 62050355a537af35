"""Replicated stores for real (issue 16, OPS-01, OPS-05; README "Failover between data centers"):
Debian's ZooKeeper and two Debian clickhouse-server 18.16 replicas (tests/support/clickhouse_cluster.py).

Analytics (its consumer, fed by real NATS events) and the recording index (its store) create their
schema ON CLUSTER against replica 1 and write with ``insert_quorum=2``; replica 1 is SIGKILLed with
index rows being written: every row acknowledged before the kill is on replica 2, counted exactly,
none twice; the services pointed at replica 2 go on writing; replica 1, started again, catches up.
The second test shows what the quorum changes: without it, a row replica 1 acknowledged and
replica 2 has not fetched yet is missing on replica 2; with it, that row is never acknowledged."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hibiki.analytics.app import main as analytics_main
from hibiki.analytics.config import AnalyticsConfig
from hibiki.common import bus
from hibiki.recording.index import recordings
from hibiki.recording.index.server_store import IndexUnavailable, ServerStore
from hibiki.recording.index.stores import open_index
from support.analytics import caught_up, publish
from support.call_events import Call
from support.clickhouse_cluster import CLUSTER, ReplicatedCluster, missing
from support.servers import NatsServer, free_port, running

pytestmark = [pytest.mark.slow, pytest.mark.clickhouse_server, pytest.mark.timeout(600),
              pytest.mark.skipif(missing() is not None, reason=str(missing()))]
TENANT = "toshima"


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ReplicatedCluster]:
    started = ReplicatedCluster(tmp_path / "clickhouse")
    try:
        started.start()
        yield started
    finally:
        started.stop()


def recording(n: int) -> recordings.Recording:
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=n)
    return recordings.Recording(
        tenant=TENANT, recording_id=f"rec-{n:05d}-{uuid.uuid4().hex[:6]}", call_id=f"call-{n}", leg_uuid=f"leg-{n}",
        part=0, start_time=at, end_time=at + timedelta(seconds=30), duration_ms=30_000, channels=2,
        direction="inbound", caller_number="0312345678", callee_number="0339811111", did="0339811111",
        queue_id="kuyakusho", agent_id="a1", user_id="", reason="", codec="opus", size_bytes=1000,
        sha256="0" * 64, object_key=f"{TENANT}/rec-{n}", key_id="k1", stored_at=at, delete_after=at + timedelta(days=365))


def calls(count: int, start: datetime) -> list[Any]:
    made = []
    for n in range(count):
        call = Call(TENANT, start=start + timedelta(minutes=n))
        call.started(destination="0339811111")
        call.queued(2, "kuyakusho")
        call.agent_answered(10, "kuyakusho", "a1", 8000)
        call.leg(end=60, b=True, answer=10, bridged=10, agent_id="a1", queue_id="kuyakusho")
        call.leg(end=60, answer=1, caller_number="0312345678", destination_number="0339811111", did="0339811111")
        made.append(call)
    return made


def analytics_config(tmp_path: Path, nats_url: str, url: str, quorum: int) -> AnalyticsConfig:
    return dataclasses.replace(AnalyticsConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "analytics"), "HIBIKI_NATS_URL": nats_url,
        "HIBIKI_ANALYTICS_CLICKHOUSE_URL": url, "HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER": CLUSTER,
        "HIBIKI_ANALYTICS_CLICKHOUSE_INSERT_QUORUM": str(quorum), "HIBIKI_ANALYTICS_ACK_WAIT_MS": "2000"}),
        port=free_port(), batch_wait=0.05)


def counted(store: ServerStore) -> dict[str, tuple[int, int]]:
    """Rows and distinct keys per table of this replica (no FINAL: a row stored twice counts twice)."""
    out = {}
    for table, key in (("recordings", "recording_id"), ("calls", "call_id"), ("events", "event_id")):
        out[table] = tuple(store.query(f"SELECT count(), uniqExact({key}) FROM hibiki.{table} "
                                       "WHERE tenant = %(t)s", {"t": TENANT})[0])
    return out  # type: ignore[return-value]


def recording_ids(store: ServerStore) -> set[str]:
    return {r[0] for r in store.query("SELECT recording_id FROM hibiki.recordings WHERE tenant = %(t)s", {"t": TENANT})}


class Writer(threading.Thread):
    """Puts index rows one after the other; ``acknowledged``: those whose INSERT returned."""

    def __init__(self, store: ServerStore, first: int) -> None:
        super().__init__(daemon=True)
        self.store, self.next = store, first
        self.acknowledged: list[str] = []
        self.attempted: list[str] = []
        self.failed: Exception | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            row = recording(self.next)
            self.next += 1
            self.attempted.append(row.recording_id)
            try:
                recordings.put(self.store, row)
            except Exception as exc:   # the kill: this row is not acknowledged
                self.failed = exc
                return
            self.acknowledged.append(row.recording_id)


async def _until(check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await asyncio.to_thread(check)):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)
    return value


async def test_a_replica_killed_loses_no_acknowledged_row(tmp_path: Path, cluster: ReplicatedCluster,
                                                           nats_server: NatsServer, nats_client: Any) -> None:
    r1, r2 = cluster.replicas
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    before = calls(20, start)
    index = open_index(r1.url, CLUSTER, 2)
    assert isinstance(index, ServerStore)
    await asyncio.to_thread(index.migrate)
    async with running(analytics_main, analytics_config(tmp_path, nats_server.url, r1.url, 2)):
        for call in before:
            await publish(js, call.events)
        await caught_up(js)                      # every event acknowledged to NATS: stored with the quorum
        writer = Writer(index, 0)
        writer.start()
        await _until(lambda: len(writer.acknowledged) >= 30)
        r1.kill()
        killed = time.monotonic()
        writer.join(60)
        assert not writer.is_alive() and writer.failed is not None
    index.close()
    print(f"\n  replica 1 SIGKILLed: {len(writer.acknowledged)} index rows acknowledged, "
          f"{len(writer.attempted) - len(writer.acknowledged)} in flight ({type(writer.failed).__name__})")

    # replica 2 alone: what was acknowledged is there, once
    survivor = open_index(r2.url, CLUSTER)
    assert isinstance(survivor, ServerStore)
    await asyncio.to_thread(survivor.migrate)     # no ON CLUSTER DDL: it would wait for replica 1
    on_r2 = await asyncio.to_thread(counted, survivor)
    ids = await asyncio.to_thread(recording_ids, survivor)
    lost = set(writer.acknowledged) - ids
    print(f"  on replica 2 at once: {on_r2}; acknowledged rows lost: {len(lost)}")
    assert not lost
    assert ids <= set(writer.attempted)
    assert on_r2["recordings"][0] == on_r2["recordings"][1] == len(ids)
    assert on_r2["calls"] == (len(before), len(before))
    assert survivor.query("SELECT result, count() FROM hibiki.calls FINAL WHERE tenant = %(t)s GROUP BY result",
                          {"t": TENANT}) == [("answered", len(before))]
    assert on_r2["events"][0] == on_r2["events"][1] == sum(len(c.events) for c in before)

    # the services pointed at replica 2 (without the quorum: one replica is left) go on writing
    after = calls(10, start + timedelta(minutes=30))
    async with running(analytics_main, analytics_config(tmp_path, nats_server.url, r2.url, 0)):
        for call in after:
            await publish(js, call.events)
        resumed = recording(50_000)
        await asyncio.to_thread(recordings.put, survivor, resumed)
        index_recovered = time.monotonic() - killed
        await _until(lambda: counted(survivor)["calls"][1] == len(before) + len(after))
        recovered = time.monotonic() - killed
        await caught_up(js)
    more = await asyncio.to_thread(counted, survivor)
    print(f"  writing through replica 2 after the kill: the index in {index_recovered:.1f} s, analytics' "
          f"call records (restarted on replica 2) in {recovered:.1f} s; replica 2 now {more}")
    assert more["calls"] == (len(before) + len(after),) * 2

    # with the quorum, replica 2 alone refuses a write: not acknowledged (the caller keeps it and
    # retries); ClickHouse may keep the part it wrote before the quorum timed out (as an INSERT cut
    # by a kill), so an unacknowledged row may show: never an acknowledged one missing
    quorum_alone = open_index(r2.url, CLUSTER, 2)
    refused = recording(90_000)
    with pytest.raises(Exception, match="(?i)quorum|replica") as refusal:
        await asyncio.to_thread(recordings.put, quorum_alone, refused)
    quorum_alone.close()
    print(f"  replica 2 alone with insert_quorum=2: refused ({' '.join(str(refusal.value).split())[:160]})")

    now_ids = await asyncio.to_thread(recording_ids, survivor)
    more = await asyncio.to_thread(counted, survivor)
    assert ids | {resumed.recording_id} <= now_ids <= ids | {resumed.recording_id, refused.recording_id}
    assert more["recordings"] == (len(now_ids),) * 2

    # replica 1 started again catches up (and keeps what it had)
    restarted = time.monotonic()
    r1.start()
    back = open_index(r1.url, CLUSTER)
    assert isinstance(back, ServerStore)
    await asyncio.to_thread(back.migrate)

    def same() -> bool:
        try:
            return counted(back) == more
        except IndexUnavailable:
            return False

    await _until(same)
    print(f"  replica 1 caught up {time.monotonic() - restarted:.1f} s after its restart: {counted(back)}")
    back.close()
    survivor.close()


async def test_the_insert_quorum_acknowledges_only_what_both_replicas_hold(cluster: ReplicatedCluster) -> None:
    """Replica 2 stops fetching (as when it lags): replica 1 alone acknowledges a row that replica 2
    has not, which a SIGKILL of replica 1 then takes away; with insert_quorum=2 the same write is
    refused (the caller keeps it: the recording service leaves the message unacknowledged in NATS)."""
    r1, r2 = cluster.replicas
    alone = open_index(r1.url, CLUSTER)
    assert isinstance(alone, ServerStore)
    await asyncio.to_thread(alone.migrate)
    quorum = open_index(r1.url, CLUSTER, 2)
    other = open_index(r2.url, CLUSTER)
    assert isinstance(other, ServerStore)
    await asyncio.to_thread(other.execute, "SYSTEM STOP FETCHES hibiki.recordings")
    without, with_quorum = recording(1), recording(2)
    await asyncio.to_thread(recordings.put, alone, without)          # acknowledged by replica 1 alone
    started = time.monotonic()
    with pytest.raises(Exception) as refusal:                        # waits insert_quorum_timeout, then refuses
        await asyncio.to_thread(recordings.put, quorum, with_quorum)
    print(f"\n  insert_quorum=2 with replica 2 not fetching: refused after {time.monotonic() - started:.1f} s "
          f"({' '.join(str(refusal.value).split())[:160]})")
    r1.kill()
    on_r2 = await asyncio.to_thread(recording_ids, other)
    print(f"  replica 1 killed: acknowledged without the quorum and missing on replica 2: "
          f"{int(without.recording_id not in on_r2)}; acknowledged with the quorum and missing: 0 (none was)")
    assert without.recording_id not in on_r2
    await asyncio.to_thread(other.execute, "SYSTEM START FETCHES hibiki.recordings")
    r1.start()                                                       # back: replica 2 fetches what it lacked
    await _until(lambda: without.recording_id in recording_ids(other))
    for store in (alone, quorum, other):
        store.close()
