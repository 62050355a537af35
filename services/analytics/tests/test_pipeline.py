"""NATS JetStream -> the durable consumer -> chdb, end to end with real processes: a scripted day
gives exactly the counts a person makes, though the analytics process is killed (SIGKILL) in
the middle of the stream, some events are in the stream twice, and the whole stream is replayed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError

from hibiki.analytics.app import main
from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.nats.event_consumer import DURABLE
from hibiki.analytics.storage import Store, open_store
from hibiki.common import bus
from hibiki.stack.ports import wait_for_port
from support.call_events import Day, Published, scripted_day
from support.servers import free_port, running


async def publish(js: Any, events: list[Published], *, fresh_msg_id: bool = False) -> None:
    for event in events:
        msg_id = str(uuid.uuid4()) if fresh_msg_id else event.event_id   # a fresh id: JetStream keeps both
        await bus.publish(js, event.subject, event.payload(), msg_id)


async def caught_up(js: Any, timeout: float = 60) -> None:
    """Until the consumer has every message of the stream acknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = await js.consumer_info(bus.EVENTS_STREAM, DURABLE)
            if info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq > 0:
                return
        except NotFoundError:
            pass
        await js._nc.flush(timeout=2)
        await asyncio.sleep(0.1)
    raise AssertionError(f"consumer not caught up within {timeout} s")


def analytics_process(tmp_path: Path, nats_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_url,
           "HIBIKI_ANALYTICS_PORT": str(port), "HIBIKI_ANALYTICS_BATCH_SIZE": "25",
           "HIBIKI_ANALYTICS_BATCH_WAIT_MS": "100", "HIBIKI_ANALYTICS_ACK_WAIT_MS": "2000",
           "HIBIKI_LOG_LEVEL": "warning"}
    hibiki = Path(sys.executable).parent / "hibiki"
    process = subprocess.Popen([str(hibiki), "serve", "analytics", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, timeout=60)
    return process


def figures(store: Store, tenant: str) -> dict[str, Any]:
    results = store.query("SELECT result, count() FROM hibiki.calls FINAL WHERE tenant = %(t)s AND test_mode = 0 "
                          "GROUP BY result", {"t": tenant})
    sums = store.query("SELECT count(), sumIf(wait_ms, test_mode = 0), sumIf(talk_ms, result = 'answered' AND "
                       "test_mode = 0), sumIf(acw_ms, test_mode = 0), "
                       "countIf(test_mode = 1) FROM hibiki.calls FINAL WHERE tenant = %(t)s", {"t": tenant})[0]
    events = store.query("SELECT count(), uniqExact(event_id) FROM hibiki.events FINAL WHERE tenant = %(t)s",
                         {"t": tenant})[0]
    return {"results": dict(results), "calls": sums[0], "wait_ms": sums[1], "talk_ms": sums[2], "acw_ms": sums[3],
            "test_calls": sums[4], "events": events}


def expected(day: Day) -> dict[str, Any]:
    return {"results": day.results, "calls": day.calls + day.test_calls, "wait_ms": day.wait_ms,
            "talk_ms": day.talk_ms, "acw_ms": day.acw_ms, "test_calls": day.test_calls,
            "events": (len(day.events), len(day.events))}


async def test_killed_process_duplicates_and_replay_lose_and_double_nothing(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: Any) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    try:
        await js.delete_consumer(bus.EVENTS_STREAM, DURABLE)      # the session's NATS is shared by tests
    except NotFoundError:
        pass
    day = scripted_day(tenant, repeat=6)
    half = len(day.events) // 2
    port = free_port()

    process = analytics_process(tmp_path, nats_server.url, port)
    await publish(js, day.events[:half])
    await caught_up(js)
    await publish(js, day.events[half:])
    await publish(js, day.events[100:200], fresh_msg_id=True)       # in the stream twice
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)                              # in the middle of the batches
    assert process.wait(10) == -signal.SIGKILL
    info = await js.consumer_info(bus.EVENTS_STREAM, DURABLE)
    print(f"\nkilled with {info.num_pending} messages pending and {info.num_ack_pending} delivered unacknowledged")

    process = analytics_process(tmp_path, nats_server.url, port)
    await caught_up(js)
    process.terminate()
    assert process.wait(30) == 0
    store = open_store(f"chdb://{tmp_path / 'analytics' / 'chdb'}")
    assert figures(store, tenant) == expected(day)
    first_version = store.query("SELECT max(version) FROM hibiki.calls WHERE tenant = %(t)s", {"t": tenant})[0][0]
    store.close()

    # the whole stream again, from its first message
    await js.delete_consumer(bus.EVENTS_STREAM, DURABLE)
    config = dataclasses.replace(
        AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), batch_size=100)
    async with running(main, config):
        await caught_up(js)
    store = open_store(config.clickhouse_url)
    assert figures(store, tenant) == expected(day)
    assert store.query("SELECT max(version) FROM hibiki.calls WHERE tenant = %(t)s", {"t": tenant})[0][0] > first_version
    print(f"{day.calls + day.test_calls} calls, {len(day.events)} events (100 twice in the stream), "
          f"figures {figures(store, tenant)}")
    store.close()
