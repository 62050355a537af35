"""The embedded ClickHouse store (chdb): real ClickHouse SQL, in process, on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from hibiki.analytics.cdr import InvalidCdr, from_event
from hibiki.analytics.storage import open_store
from hibiki.common.errors import ConfigError

from support.cdr_events import cdr


def test_rows_are_deduplicated_by_event_id_and_survive_reopening(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path / 'ch'}")
    store.migrate()
    rows = [from_event(cdr("kanazawa", n).SerializeToString()) for n in range(10)]
    store.insert(rows)
    store.insert(rows[:4])                      # redelivered events
    store.insert([from_event(cdr("toshima", 99).SerializeToString())])
    assert store.count("kanazawa") == 10
    assert store.event_ids("kanazawa") == sorted(r.event_id for r in rows)
    assert store.count("toshima") == 1
    store.close()
    reopened = open_store(f"chdb://{tmp_path / 'ch'}")
    reopened.migrate()                          # idempotent
    assert reopened.count("kanazawa") == 10
    reopened.close()


def test_cdr_mapping_keeps_the_ivr_path_and_times() -> None:
    row = from_event(cdr("zama", 3).SerializeToString())
    assert row.tenant == "zama" and row.direction == "inbound"
    assert row.ivr_path == ("main:1", "water:2")
    assert (row.ended_at - row.started_at).total_seconds() == 300
    assert row.answered_at is not None


def test_unusable_events_are_rejected_with_a_reason() -> None:
    with pytest.raises(InvalidCdr, match="not a CallDetailRecord"):
        from_event(b"\xff\xff\xff")
    event = cdr("t", 1)
    event.meta.id = ""
    with pytest.raises(InvalidCdr, match="meta.id"):
        from_event(event.SerializeToString())
    event = cdr("t", 1)
    event.ClearField("ended_at")
    with pytest.raises(InvalidCdr, match="ended_at"):
        from_event(event.SerializeToString())


def test_unknown_store_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported scheme 'mysql'"):
        open_store("mysql://x")
