"""clickhouse-driver against a real ClickHouse server (Debian's 18.16, the oldest we can
install): the migrations in its dialect, the same queries as chdb, and a server killed while
events flow loses no row and doubles none."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from hibiki.analytics.app import main
from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.events import decode
from hibiki.analytics.ingest import Ingestor
from hibiki.analytics.nats.event_consumer import DURABLE
from hibiki.analytics.storage import StoreUnavailable, open_store
from hibiki.analytics.storage.migrations import MIGRATIONS
from hibiki.common import bus
from hibiki.common.errors import ConfigError
from support.analytics import caught_up, expected, figures, publish
from support.call_events import T0, Call, scripted_day
from support.clickhouse_server import ClickHouseServer, binary
from support.servers import free_port, running

pytestmark = [pytest.mark.clickhouse_server,
              pytest.mark.skipif(binary() is None, reason="Debian's clickhouse-server is not installed")]


@pytest.fixture
def clickhouse(tmp_path: Path) -> Iterator[ClickHouseServer]:
    server = ClickHouseServer(tmp_path / "clickhouse")
    server.start()
    yield server
    server.kill()


def test_schema_and_queries_on_the_oldest_server(clickhouse: ClickHouseServer) -> None:
    store = open_store(clickhouse.url)
    assert [m.number for m in store.migrate()] == [m.number for m in MIGRATIONS]
    assert store.migrate() == []
    version = store.query("SELECT version()")[0][0]
    print(f"\nClickHouse server {version}: dialect {store.dialect.name}")
    assert store.dialect.name == "legacy-18.16" and not store.dialect.ttl
    assert store.query("SELECT number, dialect FROM hibiki.schema_migrations FINAL ORDER BY number") == [
        (m.number, "legacy-18.16") for m in MIGRATIONS]
    attack = "x'); DROP TABLE hibiki.calls; --"
    assert store.query("SELECT count() FROM hibiki.calls WHERE tenant = %(t)s", {"t": attack}) == [(0,)]
    assert store.query("SELECT %(v)s, %(l)s, toDateTime(%(w)s, 'UTC')", {"v": "a'\\b\n", "l": ["x", "y"], "w": T0}) == [
        ("a'\\b\n", ["x", "y"], T0)]

    ingestor = Ingestor(store, lambda tenant: 1095)
    day = scripted_day("toshima", repeat=2)
    now = datetime.now(UTC)
    batch = [decode(e.subject, e.payload(), now) for e in day.events]
    ingestor.store_batch(batch[:40])
    ingestor.store_batch(batch[20:])
    ingestor.store_batch(batch[:10])                    # redelivered
    assert figures(store, "toshima") == expected(day)
    row = store.query("SELECT answer_time, start_time FROM hibiki.calls FINAL WHERE tenant = 'toshima' "
                      "AND result = 'answered' ORDER BY start_time LIMIT 1")[0]
    assert row == (T0 + timedelta(minutes=3, seconds=10), T0 + timedelta(minutes=3))   # whole seconds, UTC
    # a batch of 3,000 calls: their keys as literals are past the default max_query_size (256 KiB)
    many = [Call("bulk").started() for _ in range(3000)]
    for call in many:
        call.leg(b=True, start=1, answer=2, end=32, user="2001")
        call.leg(answer=1, end=32)
    ingestor.store_batch([decode(e.subject, e.payload(), now) for call in many for e in call.events])
    assert store.query("SELECT count(), countIf(result = 'answered' AND talk_ms = 30000) FROM hibiki.calls FINAL "
                       "WHERE tenant = 'bulk'") == [(3000, 3000)]
    store.close()
    with pytest.raises(ConfigError, match="the database is 'hibiki'"):
        open_store(clickhouse.url.replace("/hibiki", "/other"))


def test_a_stopped_server_is_unavailable_not_a_crash(clickhouse: ClickHouseServer) -> None:
    store = open_store(clickhouse.url)
    store.migrate()
    clickhouse.kill()
    with pytest.raises(StoreUnavailable):
        store.query("SELECT 1")
    clickhouse.start()
    assert store.query("SELECT 1") == [(1,)]             # the driver reconnects
    store.close()


async def test_server_killed_while_events_flow_loses_and_doubles_nothing(
        tmp_path: Path, clickhouse: ClickHouseServer, nats_server: Any, nats_client: Any, authority: Any) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    config = dataclasses.replace(
        AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), clickhouse_url=clickhouse.url, batch_size=20, batch_wait=0.05, ack_wait=2.0)
    day = scripted_day(tenant, repeat=4)
    store = open_store(clickhouse.url)
    with structlog.testing.capture_logs() as logs:
        async with running(main, config):
            await publish(js, day.events[:100])
            clickhouse.kill()                           # in the middle of the stream
            await publish(js, day.events[100:])
            await publish(js, day.events[50:150], fresh_msg_id=True)
            await asyncio.sleep(1.5)                    # batches fail while it is down
            clickhouse.start()                          # same data directory, same port
            await caught_up(js, timeout=120)
    failed = [line for line in logs if line["event"] == "batch_not_stored"]
    assert failed, "no batch met the stopped server"
    store.migrate()
    assert figures(store, tenant) == expected(day)
    print(f"\n{day.calls + day.test_calls} calls, {len(day.events)} events through a server killed mid-stream: "
          f"{figures(store, tenant)}; {len(failed)} batches failed and came again")
    store.close()
    assert DURABLE == "analytics-calls"


def test_migration_3_adds_node_lost_on_the_oldest_server(clickhouse: ClickHouseServer) -> None:
    """An 18.16 server with migrations 1-2 and a call stored: migration 3 extends calls.result's
    Enum8 with node_lost (ALTER ... MODIFY COLUMN), the stored call intact."""
    from support.node_lost import migrate_an_older_schema_to_node_lost
    store = open_store(clickhouse.url)
    migrate_an_older_schema_to_node_lost(store, "nodeloss")
    assert store.query("SELECT number, dialect FROM hibiki.schema_migrations FINAL ORDER BY number") == [
        (m.number, "legacy-18.16") for m in MIGRATIONS]
    store.close()
