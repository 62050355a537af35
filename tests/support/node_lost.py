"""Migration 3 (``calls.result`` gains ``node_lost``) on a store that has only migrations 1-2,
the same steps on chdb and on a ClickHouse server (analytics' tests of both)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hibiki.analytics.events import decode
from hibiki.analytics.ingest import Ingestor
from hibiki.analytics.storage import Store, migrations
from support.call_events import Call

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def node_lost_call(tenant: str) -> Call:
    """Queued in water after the IVR, taken out of it after 16 s when its FreeSWITCH node was lost."""
    call = Call(tenant).started()
    call.ivr(2).queued(4, "water").left_queue(20, "water", 16_000, reason="node_lost")
    call.leg(answer=0.5, end=21)
    return call


def abandoned_call(tenant: str) -> Call:
    call = Call(tenant).started()
    call.ivr(2).queued(4, "water").left_queue(34, "water", 30_000)
    call.leg(answer=0.5, end=34)
    return call


def results(store: Store, tenant: str) -> list[tuple[str, str, int]]:
    return [(str(r[0]), str(r[1]), int(r[2])) for r in store.query(
        "SELECT call_id, result, wait_ms FROM hibiki.calls FINAL WHERE tenant = %(t)s ORDER BY call_id", {"t": tenant})]


def migrate_an_older_schema_to_node_lost(store: Store, tenant: str) -> None:
    """Migrations 1-2 only, a call stored; then node_lost is refused by the old Enum8; migrate()
    applies 3 alone, the stored call is intact and a node_lost call is stored and read back."""
    version = str(store.query("SELECT version()")[0][0])
    dialect = migrations.Dialect.for_version(version)
    older = [m for m in migrations.MIGRATIONS if m.number < 3]
    migrations.migrate(store.execute, store.query, dialect, migrations=older)
    ingestor = Ingestor(store, lambda tenant: 1095)
    old = abandoned_call(tenant)
    ingestor.store_batch([decode(e.subject, e.payload(), NOW) for e in old.events])
    assert results(store, tenant) == [(old.call_id, "abandoned_queue", 30_000)]
    lost = node_lost_call(tenant)
    with pytest.raises(Exception, match="node_lost"):    # the old Enum8 has no such value
        ingestor.store_batch([decode(e.subject, e.payload(), NOW) for e in lost.events])
    assert results(store, tenant) == [(old.call_id, "abandoned_queue", 30_000)]
    assert [a.number for a in store.migrate()] == [3]
    assert store.migrate() == []
    ingestor.store_batch([decode(e.subject, e.payload(), NOW) for e in lost.events])
    assert sorted(results(store, tenant)) == sorted([(old.call_id, "abandoned_queue", 30_000),
                                                     (lost.call_id, "node_lost", 16_000)])
    column = store.query("SELECT type FROM system.columns WHERE database = 'hibiki' AND table = 'calls' "
                         "AND name = 'result'")[0][0]
    assert "'node_lost' = 10" in column and "'abandoned_queue' = 3" in column
