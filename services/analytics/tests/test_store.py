"""The store on chdb (real ClickHouse SQL in process, on disk): migrations, bound parameters
against injection, and the ingestor's rows: late events replace a call's row, a batch stored
twice counts once, agents' after-call work lands on their calls."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.events import decode
from hibiki.analytics.ingest import Ingestor
from hibiki.analytics.storage import Store, open_store
from hibiki.analytics.storage.chdb_store import INSERT_ARROW_MIN, SET_MIN
from hibiki.analytics.storage.migrations import MIGRATIONS
from hibiki.common.clickhouse_sql import bind
from hibiki.common.errors import ConfigError
from hibiki.events.v1 import agent_pb2
from support.call_events import T0, Call, Published, agent_state

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One chdb per module: chdb opens one path per process at a time."""
    store = open_store(f"chdb://{tmp_path_factory.mktemp('chdb') / 'ch'}")
    store.migrate()
    yield store
    store.close()


def ingest(ingestor: Ingestor, events: list[Published]) -> None:
    ingestor.store_batch([decode(e.subject, e.payload(), NOW) for e in events])


def calls(store: Store, tenant: str) -> list[tuple[object, ...]]:
    return store.query("SELECT call_id, result, wait_ms, talk_ms, acw_ms, disposition, recording_id, answer_time "
                       "FROM hibiki.calls FINAL WHERE tenant = %(t)s ORDER BY start_time", {"t": tenant})


def test_migrations_run_once_and_are_recorded(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path / 'ch'}")     # runs before the module store opens
    assert [m.number for m in store.migrate()] == [m.number for m in MIGRATIONS]
    assert store.migrate() == []
    store.close()
    reopened = open_store(f"chdb://{tmp_path / 'ch'}")
    assert reopened.migrate() == []
    assert reopened.query("SELECT number, dialect FROM hibiki.schema_migrations FINAL ORDER BY number") == [
        (m.number, "modern") for m in MIGRATIONS]
    ddl = reopened.query("SHOW CREATE TABLE hibiki.calls")[0][0]
    assert "TTL toDateTime(start_time) + toIntervalDay(retention_days)" in ddl and "PARTITION BY toYYYYMM" in ddl
    reopened.close()


def test_migration_3_adds_node_lost_to_an_existing_schema(tmp_path: Path) -> None:
    """A store of migrations 1-2 (a call stored) migrated to 3 (runs before the module store opens)."""
    from support.node_lost import migrate_an_older_schema_to_node_lost
    older = open_store(f"chdb://{tmp_path / 'ch'}")
    migrate_an_older_schema_to_node_lost(older, "nodeloss")
    older.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_any_string_is_bound_as_a_value(store: Store, text: str) -> None:
    assert store.query("SELECT %(v)s, length(%(v)s) > -1", {"v": text}) == [(text, 1)]


def test_injection_attempts_stay_values(store: Store) -> None:
    for attack in ("' OR 1=1 --", "x'); DROP TABLE hibiki.calls; --", "\\' OR '1'='1", "%(other)s", "{v:String}"):
        rows = store.query("SELECT count() FROM hibiki.calls WHERE tenant = %(t)s", {"t": attack})
        assert rows == [(0,)]
    assert store.query("EXISTS TABLE hibiki.calls") == [(1,)]
    with pytest.raises(TypeError, match="cannot bind a object"):
        bind("SELECT %(v)s", {"v": object()})
    with pytest.raises(ValueError, match="empty tuple"):
        bind("SELECT 1 WHERE x IN %(v)s", {"v": ()})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), min_size=1, max_size=40), st.booleans())
