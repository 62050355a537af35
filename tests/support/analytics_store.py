"""An analytics store for the report tests: the service's own (``open_store``) when it has the
``query``/``insert`` interface of the ingest work, else a minimal chdb one with the same methods."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hibiki.analytics.storage import migrations


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, datetime):
        return "'" + value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "'"
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise TypeError(type(value).__name__)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return value


class ShimStore:
    def __init__(self, path: Path) -> None:
        from chdb import session

        self._session: Any = session.Session(str(path))  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        with self._lock:
            return self._session.query(sql, fmt)

    def migrate(self) -> None:
        migrations.migrate(self.execute, self.query, migrations.MODERN)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        text = sql % {k: _literal(v) for k, v in params.items()} if params else sql
        raw = self._run(text + "\nSETTINGS output_format_json_quote_64bit_integers = 0", "JSONCompact").data()
        if not raw:
            return []
        doc = json.loads(raw)
        types = [c["type"] for c in doc["meta"]]
        out = []
        for row in doc["data"]:
            out.append(tuple(datetime.fromisoformat(v).replace(tzinfo=UTC) if v is not None and "DateTime" in t else v
                             for t, v in zip(types, row, strict=True)))
        return out

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql % {k: _literal(v) for k, v in params.items()} if params else sql)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        lines = "\n".join(json.dumps({c: _json(v) for c, v in zip(columns, r, strict=True)}, ensure_ascii=False)
                          for r in rows)
        self._run(f"INSERT INTO hibiki.{table} ({', '.join(columns)}) FORMAT JSONEachRow\n{lines}")

    def close(self) -> None:
        with self._lock:
            self._session.close()


def open_test_store(path: Path) -> Any:
    from hibiki.analytics.storage import open_store

    store: Any = open_store(f"chdb://{path}")
    if hasattr(store, "query") and hasattr(store, "dialect"):
        store.migrate()
        return store
    store.close()
    shim = ShimStore(path)
    shim.migrate()
    return shim
