"""Ingest through the pipeline, next to a client bulk-inserting the same rows by the engine's fastest path.

The pipeline: the events of the sample's calls (``_analytics_events``), in the order they happened,
published to JetStream (a nats-server of the bench's own, the service's events stream; not timed),
then read by analytics' own durable consumer (``EventConsumer``: fetch, ``events.decode``,
``Ingestor.store_batch`` in batches of up to ``--batch``, acks after each stored batch) into the store
``open_store("chdb://...")`` opens: raw events, then the calls, legs and agent intervals
recomputed from them. Timed from the consumer's start to the moment JetStream has every message
acknowledged (nothing pending, nothing unacknowledged). Its rows/s counts the rows the tables hold
afterwards (``FINAL``: events, calls, legs, agent_states).

The baseline: those same rows (read back from the four tables, another tenant's) bulk-inserted by
a client through the engine's fastest client path for chdb (Python rows -> Arrow columns ->
``INSERT ... SELECT FROM Python()``, one insert per table), timed from the rows in the client's
memory to the inserts returning, in the same store right after. (The engine copying rows within
itself, ``INSERT ... SELECT`` from table to table, was the earlier baseline: no client could
insert that way, and it skipped everything a client pays.) Then the pipeline's call records are
compared with the generator's own idea of each call (``_analytics_rows.call_row``), column by column.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import _analytics_rows as rows
from benchmarks._analytics_db import DB, ChdbDb, literal
from benchmarks._analytics_events import day_events
from benchmarks._callcenter import Call
from benchmarks._processes import Child, free_port, wait_port

BATCH = 10_000
TABLES = ("events", "calls", "legs", "agent_states")
COMPARED = ("direction", "did", "agent_id", "start_time", "answer_time", "end_time", "wait_ms", "talk_ms", "hold_ms",
            "acw_ms", "ivr_path", "queue_id", "queues", "overflowed", "result", "disposition", "transfer_target",
            "recording_id", "test_mode", "legs")


class TimedStore:
    """The Store the Ingestor gets, counting its calls and the time spent in the engine."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.dialect = store.dialect
        self.seconds = {"query": 0.0, "insert": 0.0}
        self.calls = {"query": 0, "insert": 0}
        self.by_statement: dict[str, float] = {}

    def _timed(self, kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            seconds = time.perf_counter() - t0
            self.seconds[kind] += seconds
            self.calls[kind] += 1
            what = f"insert {args[0]}" if kind == "insert" else " ".join(str(args[0]).split()[:12])
            self.by_statement[what] = self.by_statement.get(what, 0.0) + seconds

    def query(self, sql: str, params: Any = None) -> Any:
        return self._timed("query", self._store.query, sql, params)

    def execute(self, sql: str, params: Any = None) -> None:
        self._timed("query", self._store.execute, sql, params)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self._timed("insert", self._store.insert, table, columns, rows)


@dataclass
class Measured:
    events: int
    rows: int
    pipeline_s: float
    engine_rows: int
    engine_s: float
    pipeline_cpu_s: float = 0.0
    engine_cpu_s: float = 0.0

    @property
    def pipeline_rows_per_s(self) -> float:
        return self.rows / self.pipeline_s

    @property
    def engine_rows_per_s(self) -> float:
        return self.engine_rows / self.engine_s


def measure(db: ChdbDb, store: Any, tenant: str, calls: Sequence[Call], say: Callable[[str], None],
            batch_size: int = BATCH, repeat: int = 3) -> Measured:
    from hibiki.stack.nats_server import nats_server_command

    by_day: dict[Any, list[Call]] = {}
    for c in calls:
        by_day.setdefault(c.started_at.astimezone(UTC).date(), []).append(c)
    t0 = time.perf_counter()
    events = [ev for day in by_day.values() for ev in day_events(day)]
    events.sort(key=lambda ev: ev.at)
    build_s = time.perf_counter() - t0
    timed = TimedStore(store)
    work = Path(tempfile.mkdtemp(prefix="hibiki-bench-nats-"))
    port = free_port()
    nats = Child("nats-server", nats_server_command("127.0.0.1", port, work / "js"), work / "nats.log")
    try:
        wait_port(port, 15)
        say(f"pipeline: {len(calls):,} calls of the last days -> {len(events):,} events (built in {build_s:.1f} s) "
            f"on JetStream, read by analytics' durable consumer in batches of up to {batch_size}, stored by "
            f"Ingestor.store_batch, acknowledged; best of {repeat} runs (each a new consumer from the stream's "
            "first message, a new Ingestor: the same work again, idempotent)")
        # the generator's three years of calls are this process's objects, not the service's: left to
        # the cyclic GC, every full collection during the run would walk them (a service holds its
        # caches only; measured: 15-20 % of the store path's CPU with 20,000 generated calls, more at 600,000)
        gc.collect()
        gc.freeze()
        try:
            runs = asyncio.run(_through_jetstream(f"nats://127.0.0.1:{port}", timed, events, batch_size, repeat))
        finally:
            gc.unfreeze()
    finally:
        nats.stop()
        shutil.rmtree(work, ignore_errors=True)
    elapsed, cpu_s, batches = min(runs)
    say(f"  per batch ({batches} batches a run): {timed.calls['query'] / batches / repeat:.0f} queries "
        f"({timed.seconds['query'] / batches / repeat * 1000:.0f} ms), "
        f"{timed.calls['insert'] / batches / repeat:.0f} inserts "
        f"({timed.seconds['insert'] / batches / repeat * 1000:.0f} ms); runs took "
        f"{', '.join(f'{r[0]:.2f}' for r in runs)} s ({', '.join(f'{r[1]:.2f}' for r in runs)} s of CPU)")
    stored = {t: _count_final(db, t, tenant) for t in TABLES}
    n_rows = sum(stored.values())
    say(f"  stored {', '.join(f'{n:,} {t}' for t, n in stored.items())} = {n_rows:,} rows in {elapsed:.2f} s from "
        f"the consumer's start to the last ack: {n_rows / elapsed:,.0f} rows/s, {len(events) / elapsed:,.0f} events/s "
        f"({cpu_s:.2f} s of CPU)")
    copied, engine_s, engine_cpu_s = _client_bulk_insert(db, store, tenant, repeat)
    say(f"  a client's bulk insert of the same rows (Arrow columns, INSERT ... SELECT FROM Python(), one per table), "
        f"best of {repeat}: {copied:,} rows in {engine_s:.2f} s: {copied / engine_s:,.0f} rows/s "
        f"({engine_cpu_s:.2f} s of CPU)")
    _compare(db, tenant, calls, say)
    return Measured(len(events), n_rows, elapsed, copied, engine_s, cpu_s, engine_cpu_s)


async def _through_jetstream(url: str, store: Any, events: Sequence[Any], batch_size: int,
                             repeat: int) -> list[tuple[float, float, int]]:
    """Publish the events, then time the service's consumer storing and acknowledging all of them
    (wall and process CPU seconds, batches), ``repeat`` times."""
    import nats as nats_py
    from nats.js.errors import NotFoundError

    from hibiki.analytics.ingest import Ingestor
    from hibiki.analytics.nats.event_consumer import DURABLE, EventConsumer
    from hibiki.common import bus

    nc = await nats_py.connect(url)
    runs = []
    try:
        js = nc.jetstream()
        await bus.ensure_events_stream(js)
        for start in range(0, len(events), 1000):
            await asyncio.gather(*(js.publish(ev.subject, ev.payload) for ev in events[start:start + 1000]))
        for _ in range(repeat):
            try:
                await js.delete_consumer(bus.EVENTS_STREAM, DURABLE)
            except NotFoundError:
                pass
            ingestor = Ingestor(store, retention=lambda _tenant: rows.RETENTION)
            consumer = EventConsumer(nc, ingestor, max_batch=batch_size)
            t0, cpu0 = time.perf_counter(), time.process_time()
            await consumer.start()
            while True:
                await asyncio.sleep(0.02)
                try:
                    info = await js.consumer_info(bus.EVENTS_STREAM, DURABLE)
                except NotFoundError:   # not created yet
                    continue
                if info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq >= len(events):
                    break
            runs.append((time.perf_counter() - t0, time.process_time() - cpu0, consumer.stored_batches))
            await consumer.stop()
        return runs
    finally:
        await nc.close()


def _client_bulk_insert(db: ChdbDb, store: Any, tenant: str, repeat: int) -> tuple[int, float, float]:
    """The four tables' rows of ``tenant`` as a client holds rows (Python tuples), inserted again
    under another tenant through Arrow; timed from the rows in memory to the last insert returning
    (best of ``repeat``; wall and process CPU seconds)."""
    copy_tenant = "client-baseline"
    held: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    for table in TABLES:
        columns = [str(r[0]) for r in db.query(f"DESCRIBE TABLE {DB}.{table}")]
        data = store.query(f"SELECT {', '.join(columns)} FROM {DB}.{table} FINAL WHERE tenant = %(t)s", {"t": tenant})
        held[table] = columns, [(copy_tenant, *row[1:]) for row in data]
        assert columns[0] == "tenant"
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        t0, cpu0 = time.perf_counter(), time.process_time()
        for table, (columns, data) in held.items():
            db.load(table, columns, data)
        best = min(best, (time.perf_counter() - t0, time.process_time() - cpu0))
    copied = sum(_count_final(db, t, copy_tenant) for t in TABLES)
    for table in TABLES:
        db.execute(f"ALTER TABLE {DB}.{table} DELETE WHERE tenant = {literal(copy_tenant)} SETTINGS mutations_sync = 1")
    return copied, best[0], best[1]


def _count_final(db: ChdbDb, table: str, tenant: str) -> int:
    return int(db.query(f"SELECT count() FROM {DB}.{table} FINAL WHERE tenant = {literal(tenant)}")[0][0])


def _compare(db: ChdbDb, tenant: str, calls: Sequence[Call], say: Callable[[str], None]) -> None:
    """The pipeline's call records next to the generator's: how many agree on each column."""
    columns = ", ".join(COMPARED)
    stored = {str(r[0]): r[1:] for r in db.query(
        f"SELECT call_id, {columns} FROM {DB}.calls FINAL WHERE tenant = {literal(tenant)}")}
    index = {name: rows.CALLS.index(name) for name in COMPARED}
    mismatched: dict[str, int] = {}
    example: dict[str, str] = {}
    missing = 0
    for c in calls:
        got = stored.get(c.call_uuid)
        if got is None:
            missing += 1
            continue
        want = rows.call_row(c)
        for i, name in enumerate(COMPARED):
            if not _same(name, want[index[name]], got[i]):
                mismatched[name] = mismatched.get(name, 0) + 1
                example.setdefault(name, f"{c.result}: generator {want[index[name]]!r}, pipeline {got[i]!r}")
    say(f"  pipeline vs generator: {len(calls) - missing:,} of {len(calls):,} calls recorded; "
        + ("every compared column agrees" if not mismatched else
           "columns that differ: " + "; ".join(f"{k} on {v:,} (e.g. {example[k]})" for k, v in mismatched.items())))


def _same(name: str, want: Any, got: Any) -> bool:
    if isinstance(want, datetime):
        if not isinstance(got, str):
            return False
        return abs(datetime.fromisoformat(got).replace(tzinfo=UTC).timestamp() - want.timestamp()) < 0.002
    if name.endswith("_ms") and isinstance(want, int):
        return abs(int(got) - want) <= 2
    if isinstance(want, list):
        return list(got) == want
    return bool(str(got) == str(want))
