"""``./dev bench analytics-stages``: where an ingested event's time goes, stage by stage.

The events of ``--sample`` calls (the generator of ``bench analytics``, its last days) are
published to JetStream (a nats-server of the bench's own), then each stage of the pipeline runs
alone, one after another in this process, over all of them, and its process CPU (chdb's threads
included) is divided by the events:

1. fetch: the consumer's own pull (``EventConsumer._gather``: JetStream pull requests into a
   callback subscription), and for comparison nats-py's ``PullSubscription.fetch`` on a second
   durable of the same configuration;
2. decode: ``events.decode`` (protobuf, checks, the raw event);
3. store: ``Ingestor.store_batch`` in batches of ``--batch`` (with the engine's wall time per
   statement);
4. ack: one ``+ACK`` a message (``Msg.ack``).

No target: the figures say which stage a change should go after (``bench analytics`` measures
the pipeline as a whole against a client's bulk insert).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import _analytics_rows as rows
from benchmarks._analytics_events import day_events
from benchmarks._callcenter import Center, full_size
from benchmarks._processes import Child, free_port, wait_port


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench analytics-stages", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls generated (the sample is the last ones)")
    parser.add_argument("--sample", type=int, default=2_000, help="calls whose events are ingested (default 2,000)")
    parser.add_argument("--batch", type=int, default=10_000, help="the consumer's largest batch (default 10,000)")
    args = parser.parse_args(list(argv))
    base = Path(tempfile.mkdtemp(prefix="hibiki-bench-stages-"))
    try:
        return _run(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(args: argparse.Namespace, base: Path) -> int:
    from benchmarks import analytics
    from benchmarks._analytics_pipeline import TimedStore
    from hibiki.analytics.storage import open_store
    from hibiki.common.logging import configure
    from hibiki.stack.nats_server import nats_server_command

    configure("bench-analytics-stages", "warning")
    store = open_store(f"chdb://{base / 'chdb'}")
    store.migrate()
    calls, _, _ = analytics.generate(Center(analytics.SOURCE), args.calls / full_size(), 1)
    by_day: dict[Any, list[Any]] = {}
    for c in calls[-args.sample:]:
        by_day.setdefault(c.started_at.astimezone(UTC).date(), []).append(c)
    events = sorted((ev for day in by_day.values() for ev in day_events(day)), key=lambda ev: ev.at)
    del calls
    gc.collect()
    gc.freeze()                   # the generator's objects are not the service's (see bench analytics)
    port = free_port()
    nats = Child("nats-server", nats_server_command("127.0.0.1", port, base / "js"), base / "nats.log")
    try:
        wait_port(port, 15)
        print(f"analytics stages: {args.sample:,} calls -> {len(events):,} events, batches of {args.batch:,}; "
              f"load average {os.getloadavg()[0]:.1f} before")
        timed = TimedStore(store)
        figures, n, fetched, distinct = asyncio.run(_stages(f"nats://127.0.0.1:{port}", timed, events, args.batch))
        stored = int(store.query("SELECT count() FROM hibiki.events FINAL")[0][0])
    finally:
        nats.stop()
        store.close()
    print(f"  {n:,} of {len(events):,} events fetched by the consumer's pull, {fetched:,} by nats-py's fetch, "
          f"{stored:,} stored (of {distinct:,} distinct event ids)")
    for name, us in figures.items():
        print(f"  {us:7.1f} us/event  {name}")
    print(f"  engine wall in store: {timed.seconds['query'] / n * 1e6:.1f} us/event in {timed.calls['query']} queries, "
          f"{timed.seconds['insert'] / n * 1e6:.1f} us/event in {timed.calls['insert']} inserts:")
    for what, seconds in sorted(timed.by_statement.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {seconds / n * 1e6:6.1f} us/event  {what}")
    print(f"  load average {os.getloadavg()[0]:.1f} after")
    return 0


async def _stages(url: str, store: Any, events: Sequence[Any], batch: int) -> tuple[dict[str, float], int, int, int]:
    import nats as nats_py
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from hibiki.analytics.events import IgnoredEvent, InvalidEvent, decode
    from hibiki.analytics.ingest import Ingestor
    from hibiki.analytics.nats.event_consumer import SUBJECTS, EventConsumer
    from hibiki.common import bus

    figures: dict[str, float] = {}
    decoded: list[Any] = []
    nc = await nats_py.connect(url)
    try:
        js = nc.jetstream()
        await bus.ensure_events_stream(js)
        for start in range(0, len(events), 1000):
            await asyncio.gather(*(js.publish(ev.subject, ev.payload) for ev in events[start:start + 1000]))
        ingestor = Ingestor(store, retention=lambda _tenant: rows.RETENTION)
        consumer = EventConsumer(nc, ingestor, max_batch=batch, ack_wait=120.0)
        sub = await consumer._subscribe()
        messages: list[Any] = []
        cpu = time.process_time()
        while got := await consumer._gather(sub):
            messages.extend(got)
        n = len(messages)
        figures["fetch: the consumer's pull requests into a callback subscription"] = _per(cpu, n)
        await js.add_consumer(bus.EVENTS_STREAM, ConsumerConfig(
            durable_name="stages-nats-py-fetch", ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
            filter_subjects=SUBJECTS, ack_wait=120.0, max_ack_pending=max(10_000, 4 * batch)))
        pull = await js.pull_subscribe_bind(durable="stages-nats-py-fetch", stream=bus.EVENTS_STREAM)
        fetched = 0
        cpu = time.process_time()
        while fetched < n:
            try:
                fetched += len(await pull.fetch(batch, timeout=1.0))
            except (TimeoutError, nats_py.errors.TimeoutError):
                break
        figures["fetch: nats-py's PullSubscription.fetch (for comparison)"] = _per(cpu, fetched)
        now = datetime.now(UTC)
        cpu = time.process_time()
        for msg in messages:
            try:
                decoded.append(decode(msg.subject, msg.data, now))
            except (IgnoredEvent, InvalidEvent):
                pass
        figures["decode: events.decode"] = _per(cpu, n)
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(decoded), batch):
            ingestor.store_batch(decoded[start:start + batch])
        figures["store: Ingestor.store_batch (CPU, chdb's threads included)"] = _per(cpu, n)
        figures["store: Ingestor.store_batch (wall)"] = (time.perf_counter() - wall) / n * 1e6
        cpu = time.process_time()
        for msg in messages:
            await msg.ack()
        await nc.flush()
        figures["ack: Msg.ack, one a message"] = _per(cpu, n)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return figures, n, fetched, len({(e.tenant, e.key, e.event_id) for e in decoded})


def _per(cpu: float, n: int) -> float:
    return (time.process_time() - cpu) / max(n, 1) * 1e6