def test_an_in_set_of_any_strings_is_values_large_or_small(store: Store, pairs: list[tuple[str, str]],
                                                           large: bool) -> None:
    # chdb sends a set of SET_MIN or more tuples as Arrow columns, smaller ones as literals: the same answer
    if large:
        pairs = pairs + [("\x00pad'", str(i)) for i in range(SET_MIN)]
    wanted = tuple(sorted(set(pairs)))
    rows = store.query("SELECT a, b FROM (SELECT arrayJoin(%(all)s) AS t, t[1] AS a, t[2] AS b) "
                       "WHERE (a, b) IN %(wanted)s ORDER BY a, b", {"all": [list(p) for p in pairs], "wanted": wanted})
    assert sorted(set(rows)) == list(wanted)


def test_a_batch_of_thousands_of_calls_is_stored_whole(store: Store) -> None:
    # 3,000 calls' keys as SQL literals would pass ClickHouse's max_query_size (256 KiB): the batch
    # would fail and come again forever
    many = [Call("bulk").started() for _ in range(3000)]
    for call in many:
        call.leg(b=True, start=1, answer=2, end=32, user="2001")
        call.leg(answer=1, end=32)
    ingest(Ingestor(store, lambda tenant: 1095), [e for call in many for e in call.events])
    assert store.query("SELECT count(), countIf(result = 'answered' AND talk_ms = 30000) FROM hibiki.calls FINAL "
                       "WHERE tenant = 'bulk'") == [(3000, 3000)]


def test_values_come_back_as_python_values(store: Store) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    row = store.query("SELECT toDateTime64(%(w)s, 3, 'UTC'), %(n)s, %(l)s, CAST(NULL AS Nullable(String)), "
                      "toUInt64(18446744073709551615)", {"w": when, "n": 42, "l": ["a", "b"]})
    assert row == [(when, 42, ["a", "b"], None, 18446744073709551615)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=30), st.lists(st.text(max_size=8), max_size=3), st.integers(0, 999_999), st.booleans())
