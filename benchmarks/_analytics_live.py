"""The process ``bench analytics-stages --live-rate`` measures: analytics' durable consumer
(``EventConsumer`` with the service's defaults: batches of up to ``HIBIKI_ANALYTICS_BATCH_SIZE``,
``HIBIKI_ANALYTICS_BATCH_WAIT_MS``) and ``Ingestor`` over a chdb store, nothing else, until SIGTERM;
then one line of JSON on stdout: batches stored, the statements the store ran (count and
engine wall seconds of queries and inserts), the events stored and the tables' active parts.

``python -m benchmarks._analytics_live <nats url> <chdb path>``
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from benchmarks import _analytics_rows as rows


async def _serve(url: str, path: str) -> dict[str, Any]:
    import nats as nats_py

    from benchmarks._analytics_pipeline import TimedStore
    from hibiki.analytics.config import AnalyticsConfig
    from hibiki.analytics.ingest import Ingestor
    from hibiki.analytics.nats.event_consumer import EventConsumer
    from hibiki.analytics.storage import open_store
    from hibiki.common import bus

    config = AnalyticsConfig.from_env()
    store = open_store(f"chdb://{path}")
    store.migrate()
    timed: Any = TimedStore(store)       # the Store the service gets, timed
    nc = await nats_py.connect(url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await bus.ensure_events_stream(nc.jetstream())
        consumer = EventConsumer(nc, Ingestor(timed, retention=lambda _tenant: rows.RETENTION),
                                 max_batch=config.batch_size, max_wait=config.batch_wait)
        await consumer.start()
        print("ready", file=sys.stderr, flush=True)
        await stop.wait()
        await consumer.stop()
        return {"batches": consumer.stored_batches, **{f"{k}_n": v for k, v in timed.calls.items()},
                **{f"{k}_s": v for k, v in timed.seconds.items()},
                "by_statement": timed.by_statement,
                "stored": int(store.query("SELECT count() FROM hibiki.events FINAL")[0][0]),
                "parts": {str(t): int(n) for t, n in store.query(
                    "SELECT table, count() FROM system.parts WHERE active AND database = 'hibiki' GROUP BY table")}}
    finally:
        await nc.close()
        store.close()


def main() -> None:
    from hibiki.common.logging import configure

    configure("bench-analytics-live", "warning")
    print(json.dumps(asyncio.run(_serve(sys.argv[1], sys.argv[2]))), flush=True)


if __name__ == "__main__":
    main()
