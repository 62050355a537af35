"""``./dev bench analytics``: three years of a Toshima-sized center, and of 100 such centers, in the store.

What runs (one process, chdb in a temporary directory, the ``ingest`` schema's migrations):

1. The generator (``benchmarks/_callcenter.py``): ``--calls`` calls (default: the full ~608,000 of three
   years up to yesterday) of one center shaped by the Toshima seed, as rows of ``calls``,
   ``legs`` and ``agent_states``; generated in Python (its rate printed).
2. Ingest through the pipeline (``_analytics_pipeline.py``: the sample's events on JetStream, read,
   stored and acknowledged by the service's own consumer) for ``--sample`` calls, next to a client
   bulk-inserting the same rows through the engine's fastest client path (Arrow columns) in the same
   run and store; target: the pipeline >= 50 % of the client's rows/s.
3. The whole center loaded (Arrow columns through chdb's ``Python()`` table function: the generator's
   loader), then each report (the ``reports`` code) over the three years for that tenant: target < 1 s.
4. ``--centers`` - 1 more centers made inside ClickHouse from the first (``INSERT ... SELECT`` with
   their own tenant, ids and times shifted by up to +-10 min; 60 million calls at the default 100),
   then the same reports for one tenant of that platform: target < 3 s; and the wallboard's refresh.

It prints the figures and the targets with PASS/FAIL; it exits 0 whether or not a target is met, 2
when it cannot run. The Python generator makes ~15-20k calls/s on this machine, so 60 million calls
are made in the engine, not in Python (step 4).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import _analytics_rows as rows
from benchmarks._analytics_db import DB, ChdbDb, literal
from benchmarks._callcenter import START, Call, Center, Generator, full_size

SOURCE = "toshima"


@dataclass
class Verdicts:
    lines: list[str] = field(default_factory=list)

    def check(self, name: str, value: float | None, target: str, ok: bool | None) -> None:
        verdict = "NOT MEASURED" if value is None or ok is None else ("PASS" if ok else "FAIL")
        self.lines.append(f"  {name:<58} {target:<22} {verdict}")


def _timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} rows/s" if seconds > 0 else "n/a"


def generate(center: Center, scale: float, seed: int) -> tuple[list[Call], dict[str, list[tuple[Any, ...]]], float]:
    t0 = time.perf_counter()
    calls: list[Call] = []
    tables: dict[str, list[tuple[Any, ...]]] = {"calls": [], "legs": [], "agent_states": []}
    for _, day in Generator(center, seed, scale).days_of_calls():
        calls.extend(day)
        for c in day:
            tables["calls"].append(rows.call_row(c))
            tables["legs"].extend(rows.leg_rows(c))
        tables["agent_states"].extend(rows.agent_state_rows(day))
    return calls, tables, time.perf_counter() - t0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench analytics", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=0, help="calls of one center (default: three years, ~608,000)")
    parser.add_argument("--centers", type=int, default=100, help="centers on the platform (default 100)")
    parser.add_argument("--sample", type=int, default=5_000,
                        help="calls (the last ones) sent through the pipeline's store path (default 5,000)")
    parser.add_argument("--batch", type=int, default=10_000,
                        help="the consumer's largest batch (default 10,000, HIBIKI_ANALYTICS_BATCH_SIZE's default)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each report (the best is kept)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--platform-tables", type=lambda v: tuple(v.split(",")), default=("calls",),
                        help="tables copied for centers 3.. (default calls; calls,legs,agent_states copies 7x the rows)")
    parser.add_argument("--no-optimize", dest="optimize", action="store_false",
                        help="measure the reads on the parts as loaded (default: OPTIMIZE FINAL first, the merged "
                             "steady state of a store three years old)")
    parser.add_argument("--no-raw-events", dest="raw_events", action="store_false",
                        help="skip the raw events of the three years (hibiki.events; the wallboard restores from them)")
    parser.add_argument("--dir", type=Path, default=None, help="where the store goes (default: a temporary one)")
    args = parser.parse_args(list(argv))
    size = full_size()
    scale = (args.calls / size) if args.calls else 1.0
    base = Path(tempfile.mkdtemp(prefix="hibiki-bench-analytics-", dir=args.dir))
    try:
        return _run(args, scale, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(args: argparse.Namespace, scale: float, base: Path) -> int:
    from hibiki.analytics.storage import open_store
    from hibiki.common.logging import configure

    configure("bench-analytics", "warning")  # the pipeline logs a line per call at info

    from benchmarks import _analytics_pipeline as pipeline
    from benchmarks import _analytics_reads as reads

    free = shutil.disk_usage(base).free
    print(f"analytics bench: store in {base} ({free / 2**30:.0f} GiB free), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
    store = open_store(f"chdb://{base / 'chdb'}")  # the service's own Store (reports, wallboard, ingest)
    store.migrate()
    db = ChdbDb(base / "chdb")  # the same embedded server: bulk loads and copies
    verdicts = Verdicts()

    center = Center(SOURCE)
    calls, tables, gen_s = generate(center, scale, args.seed)
    n_rows = sum(len(t) for t in tables.values())
    print(f"generator: {len(calls):,} calls of {SOURCE} over 3 years -> {len(tables['calls']):,} calls, "
          f"{len(tables['legs']):,} legs, {len(tables['agent_states']):,} agent states "
          f"({n_rows:,} rows) in {gen_s:.1f} s ({len(calls) / gen_s:,.0f} calls/s in Python)")
    _mix(calls)

    # -- ingest: the pipeline next to a client's bulk insert of the same rows -------------------------
    sample = calls[-min(args.sample, len(calls)):] if args.sample > 0 else []
    name = "ingest: pipeline rows/s >= 50 % of a client's bulk insert"
    if sample:
        measured = pipeline.measure(db, store, SOURCE, sample, print, args.batch, args.repeat)
        ratio = measured.pipeline_rows_per_s / measured.engine_rows_per_s
        print(f"  pipeline {measured.pipeline_rows_per_s:,.0f} rows/s = {ratio:.1%} of the client's bulk insert "
              f"{measured.engine_rows_per_s:,.0f} rows/s; CPU per row {measured.pipeline_cpu_s / measured.rows * 1e6:.0f} "
              f"vs {measured.engine_cpu_s / measured.engine_rows * 1e6:.0f} us")
        verdicts.check(name, ratio, f"{ratio:.1%} (>= 50 %)", ratio >= 0.5)
    else:
        verdicts.check(name, None, ">= 50 %", None)

    # -- one center over three years ------------------------------------------------------------------
    for table, data in tables.items():
        seconds, _ = _timed(partial(db.load, table, getattr(rows, table.upper()), data))
        print(f"load {table:<13} {len(data):>11,} rows in {seconds:6.2f} s {_rate(len(data), seconds)}"
              "  (generator's loader: Arrow columns, INSERT SELECT FROM Python())")
    if args.raw_events:
        _fill_raw_events(db, sample)
    if args.optimize:
        _optimize(db, ("calls", "legs", "agent_states", "events"))
    del calls, tables
    reads.reports(store, SOURCE, "one center, 3 years", 1.0, args.repeat, verdicts)
    reads.wallboard(store, SOURCE, "one center", args.repeat, verdicts, tenants=args.centers)

    # -- the platform ---------------------------------------------------------------------------------
    if args.centers > 1:
        t0 = time.perf_counter()
        for table in ("calls", "legs", "agent_states"):
            db.copy_center(table, SOURCE, "center-002", 2)
        engine_s = time.perf_counter() - t0
        one = sum(db.count(t, "center-002") for t in ("calls", "legs", "agent_states"))
        one_calls = db.count("calls", "center-002")
        bytes_1 = sum(db.disk_bytes(t) for t in ("calls", "legs", "agent_states")) / 2
        need = sum(db.disk_bytes(t) for t in args.platform_tables) / 2 * (args.centers - 2)
        free = shutil.disk_usage(base).free
        print(f"engine bulk insert, one center (INSERT ... SELECT, calls, legs, agent_states): {one:,} rows in "
              f"{engine_s:.2f} s {_rate(one, engine_s)}; ~{bytes_1 / 2**20:,.0f} MiB on disk per center, "
              f"{args.centers} centers need ~{need / 2**30:.1f} GiB more ({free / 2**30:.0f} GiB free)")
        if need > free * 0.7:
            print(f"bench: not enough disk for {args.centers} centers", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        for k in range(3, args.centers + 1):
            for table in args.platform_tables:
                db.copy_center(table, SOURCE, f"center-{k:03d}", k)
        build_s = time.perf_counter() - t0
        if args.optimize:
            _optimize(db, args.platform_tables)
        total = {t: db.count(t) for t in ("calls", "legs", "agent_states")}
        print(f"platform: {args.centers} centers, {total['calls']:,} calls, {total['legs']:,} legs, "
              f"{total['agent_states']:,} agent states ({sum(db.disk_bytes(t) for t in total) / 2**30:.1f} GiB on "
              f"disk); copies of {', '.join(args.platform_tables)} took {build_s:.0f} s "
              f"({(total['calls'] - 2 * one_calls) / build_s:,.0f} calls/s)")
        reads.reports(store, SOURCE, f"one tenant of {args.centers} centers", 3.0, args.repeat, verdicts)
        reads.wallboard(store, SOURCE, f"{args.centers} centers", args.repeat, verdicts, tenants=args.centers)
    print("targets:")
    for line in verdicts.lines:
        print(line)
    return 0


def _optimize(db: ChdbDb, tables: Sequence[str]) -> None:
    t0 = time.perf_counter()
    for table in tables:
        db.optimize(table)
    print(f"merged: OPTIMIZE TABLE ... FINAL on {', '.join(tables)} in {time.perf_counter() - t0:.0f} s (what "
          "background merges do over time; the reads below read the merged parts)")


def _fill_raw_events(db: ChdbDb, sample: Sequence[Call]) -> None:
    """``hibiki.events`` over the three years, as the pipeline keeps them: the sample's raw events
    (stored by the pipeline) copied back in time inside ClickHouse, one copy per span of the sample,
    each with its own event ids and call keys (agents keep theirs). Building them in Python and
    decoding them goes at ~7,000 events/s, 10 million would take ~25 minutes."""
    if not sample:
        return
    first = min(c.started_at for c in sample)
    span_days = max(1, (max(c.ended_at for c in sample) - first).days + 1)
    copies = max(0, -(-(first - datetime.combine(START, datetime.min.time(), UTC)).days // span_days))
    t0 = time.perf_counter()
    for m in range(1, copies + 1):
        shift = f"toIntervalDay({m * span_days})"
        db.execute(
            f"INSERT INTO {DB}.events SELECT * REPLACE (concat(event_id, '~{m}') AS event_id, "
            f"if(startsWith(key, 'agent:'), key, concat(key, '~{m}')) AS key, concat(call_uuid, '~{m}') AS call_uuid, "
            f"occurred_at - {shift} AS occurred_at, received_at - {shift} AS received_at) "
            f"FROM (SELECT * FROM {DB}.events WHERE tenant = {literal(SOURCE)} AND NOT position(event_id, '~'))")
    seconds = time.perf_counter() - t0
    total = db.count("events", SOURCE)
    print(f"events: the sample's raw events copied {copies} times {span_days} days back in the engine: "
          f"{total:,} raw events of {SOURCE} in hibiki.events ({seconds:.1f} s)")


def _mix(calls: Sequence[Call]) -> None:
    inbound = [c for c in calls if c.direction == "inbound" and not c.test_mode]
    by_result: dict[str, int] = {}
    for c in inbound:
        by_result[c.result] = by_result.get(c.result, 0) + 1
    answered = [c for c in inbound if c.result in ("answered", "transferred")]
    queued = [c for c in inbound if c.queues]
    within = sum(1 for c in answered if c.wait_s <= 15)
    abandoned_q = by_result.get("abandoned_queue", 0)
    mix = ", ".join(f"{k} {v / len(inbound):.1%}" for k, v in sorted(by_result.items(), key=lambda kv: -kv[1]))
    print(f"  inbound mix: {mix}")
    if answered and queued:
        print(f"  answered within 15 s {within / (len(answered) + abandoned_q):.1%}, abandoned in queue "
              f"{abandoned_q / len(queued):.1%} of queued, ATT {statistics.fmean(c.talk_s for c in answered):.0f} s, "
              f"AHT {statistics.fmean(c.talk_s + c.acw_s for c in answered):.0f} s, "
              f"overflowed {sum(1 for c in queued if len(c.queues) > 1) / len(queued):.1%}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
