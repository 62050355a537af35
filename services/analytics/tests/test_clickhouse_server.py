"""clickhouse-driver against a real ClickHouse server (Debian's 18.16): batches,
deduplication, and a server killed while events flow loses no row."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hibiki.analytics.app import main
from hibiki.analytics.cdr import from_event
from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.storage import open_store
from hibiki.common import bus
from support.servers import free_port, running

from support.cdr_events import cdr
from support.clickhouse_server import ClickHouseServer, binary

pytestmark = [pytest.mark.clickhouse_server,
              pytest.mark.skipif(binary() is None, reason="Debian's clickhouse-server is not installed")]


@pytest.fixture
def clickhouse(tmp_path: Path) -> Iterator[ClickHouseServer]:
    server = ClickHouseServer(tmp_path / "clickhouse")
    server.start()
    yield server
    server.kill()


def test_batch_insert_and_deduplication(clickhouse: ClickHouseServer) -> None:
    store = open_store(clickhouse.url)
    store.migrate()
    store.migrate()
    rows = [from_event(cdr("toshima", n).SerializeToString()) for n in range(500)]
    store.insert(rows)
    store.insert(rows[100:200])
    assert store.count("toshima") == 500
    assert store.event_ids("toshima") == sorted(r.event_id for r in rows)
    store.close()


async def test_server_killed_while_events_flow_loses_no_row(tmp_path: Path, clickhouse: ClickHouseServer,
                                                            nats_server: Any, nats_client: Any, authority: Any) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    config = dataclasses.replace(
        AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), clickhouse_url=clickhouse.url)
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    events = [cdr(tenant, n) for n in range(40)]
    store = open_store(clickhouse.url)
    async with running(main, config):
        for event in events[:20]:
            await bus.publish(js, bus.subject(tenant, "cdr", "created"), event.SerializeToString(), event.meta.id)
        clickhouse.kill()                      # in the middle of the stream
        for event in events[20:]:
            await bus.publish(js, bus.subject(tenant, "cdr", "created"), event.SerializeToString(), event.meta.id)
        clickhouse.start()                     # same data directory, same port
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline and count < 40:
            await nats_client.flush(timeout=2)
            try:
                count = store.count(tenant)
            except Exception:
                count = 0
        assert count == 40
    assert store.event_ids(tenant) == sorted(e.meta.id for e in events)
    store.close()
