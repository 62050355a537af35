"""The durable consumer's batches on a real NATS and chdb: a backlog is taken in full batches, and
its end (a tenth of a batch or more, nothing more pending) is stored at once instead of waiting
for ``max_wait``; every message is acknowledged once stored."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from hibiki.analytics.ingest import Ingestor
from hibiki.analytics.nats.event_consumer import DURABLE, EventConsumer, _may_be_last, _pending
from hibiki.analytics.storage import open_store
from hibiki.common import bus
from support.analytics import caught_up, publish
from support.call_events import Call

MAX_WAIT = 30.0        # far longer than the test may take: only a backlog's end can end a pull in time


def _call(tenant: str) -> Call:
    call = Call(tenant).started()
    call.leg(b=True, start=1, answer=2, end=32, user="2001")
    call.leg(answer=1, end=32)
    return call


def _count(store: Any, tenant: str) -> int:
    return int(store.query("SELECT count() FROM hibiki.calls FINAL WHERE tenant = %(t)s", {"t": tenant})[0][0])


async def test_a_backlog_in_full_batches_and_its_end_at_once(
        tmp_path: Path, nats_server: Any, nats_client: Any) -> None:
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    tenant = f"t{uuid.uuid4().hex[:8]}"
    backlog = [_call(tenant) for _ in range(300)]
    await publish(js, [e for call in backlog for e in call.events])      # 900 events before the start
    store = open_store(f"chdb://{tmp_path / 'chdb'}")
    store.migrate()
    sizes: list[int] = []
    consumer = EventConsumer(nats_client, Ingestor(store, lambda _tenant: 1095), max_batch=500,
                             max_wait=MAX_WAIT, on_batch=sizes.append)
    started = stopping = time.monotonic()
    await consumer.start()
    try:
        await caught_up(js, timeout=MAX_WAIT / 2)
        assert _count(store, tenant) == 300
        assert sizes == [500, 400]             # the backlog: full batches, its end at once
        late = [_call(tenant) for _ in range(20)]        # 60 events: more than a tenth of max_batch
        await publish(js, [e for call in late for e in call.events])
        deadline = time.monotonic() + MAX_WAIT / 3
        while sum(sizes) < 950:
            assert time.monotonic() < deadline, f"the end of a backlog waited for max_wait: {sizes}"
            await asyncio.sleep(0.05)
    finally:
        stopping = time.monotonic()
        await consumer.stop()                  # what is in hand (a trickle's last events) is stored
    try:
        assert time.monotonic() - stopping < 5, "stop waited for the pull in flight"
        assert time.monotonic() - started < MAX_WAIT
        assert _count(store, tenant) == 320 and sum(sizes) == 960
        info = await js.consumer_info(bus.EVENTS_STREAM, DURABLE)
        assert info.num_ack_pending == 0 and info.num_pending == 0 and info.delivered.stream_seq == 960
    finally:
        store.close()


def test_pending_is_read_from_either_form_of_the_ack_subject() -> None:
    assert _pending("$JS.ACK.EVENTS.analytics-calls.1.42.40.1733550000000000000.17") == 17
    assert _pending("$JS.ACK.hub.ACCOUNTHASH.EVENTS.analytics-calls.1.42.40.1733550000000000000.0.x7") == 0
    for odd in ("", "$JS.ACK.EVENTS.c.1.2.3", "$JS.ACK.EVENTS.c.1.2.3.4.²", "a.b.c.d.e.f.g.h.-1"):
        assert _pending(odd) is None
    for last in ("$JS.ACK.EVENTS.analytics-calls.1.42.40.1733550000000000000.0",
                 "$JS.ACK.hub.ACCOUNTHASH.EVENTS.analytics-calls.1.42.40.1733550000000000000.0.x7"):
        assert _may_be_last(last) and _pending(last) == 0
    assert not _may_be_last("$JS.ACK.EVENTS.analytics-calls.1.42.40.1733550000000000000.10")
