"""``./dev bench analytics``'s generator: the seed's figures, the shape of three years, each call's
invariants, and the analytics pipeline recording every generated call as the generator means it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import _toshima_seed as seed
from benchmarks._callcenter import DAYS, RESULTS, START, TOKYO, Center, Generator, day_kind, expected_calls, full_size

SEED = Path(__file__).resolve().parents[1] / ".." / "shared" / "seeds" / "toshima-callcenter.txt"


def _seed_text() -> str:
    if not SEED.exists():
        pytest.skip(f"no seed file at {SEED}")
    return SEED.read_text(encoding="utf-8")


def test_the_daily_figures_are_the_seeds() -> None:
    lines = [line for line in _seed_text().splitlines() if re.match(r"^令和[34]年\d+月 ", line)]
    assert len(lines) == 12
    for line, month in zip(lines, seed.DAILY_2021, strict=True):
        numbers = [int(x.replace(",", "")) for x in line.split()[1:]]
        assert tuple(numbers[:-1]) == month
        assert sum(month) == numbers[-1]
    assert sum(seed.daily_2021().values()) == seed.YEAR_2021_TOTAL == 202_685
    assert len(seed.daily_2021()) == 365


def test_the_weekday_and_hourly_figures_are_the_seeds() -> None:
    text = _seed_text()
    for figure in seed.WEEKDAYS_2021:
        assert f"{figure:,}" in text
    assert sum(seed.WEEKDAYS_2021) == seed.YEAR_2021_TOTAL
    # the two printed days' columns, 8:00-9:00 .. 17:00-18:00 right after each day's heading
    tokens = text.split()
    for heading, hours in (("令和３年４月１日（木）", seed.HOURS_2021_04_01), ("令和３年６月１４日（月）", seed.HOURS_2021_06_14)):
        at = tokens.index(heading)
        assert [int(t) for t in tokens[at + 1:at + 11]] == list(hours[:10])
    assert sum(seed.HOURS_2021_04_01) == 697 and sum(seed.HOURS_2021_06_14) == 1_165
    assert abs(sum(seed.hourly_shape()) - 1) < 1e-9


def test_three_years_are_about_600000_calls_shaped_like_the_seed() -> None:
    assert 590_000 < full_size() < 625_000
    monday, saturday, sunday = date(2024, 6, 10), date(2024, 6, 15), date(2024, 6, 16)
    assert day_kind(monday) == "workday" and day_kind(saturday) == "saturday" and day_kind(sunday) == "holiday"
    assert day_kind(date(2024, 5, 3)) == "holiday"  # 憲法記念日
    assert day_kind(date(2024, 12, 30)) == day_kind(date(2025, 1, 2)) == "year-end"
    assert expected_calls(monday) > 700 > 220 > expected_calls(saturday) > expected_calls(sunday)
    assert expected_calls(date(2024, 12, 31)) < expected_calls(sunday)
    assert expected_calls(monday) > expected_calls(date(2024, 6, 12))  # Mondays are the busiest


def test_calls_fall_in_the_staffed_hours_with_the_seeds_shape() -> None:
    calls = list(Generator(Center("shape"), scale=0.05, days=120).calls())
    hours = [c.started_at.astimezone(TOKYO).hour for c in calls]
    staffed = sum(1 for h in hours if 8 <= h < 19) / len(hours)
    assert 0.95 < staffed < 0.995
    morning = sum(1 for h in hours if 10 <= h < 12)
    evening = sum(1 for h in hours if 17 <= h < 19)
    assert morning > 5 * evening


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=DAYS - 30))
def test_every_generated_call_is_consistent(seed_value: int, offset: int) -> None:
    start = START + timedelta(days=offset)
    calls = list(Generator(Center("prop"), seed_value, scale=0.02, start=start, days=21).calls())
    again = list(Generator(Center("prop"), seed_value, scale=0.02, start=start, days=21).calls())
    assert [c.call_uuid for c in calls] == [c.call_uuid for c in again]  # deterministic for a seed
    assert len({c.call_uuid for c in calls}) == len(calls)
    for c in calls:
        assert c.result in RESULTS
        assert c.started_at <= c.ended_at
        assert c.legs and c.legs[0].started_at == c.started_at and c.legs[0].ended_at == c.ended_at
        assert all(leg.started_at <= leg.ended_at for leg in c.legs)
        assert c.wait_s >= 0 and c.talk_s >= 0 and c.hold_s >= 0 and c.acw_s >= 0
        assert c.hold_s <= c.talk_s + 1e-6
        if c.result in ("answered", "transferred") and c.direction == "inbound":
            agent = c.legs[1]
            assert agent.role == "agent" and agent.answered_at is not None and c.agent_id and c.queues
            assert c.disposition and c.recording_id
        if c.result == "transferred":
            assert c.transfer_target and c.legs[-1].role == "transfer"
        if c.result == "abandoned_queue":
            assert c.queues and not c.agent_id and len(c.legs) == 1
        if len(c.queues) > 1:
            assert c.queues == ("general", "general-backup") and c.wait_s > 60


def test_the_pipeline_records_each_generated_call_as_the_generator_does(tmp_path: Path) -> None:
    """The generated events through analytics' own decoder and Ingestor into chdb: every call
    recorded, and every compared column (result, times, wait, talk, hold, after-call work, IVR
    path, queues, overflow, agent, disposition, transfer, recording, legs) equal to the
    generator's row."""
    from hibiki.analytics.storage import open_store

    from benchmarks import _analytics_pipeline as pipeline
    from benchmarks._analytics_db import ChdbDb

    calls = list(Generator(Center("check"), 7, scale=0.01, start=date(2025, 6, 2), days=10).calls())
    assert len(calls) > 40
    assert {"answered", "transferred", "abandoned_queue"} <= {c.result for c in calls}
    store = open_store(f"chdb://{tmp_path / 'chdb'}")
    store.migrate()
    said: list[str] = []
    measured = pipeline.measure(ChdbDb(tmp_path / "chdb"), store, "check", calls, said.append, batch_size=200)
    report = "\n".join(said)
    assert f"{len(calls)} of {len(calls)} calls recorded; every compared column agrees" in report, report
    assert measured.rows > len(calls) and measured.engine_rows == measured.rows
    assert datetime.now(UTC) > calls[-1].ended_at


