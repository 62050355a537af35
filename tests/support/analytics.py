"""Helpers of the analytics tests: publishing scripted events, waiting for the consumer, the
figures a person checks, and analytics as its own process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError

from hibiki.analytics.nats.event_consumer import DURABLE
from hibiki.analytics.storage import Store
from hibiki.common import bus
from hibiki.stack.ports import wait_for_port
from support.call_events import Day, Published


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