def test_a_small_insert_as_literals_stores_what_the_arrow_path_stores(
        store: Store, text: str, ivr: list[str], micros: int, naive: bool) -> None:
    """Fewer than INSERT_ARROW_MIN rows go as VALUES literals, more as Arrow columns: any string,
    array, NULL, datetime (aware or naive, to the ms) is stored the same way by both."""
    from hibiki.analytics.storage import tables
    ingestor = Ingestor(store, lambda tenant: 1095)
    call = Call("paths").started()
    call.leg(answer=1, end=32)
    folded = ingestor.store_batch([decode(e.subject, e.payload(), NOW) for e in call.events]).calls[0]
    when = datetime(2026, 3, 4, 5, 6, 7, micros, tzinfo=None if naive else UTC)
    row = dataclasses.replace(folded, caller_name=text, disposition=text, ivr_path=tuple(ivr), answer_time=None,
                              ring_time=when, tenant="paths-literal")
    tables.insert_calls(store, [row], 7, lambda tenant: 30)
    tables.insert_calls(store, [dataclasses.replace(row, tenant="paths-arrow", call_id=f"{row.call_id}-{i}")
                                for i in range(INSERT_ARROW_MIN)], 7, lambda tenant: 30)
    columns = ", ".join(c for c in tables.CALL_COLUMNS if c not in ("tenant", "call_id"))
    literal_rows = store.query(f"SELECT {columns} FROM hibiki.calls WHERE tenant = 'paths-literal' "
                               "AND call_id = %(c)s", {"c": row.call_id})
    arrow_rows = store.query(f"SELECT DISTINCT {columns} FROM hibiki.calls WHERE tenant = 'paths-arrow' "
                             "AND startsWith(call_id, %(c)s)", {"c": row.call_id})
    assert literal_rows == arrow_rows and len(literal_rows) == 1
    got = dict(zip(columns.split(", "), literal_rows[0], strict=True))
    assert (got["caller_name"], got["ivr_path"], got["answer_time"]) == (text, ivr, None)
    assert got["ring_time"] == when.replace(microsecond=micros // 1000 * 1000, tzinfo=UTC)


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported scheme 'mysql'"):
        open_store("mysql://x")


def test_late_events_replace_the_row_and_a_repeated_batch_counts_once(store: Store) -> None:
    ingestor = Ingestor(store, lambda tenant: 1825 if tenant == "kanazawa" else 1095)
    call = Call("kanazawa").started()
    call.queued(5, "water").agent_answered(15, "water", "a1", 10_000)
    call.leg(b=True, start=6, answer=15, end=75, agent_id="a1")
    call.leg(answer=1, end=75)
    ingest(ingestor, call.events)
    ingest(ingestor, call.events)                 # redelivered
    assert calls(store, "kanazawa") == [(call.call_id, "answered", 10_000, 60_000, 0, "", "", T0 + timedelta(seconds=15))]
    states = [agent_state("kanazawa", "a1", T0 + timedelta(seconds=s), st_, call.call_id)
              for s, st_ in ((15, agent_pb2.AGENT_STATE_TALKING), (75, agent_pb2.AGENT_STATE_AFTER_CALL_WORK))]
    ingest(ingestor, states)
    late = Call("kanazawa", call_id=call.call_id).disposition(80, "a1", "leak").recording_stored(90, "rec-9")
    ingest(ingestor, late.events)
    ingest(ingestor, [agent_state("kanazawa", "a1", T0 + timedelta(seconds=97), agent_pb2.AGENT_STATE_READY)])
    assert calls(store, "kanazawa") == [
        (call.call_id, "answered", 10_000, 60_000, 22_000, "leak", "rec-9", T0 + timedelta(seconds=15))]
    assert store.query("SELECT count(), sum(retention_days) FROM hibiki.calls FINAL WHERE tenant = 'kanazawa'") \
        == [(1, 1825)]
    assert store.query("SELECT leg, agent_id, talk_ms FROM hibiki.legs FINAL WHERE call_id = %(c)s ORDER BY leg",
                       {"c": call.call_id}) == [("a", "", 74_000), ("b", "a1", 60_000)]
    assert store.query("SELECT state, duration_ms, end_time IS NULL FROM hibiki.agent_states FINAL "
                       "WHERE tenant = 'kanazawa' AND agent_id = 'a1' ORDER BY start_time") == [
        ("talking", 60_000, 0), ("after_call_work", 22_000, 0), ("ready", 0, 1)]
    assert store.query("SELECT count() FROM hibiki.events FINAL WHERE tenant = 'kanazawa'") == [
        (len(call.events) + len(states) + len(late.events) + 1,)]


def test_retention_is_per_tenant_and_the_ttl_deletes_old_rows(store: Store, tmp_path: Path) -> None:
    config = AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path),
                                       "HIBIKI_ANALYTICS_RETENTION_DAYS": "1095, ttl-archive=3650"})
    ingestor = Ingestor(store, config.retention)
    four_years_ago = datetime.now(UTC) - timedelta(days=4 * 365)
    for tenant, start in (("ttl-city", four_years_ago), ("ttl-archive", four_years_ago),
                          ("ttl-city", datetime.now(UTC))):
        call = Call(tenant, start=start).started()
        call.leg(answer=1, end=30)
        ingest(ingestor, call.events)
    store.execute("OPTIMIZE TABLE hibiki.calls FINAL")
    store.execute("OPTIMIZE TABLE hibiki.events FINAL")
    assert store.query("SELECT tenant, retention_days, count() FROM hibiki.calls WHERE tenant LIKE 'ttl-%%' "
                       "GROUP BY tenant, retention_days ORDER BY tenant", {}) == [("ttl-archive", 3650, 1),
                                                                                 ("ttl-city", 1095, 1)]
    assert store.query("SELECT count() FROM hibiki.events WHERE occurred_at < now() - INTERVAL 3 YEAR "
                       "AND tenant = 'ttl-city'") == [(0,)]


