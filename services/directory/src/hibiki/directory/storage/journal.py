"""The SQLite store's change journal: every committed write, in order, for a restore to a moment (ADM-09).

One JSON line per committed transaction, appended (and fsynced) to ``HIBIKI_DIRECTORY_JOURNAL``
(default ``<data dir>/directory.journal``, kept apart from the database file: put it on another
disk) just before SQLite commits::

    {"seq": 42, "at": "2026-12-07T06:30:01.123456+00:00", "statements": [[sql, [params...]], ...]}

``seq`` is written into the database in the same transaction (``PRAGMA user_version``), so a
copy of the database says exactly which entries it already holds: a restore takes a backup and
replays the entries after its ``user_version`` up to the chosen moment (``hibiki restore``).
Parameters are the driver's own (str, int, float, None; bytes as ``{"b64": ...}``).
A transaction whose commit fails after its line was written leaves a line whose ``seq`` the next
transaction reuses: a reader keeps the last line of each ``seq``.
PostgreSQL has its own journal (WAL archiving and point-in-time recovery); this one is SQLite's.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event

_WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP)\b", re.IGNORECASE)
_PENDING = "hibiki_journal"
Statement = tuple[str, list[Any]]


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    return value


class Journal:
    """Appends committed transactions of one SQLite engine to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "ab")
        self._lock = threading.Lock()

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._capture)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def _capture(self, conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any,
                 executemany: bool) -> None:
        if not _WRITES.match(statement):
            return
        pending: list[Statement] = conn.info.setdefault(_PENDING, [])
        batches = parameters if executemany else [parameters]
        for params in batches:
            values = list(params.values()) if isinstance(params, dict) else list(params or ())
            pending.append((statement, [_encode(v) for v in values]))

    def _rollback(self, conn: Connection) -> None:
        conn.info.pop(_PENDING, None)

    def _commit(self, conn: Connection) -> None:
        pending: list[Statement] | None = conn.info.pop(_PENDING, None)
        if not pending:
            return
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            seq = int(cursor.execute("PRAGMA user_version").fetchone()[0]) + 1
            cursor.execute(f"PRAGMA user_version = {seq}")
        finally:
            cursor.close()
        line = json.dumps({"seq": seq, "at": datetime.now(UTC).isoformat(), "statements": pending},
                          ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def entries(path: Path) -> Iterator[dict[str, Any]]:
    """The journal's entries, the last line of each ``seq``, in ``seq`` order; a torn last line
    (a crash while writing) is left out."""
    latest: dict[int, dict[str, Any]] = {}
    with path.open("rb") as fh:
        for raw in fh:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            latest[int(entry["seq"])] = entry
    for seq in sorted(latest):
        yield latest[seq]


def statements(entry: dict[str, Any]) -> Sequence[tuple[str, list[Any]]]:
    return [(sql, [decode(v) for v in params]) for sql, params in entry["statements"]]
