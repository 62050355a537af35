"""The store on chdb (real ClickHouse SQL in process, on disk): migrations, bound parameters
against injection, and the ingestor's rows: late events replace a call's row, a batch stored
twice counts once, agents' after-call work lands on their calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hibiki.analytics.events import decode
from hibiki.analytics.ingest import Ingestor
from hibiki.analytics.storage import Store, open_store
from hibiki.analytics.storage.migrations import MIGRATIONS
from hibiki.analytics.storage.sql import bind
from hibiki.common.errors import ConfigError
from hibiki.events.v1 import agent_pb2
from support.call_events import T0, Call, Published, agent_state

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = open_store(f"chdb://{tmp_path_factory.mktemp('chdb') / 'ch'}")
    store.migrate()
    return store


def ingest(ingestor: Ingestor, events: list[Published]) -> None:
    ingestor.store_batch([decode(e.subject, e.payload(), NOW) for e in events])


def calls(store: Store, tenant: str) -> list[tuple[object, ...]]:
    return store.query("SELECT call_id, result, wait_ms, talk_ms, acw_ms, disposition, recording_id, answer_time "
                       "FROM hibiki.calls FINAL WHERE tenant = %(t)s ORDER BY start_time", {"t": tenant})


def test_migrations_run_once_and_are_recorded(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path / 'ch'}")
    assert [m.number for m in store.migrate()] == [m.number for m in MIGRATIONS]
    assert store.migrate() == []
    store.close()
    reopened = open_store(f"chdb://{tmp_path / 'ch'}")
    assert reopened.migrate() == []
    assert reopened.query("SELECT number, dialect FROM hibiki.schema_migrations FINAL") == [(1, "modern")]
    ddl = reopened.query("SHOW CREATE TABLE hibiki.calls")[0][0]
    assert "TTL toDateTime(start_time) + toIntervalDay(retention_days)" in ddl and "PARTITION BY toYYYYMM" in ddl
    reopened.close()


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


def test_values_come_back_as_python_values(store: Store) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    row = store.query("SELECT toDateTime64(%(w)s, 3, 'UTC'), %(n)s, %(l)s, CAST(NULL AS Nullable(String)), "
                      "toUInt64(18446744073709551615)", {"w": when, "n": 42, "l": ["a", "b"]})
    assert row == [(when, 42, ["a", "b"], None, 18446744073709551615)]


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
