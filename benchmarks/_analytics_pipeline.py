"""Ingest through the pipeline's store path, next to the engine's own bulk insert of the same rows.

The pipeline: the events of the sample's calls (``_analytics_events``), in the order they happened,
decoded by analytics' own ``events.decode`` and stored by its ``Ingestor.store_batch`` in batches of
the consumer's size (500) into the store ``open_store("chdb://...")`` opens: raw events, then the
calls, legs and agent intervals recomputed from them. NATS is not in the path (the consumer's
fetch and acks are not timed). Its rows/s counts the rows the tables hold afterwards (``FINAL``:
events, calls, legs, agent_states) over the time ``store_batch`` took.

The engine: the same rows copied inside ClickHouse (``INSERT ... SELECT`` from the four tables to
another tenant), timed in the same store right after. Then the pipeline's call records are compared
with the generator's own idea of each call (``_analytics_rows.call_row``), column by column.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks import _analytics_rows as rows
from benchmarks._analytics_db import DB, ChdbDb, literal
from benchmarks._analytics_events import day_events
from benchmarks._callcenter import Call

BATCH = 500
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

    def _timed(self, kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds[kind] += time.perf_counter() - t0
            self.calls[kind] += 1

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

    @property
    def pipeline_rows_per_s(self) -> float:
        return self.rows / self.pipeline_s

    @property
    def engine_rows_per_s(self) -> float:
        return self.engine_rows / self.engine_s


def measure(db: ChdbDb, store: Any, tenant: str, calls: Sequence[Call], say: Callable[[str], None],
            batch_size: int = BATCH) -> Measured:
    from hibiki.analytics.events import IgnoredEvent, decode
    from hibiki.analytics.ingest import Ingestor

    by_day: dict[Any, list[Call]] = {}
    for c in calls:
        by_day.setdefault(c.started_at.astimezone(UTC).date(), []).append(c)
    t0 = time.perf_counter()
    events = [ev for day in by_day.values() for ev in day_events(day)]
    events.sort(key=lambda ev: ev.at)
    build_s = time.perf_counter() - t0
    timed = TimedStore(store)
    ingestor = Ingestor(timed, retention=lambda _tenant: rows.RETENTION)  # type: ignore[arg-type]
    say(f"pipeline: {len(calls):,} calls of the last days -> {len(events):,} events (built in {build_s:.1f} s), "
        f"stored by Ingestor.store_batch in batches of {batch_size}")
    elapsed, written = 0.0, 0
    for start in range(0, len(events), batch_size):
        chunk = events[start:start + batch_size]
        t0 = time.perf_counter()
        now = datetime.now(UTC)
        batch = []
        for ev in chunk:
            try:
                batch.append(decode(ev.subject, ev.payload, now))
            except IgnoredEvent:
                continue
        result = ingestor.store_batch(batch)
        elapsed += time.perf_counter() - t0
        written += result.events + len(result.calls) + len(result.legs) + len(result.intervals)
    batches = -(-len(events) // batch_size)
    say(f"  per batch of {batch_size} events: {timed.calls['query'] / batches:.0f} queries "
        f"({timed.seconds['query'] / batches * 1000:.0f} ms), {timed.calls['insert'] / batches:.0f} inserts "
        f"({timed.seconds['insert'] / batches * 1000:.0f} ms), the rest (decode, fold, rows) "
        f"{(elapsed - timed.seconds['query'] - timed.seconds['insert']) / batches * 1000:.0f} ms")
    stored = {t: _count_final(db, t, tenant) for t in TABLES}
    n_rows = sum(stored.values())
    say(f"  stored {', '.join(f'{n:,} {t}' for t, n in stored.items())} = {n_rows:,} rows "
        f"({written:,} written: recomputed calls and intervals are written again) in {elapsed:.2f} s: "
        f"{n_rows / elapsed:,.0f} rows/s, {len(events) / elapsed:,.0f} events/s")
    copy_tenant = "engine-baseline"
    t0 = time.perf_counter()
    for table in TABLES:
        db.execute(f"INSERT INTO {DB}.{table} SELECT * REPLACE ({literal(copy_tenant)} AS tenant) "
                   f"FROM (SELECT * FROM {DB}.{table} FINAL WHERE tenant = {literal(tenant)})")
    engine_s = time.perf_counter() - t0
    copied = sum(db.count(t, copy_tenant) for t in TABLES)
    say(f"  engine bulk insert of the same rows (INSERT ... SELECT, four tables): {copied:,} rows in {engine_s:.2f} s: "
        f"{copied / engine_s:,.0f} rows/s")
    for table in TABLES:
        db.execute(f"ALTER TABLE {DB}.{table} DELETE WHERE tenant = {literal(copy_tenant)} "
                   "SETTINGS mutations_sync = 1")
    _compare(db, tenant, calls, say)
    return Measured(len(events), n_rows, elapsed, copied, engine_s)


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