@pytest.mark.parametrize("value", ["0", "abc", "x=", "=5", "kanazawa=70000", "1095,,k=-1"])
def test_bad_retention_settings_stop_the_service(value: str) -> None:
    with pytest.raises(ConfigError, match="HIBIKI_ANALYTICS_RETENTION_DAYS"):
        AnalyticsConfig.from_env({"HIBIKI_ANALYTICS_RETENTION_DAYS": value})


class RacingStore:
    """The store as one consumer sees it while another consumer stores a batch of the same call
    right after this one asked which events the call has."""

    def __init__(self, store: Store, other: Callable[[], object]) -> None:
        self._store, self._other, self.fired = store, other, False
        self.dialect = store.dialect

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        rows = self._store.query(sql, params)
        if not self.fired and "groupUniqArray(event_id)" in sql:
            self.fired = True
            self._other()
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_two_consumers_folding_one_call_at_once_end_with_the_whole_call(store: Store) -> None:
    call = Call("race").started()
    call.leg(answer=1, end=30)
    disposition = Call("race", call_id=call.call_id).disposition(40, "a1", "complaint")
    other = Ingestor(store, lambda tenant: 1095)
    # this consumer's clock is ahead of the other's (hosts' clocks are never equal)
    ahead = Ingestor(RacingStore(store, lambda: ingest(other, disposition.events)),  # type: ignore[arg-type]
                     lambda tenant: 1095, clock=lambda: time.time_ns() + 10**12)
    ingest(ahead, call.events)
    assert calls(store, "race")[0][5] == "complaint"


def test_a_b_legs_answer_and_recording_land_on_its_call(store: Store) -> None:
    ingestor = Ingestor(store, lambda tenant: 1095)
    call = Call("legs").started()
    b_leg = "b0000000-0000-4000-8000-000000000001"
    call.answered(5, b_leg, "sato")
    ingest(ingestor, call.events)
    call.events.clear()
    call.leg(b=True, leg_uuid=b_leg, start=2, answer=5, end=65, user="2001")
    call.leg(answer=5, end=65)
    ingest(ingestor, call.events)
    late = Call("legs", call_id=call.call_id).recording_stored(70, "rec-b", leg_uuid=b_leg)
    ingest(Ingestor(store, lambda tenant: 1095), late.events)       # a fresh consumer: nothing cached
    assert store.query("SELECT answered_by, user_id, recording_id, talk_ms FROM hibiki.calls FINAL "
                       "WHERE tenant = 'legs'") == [("sato", "2001", "rec-b", 60_000)]


def test_a_node_lost_call_is_counted_apart_in_the_report(store: Store) -> None:
    """Not offered, not abandoned, out of the service level: its own column (acd.left node_lost)."""
    from hibiki.analytics.reports.measures import row
    from hibiki.analytics.reports.query import Period, ReportQuery
    from hibiki.analytics.reports.sla import SlaTargets
    from hibiki.analytics.storage.report_sql import report_sums
    from support.node_lost import abandoned_call, node_lost_call
    answered = Call("nl-report").started()
    answered.ivr(2).queued(4, "water").agent_answered(9, "water", "a1", 5_000)
    answered.leg(b=True, start=8, answer=9, end=69, agent_id="a1", user="701")
    answered.leg(answer=0.5, end=69)
    ingest(Ingestor(store, lambda tenant: 1095), [e for c in (answered, abandoned_call("nl-report"),
                                                              node_lost_call("nl-report"), node_lost_call("nl-report"))
                                                  for e in c.events])
    day = T0.astimezone(UTC).date()
    [(key, sums)] = report_sums(store, ReportQuery("nl-report", Period(day, day)), 15, [])
    assert (key, sums["incoming"], sums["offered"], sums["answered"], sums["abandoned"], sums["abandoned_queue"],
            sums["within_target"], sums["node_lost"]) == ("total", 4, 2, 1, 1, 1, 1, 2)
    r = row(key, sums, SlaTargets())
    assert (r.abandon_rate, r.service_level, r.node_lost) == (0.5, 0.5, 2)   # 1/2 offered, 1/(1 + 1)
