"""The SQLite store's change journal (storage/journal.py): what a commit writes, what a rollback
does not, the seq the database carries, and reading it back (torn lines, reused seqs)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import text

from hibiki.directory.storage import journal
from hibiki.directory.storage.database import open_store
from hibiki.directory.storage.repository import ConfigRepository

values = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(), st.binary())


@settings(max_examples=200, deadline=None)
@given(params=st.lists(values, max_size=8))
def test_parameters_round_trip_through_a_journal_line(params: list[object]) -> None:
    line = json.dumps({"seq": 1, "at": "2026-12-07T00:00:00+00:00",
                       "statements": [["INSERT INTO t VALUES (?)", [journal._encode(v) for v in params]]]})
    [(_, back)] = journal.statements(json.loads(line))
    assert back == params


def test_commits_are_journaled_with_the_seq_the_database_carries(tmp_path: Path) -> None:
    path = tmp_path / "directory.journal"
    engine = open_store(f"sqlite:///{tmp_path / 'directory.sqlite'}", path)
    repo = ConfigRepository(engine)
    repo.create_tenant({"id": "zama", "domain": "zama.example.jp"})
    repo.create_tenant({"id": "toshima", "domain": "toshima.example.jp"})
    with pytest.raises(Exception):
        repo.create_tenant({"id": "zama2", "domain": "zama.example.jp"})   # refused (domain taken): rolled back
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("UPDATE tenants SET name = 'never'"))
        raise RuntimeError("rolled back")
    entries = list(journal.entries(path))
    migrations = [e for e in entries if "alembic_version" in json.dumps(e)]
    assert migrations and entries[:len(migrations)] == migrations    # the schema's own steps come first
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert len(entries) - len(migrations) == 2
    assert not any("never" in json.dumps(e, ensure_ascii=False) for e in entries)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA user_version").scalar() == len(entries)
    engine.dispose()
    # replaying the whole journal on an empty file builds the same schema and rows
    copy = tmp_path / "copy.sqlite"
    db = sqlite3.connect(copy)
    for entry in entries:
        for sql, params in journal.statements(entry):
            db.execute(sql, params)
    db.commit()
    original = sqlite3.connect(tmp_path / "directory.sqlite")
    schema = "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    assert db.execute(schema).fetchall() == original.execute(schema).fetchall()
    for table in ("tenants", "alembic_version"):
        assert sorted(db.execute(f"SELECT * FROM {table}").fetchall()) == \
            sorted(original.execute(f"SELECT * FROM {table}").fetchall())
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_torn_last_line_is_left_out_and_a_reused_seq_keeps_the_last(tmp_path: Path) -> None:
    path = tmp_path / "j"
    lines = [{"seq": 1, "at": "a", "statements": []}, {"seq": 2, "at": "phantom", "statements": []},
             {"seq": 2, "at": "committed", "statements": []}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"seq": 3, "at": "to')
    assert [(e["seq"], e["at"]) for e in journal.entries(path)] == [(1, "a"), (2, "committed")]
