"""NATS JetStream -> durable consumer -> ClickHouse (chdb): nothing lost, nothing doubled,
across a restart of the analytics service."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from hibiki.analytics.app import main
from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.storage import open_store
from hibiki.common import bus
from hibiki.common.auth import Claims
from support.servers import free_port, running

from support.cdr_events import cdr


async def wait_for_count(port: int, token: str, tenant: str, want: int, nats_client: Any) -> int:
    """Ask the service until it reports ``want`` rows; each try waits on a NATS round trip."""
    count = -1
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            reply = await client.get(f"http://127.0.0.1:{port}/api/v1/tenants/{tenant}/cdr/count",
                                     headers={"Authorization": f"Bearer {token}"})
            count = reply.json()["cdr_count"]
            if count >= want:
                return int(count)
            await nats_client.flush(timeout=1)
    return int(count)


async def test_restart_loses_and_doubles_nothing(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                 authority: Any, service_token: str) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    config = dataclasses.replace(
        AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port())
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    events = [cdr(tenant, n) for n in range(30)]

    async with running(main, config):
        for event in events[:15]:
            await bus.publish(js, bus.subject(tenant, "cdr", "created"), event.SerializeToString(), event.meta.id)
        assert await wait_for_count(config.port, service_token, tenant, 15, nats_client) == 15

    # analytics is down: events keep coming, some of them twice
    for event in events[15:] + events[10:20]:
        await bus.publish(js, bus.subject(tenant, "cdr", "created"), event.SerializeToString(), event.meta.id)

    async with running(main, config):
        assert await wait_for_count(config.port, service_token, tenant, 30, nats_client) == 30
        async with httpx.AsyncClient() as client:
            other = await client.get(f"http://127.0.0.1:{config.port}/api/v1/tenants/{tenant}/cdr/count",
                                     headers={"Authorization": "Bearer " + authority.issue(Claims("u", "user", "other"))})
            assert other.status_code == 403 and other.json()["error_id"] == "forbidden-tenant"

    store = open_store(config.clickhouse_url)
    assert store.event_ids(tenant) == sorted(e.meta.id for e in events)
    store.close()
