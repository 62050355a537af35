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

``--live-rate R[,R2...]``: live traffic instead (small batches, the per-batch fixed cost). The
service's consumer and ingestor run alone in a child process (``_analytics_live``: the service's
batch settings, a chdb store of its own); this process publishes the same events, in the order they
happened, at a steady R events/s for ``--live-seconds`` (20), and reads the child's CPU (user +
system, chdb's threads included) from the first publish to the last acknowledgement: CPU % of one
core, and us of CPU per event; also the child's CPU when idle (pulls that bring nothing) and the
statements per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
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
    parser.add_argument("--live-rate", default="", help="live mode: events/s published steadily, e.g. 200,800")
    parser.add_argument("--live-wait-ms", type=int, default=0,
                        help="live mode: HIBIKI_ANALYTICS_BATCH_WAIT_MS of the consumer (default: the service's)")
    parser.add_argument("--live-seconds", type=float, default=20.0, help="live mode: seconds of traffic per rate")
    args = parser.parse_args(list(argv))
    base = Path(tempfile.mkdtemp(prefix="hibiki-bench-stages-"))
    try:
        if args.live_rate:
            return _live(args, base)
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


def _live(args: argparse.Namespace, base: Path) -> int:
    import sys

    from benchmarks import analytics
    from hibiki.stack.nats_server import nats_server_command

    rates = [int(r) for r in args.live_rate.split(",") if r.strip()]
    calls, _, _ = analytics.generate(Center(analytics.SOURCE), args.calls / full_size(), 1)
    wanted = int(max(rates) * args.live_seconds)
    by_day: dict[Any, list[Any]] = {}
    for c in calls:
        by_day.setdefault(c.started_at.astimezone(UTC).date(), []).append(c)
    events: list[Any] = []
    for day in sorted(by_day, reverse=True):      # the last days, enough for every rate
        events.extend(day_events(by_day[day]))
        if len(events) >= wanted * len(rates):
            break
    events.sort(key=lambda ev: ev.at)
    del calls
    gc.collect()
    from hibiki.analytics.config import AnalyticsConfig

    wait_ms = args.live_wait_ms or round(AnalyticsConfig.from_env({}).batch_wait * 1000)
    print(f"analytics live: the service's consumer and ingestor alone in a process (chdb, batch wait {wait_ms} ms), "
          "events published "
          f"steadily for {args.live_seconds:.0f} s at {', '.join(map(str, rates))} events/s; load average "
          f"{os.getloadavg()[0]:.1f} before")
    port = free_port()
    nats = Child("nats-server", nats_server_command("127.0.0.1", port, base / "js"), base / "nats.log")
    try:
        wait_port(port, 15)
        url = f"nats://127.0.0.1:{port}"
        root = Path(__file__).resolve().parents[1]
        child = Child("analytics-live", [sys.executable, "-m", "benchmarks._analytics_live", url, str(base / "chdb")],
                      base / "live.log", env={"PYTHONPATH": str(root), **(
                          {"HIBIKI_ANALYTICS_BATCH_WAIT_MS": str(args.live_wait_ms)} if args.live_wait_ms else {})})
        try:
            deadline = time.monotonic() + 60
            while "ready" not in (base / "live.log").read_text(errors="replace"):
                if child.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"analytics live: the child did not start: {(base / 'live.log').read_text()}")
                time.sleep(0.1)
            time.sleep(1.0)
            idle0 = child.cpu_seconds()
            time.sleep(5.0)
            print(f"  idle (pulls that bring nothing): {(child.cpu_seconds() - idle0) / 5.0 * 100:.1f} % of a core")
            sent = 0
            published: set[tuple[str, str, str]] = set()
            for rate in rates:
                n = int(rate * args.live_seconds)
                part = events[sent:sent + n]
                sent += len(part)
                published.update(_storable(part))
                wall, cpu = asyncio.run(_publish_steadily(url, part, rate, sent, child))
                print(f"  {rate:5d} events/s: {len(part):,} events in {wall:.1f} s to the last ack, "
                      f"{cpu / wall * 100:5.1f} % of a core, {cpu / len(part) * 1e6:6.0f} us of CPU per event")
        finally:
            child.stop()
        out = [line for line in (base / "live.log").read_text(errors="replace").splitlines() if line.startswith("{")]
        if out:
            stats = json.loads(out[-1])
            batches = max(1, stats["batches"])
            print(f"  {stats['stored']:,} events stored of {len(published):,} distinct storable events published")
            print(f"  per batch ({stats['batches']} batches): {stats['query_n'] / batches:.1f} queries "
                  f"({stats['query_s'] / batches * 1000:.1f} ms engine wall), {stats['insert_n'] / batches:.1f} inserts "
                  f"({stats['insert_s'] / batches * 1000:.1f} ms)")
            print(f"  active parts at the end: {stats['parts']}")
            for what, seconds in sorted(stats["by_statement"].items(), key=lambda kv: -kv[1])[:10]:
                print(f"    {seconds / batches * 1000:6.1f} ms/batch  {what}")
    finally:
        nats.stop()
    print(f"  load average {os.getloadavg()[0]:.1f} after")
    return 0


def _storable(events: Sequence[Any]) -> set[tuple[str, str, str]]:
    """(tenant, key, event id) of the events analytics stores."""
    from hibiki.analytics.events import IgnoredEvent, InvalidEvent, decode

    now, out = datetime.now(UTC), set()
    for ev in events:
        try:
            raw = decode(ev.subject, ev.payload, now)
        except (IgnoredEvent, InvalidEvent):
            continue
        out.add((raw.tenant, raw.key, raw.event_id))
    return out


async def _publish_steadily(url: str, events: Sequence[Any], rate: int, total: int, child: Child
                            ) -> tuple[float, float]:
    """Publish ``events`` at ``rate``/s (a tick every 10 ms); then wait until the consumer has
    acknowledged ``total`` messages. The child's wall and CPU seconds from the first publish."""
    import nats as nats_py

    from hibiki.analytics.nats.event_consumer import DURABLE
    from hibiki.common import bus

    nc = await nats_py.connect(url)
    try:
        js = nc.jetstream()
        t0, cpu0 = time.perf_counter(), child.cpu_seconds()
        for i in range(0, len(events), max(1, rate // 100)):
            due = t0 + i / rate
            if (pause := due - time.perf_counter()) > 0:
                await asyncio.sleep(pause)
            await asyncio.gather(*(js.publish(ev.subject, ev.payload) for ev in events[i:i + max(1, rate // 100)]))
        while True:
            info = await js.consumer_info(bus.EVENTS_STREAM, DURABLE)
            if info.ack_floor.stream_seq >= total and info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.02)
        return time.perf_counter() - t0, child.cpu_seconds() - cpu0
    finally:
        await nc.close()


def _per(cpu: float, n: int) -> float:
    return (time.process_time() - cpu) / max(n, 1) * 1e6