def test_the_stages_bench_measures_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    """``bench analytics-stages`` on a small sample: every event fetched both ways and stored, each
    stage measured."""
    from benchmarks import analytics_stages

    assert analytics_stages.main(["--calls", "3000", "--sample", "60", "--batch", "500"]) == 0
    out = capsys.readouterr().out
    published = int(re.search(r"-> ([\d,]+) events", out).group(1).replace(",", ""))   # type: ignore[union-attr]
    assert f"{published:,} of {published:,} events fetched by the consumer's pull, {published:,} by nats-py's fetch, " \
        in out, out
    stored = re.search(r"([\d,]+) stored \(of ([\d,]+) distinct event ids\)", out)
    assert stored is not None and stored.group(1) == stored.group(2) and int(stored.group(1).replace(",", "")) > 0, out
    for stage in ("fetch: the consumer's pull", "fetch: nats-py's PullSubscription.fetch", "decode: events.decode",
                  "store: Ingestor.store_batch (CPU", "ack: Msg.ack"):
        line = next(line for line in out.splitlines() if stage in line)
        assert float(line.split()[0]) > 0, line
    assert "insert events" in out and "groupUniqArray(event_id)" in out, out


def test_the_live_mode_measures_a_steady_stream(capsys: pytest.CaptureFixture[str]) -> None:
    """``bench analytics-stages --live-rate``: a steady stream into the consumer in a process of its
    own, every event stored, its CPU per event and the statements per batch printed."""
    from benchmarks import analytics_stages

    assert analytics_stages.main(["--calls", "3000", "--live-rate", "40", "--live-seconds", "3",
                                  "--live-wait-ms", "300"]) == 0
    out = capsys.readouterr().out
    stored = re.search(r"([\d,]+) events stored of ([\d,]+) distinct storable events published", out)
    assert stored is not None and stored.group(1) == stored.group(2) and int(stored.group(2).replace(",", "")) > 0, out
    rate = re.search(r"40 events/s: 120 events in ([\d.]+) s to the last ack, +([\d.]+) % of a core, +(\d+) us", out)
    assert rate is not None and float(rate.group(2)) > 0 and int(rate.group(3)) > 0, out
    assert "batch wait 300 ms" in out and re.search(r"per batch \([1-9][\d,]* batches\): [\d.]+ queries", out), out
