"""NATS JetStream -> the durable consumer -> chdb, end to end with real processes: a scripted day
gives exactly the counts a person makes, though the analytics process is killed (SIGKILL) in
the middle of the stream, some events are in the stream twice, two can never be stored, and the
whole stream is replayed."""

from __future__ import annotations

import dataclasses
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError

from hibiki.analytics.app import main
from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.nats.event_consumer import DURABLE
from hibiki.analytics.storage import open_store
from hibiki.common import bus
from support.analytics import analytics_process, caught_up, expected, figures, publish
from support.call_events import scripted_day
from support.servers import free_port, running


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
    for poison in (b"\xff\xff\xff", b""):            # never storable: logged, acknowledged, not retried forever
        await bus.publish(js, f"hibiki.{tenant}.call.ended", poison, str(uuid.uuid4()))
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
