"""ClickHouse in-process through chdb (embedded default; one session per process, on-disk path).
Blocking and thread-safe: call it through ``asyncio.to_thread``."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hibiki.common.errors import StartupError
from hibiki.recording.index import schema
from hibiki.common.clickhouse_sql import bind

Row = tuple[Any, ...]
_SETTINGS = ("SETTINGS output_format_json_quote_64bit_integers = 0, "
             "do_not_merge_across_partitions_select_final = 1")   # a row never changes partition


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond // 1000:03d}"
    raise TypeError(f"cannot store a {type(value).__name__}")


def _decoder(type_name: str) -> Any:
    if "DateTime" in type_name and not type_name.startswith("Array"):
        return lambda v: None if v is None else datetime.fromisoformat(v).replace(tzinfo=UTC)
    if type_name.startswith(("UInt", "Int")):
        return lambda v: int(v) if isinstance(v, str) else v
    return None


class ChdbStore:
    def __init__(self, path: Path) -> None:
        from chdb import session

        path.mkdir(parents=True, exist_ok=True)
        try:
            self._session: Any = session.Session(str(path))  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise StartupError(f"recording index chdb://{path}: {exc}") from None
        self._lock = threading.Lock()

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        with self._lock:
            return self._session.query(sql, fmt)

    dialect = schema.MODERN

    def migrate(self) -> list[int]:
        return schema.migrate(self.execute, self.query, self.dialect)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        text = bind(sql, params).rstrip().rstrip(";")
        raw = self._run(f"{text}\n{_SETTINGS}", "JSONCompact").data()
        if not raw:
            return []
        document = json.loads(raw)
        decoders = [_decoder(column["type"]) for column in document["meta"]]
        return [tuple(v if d is None else d(v) for d, v in zip(decoders, row, strict=True)) for row in document["data"]]

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(bind(sql, params))

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        encode = json.JSONEncoder(ensure_ascii=False, default=_encode).encode
        columns = list(rows[0])
        lines = "\n".join(encode(dict(row)) for row in rows)
        self._run(f"INSERT INTO {schema.DATABASE}.{table} ({', '.join(columns)}) FORMAT JSONEachRow\n{lines}")

    def delete_rows(self, table: str, where: str, params: Mapping[str, Any]) -> None:
        self.execute(f"DELETE FROM {schema.DATABASE}.{table} WHERE {where}", params)

    def close(self) -> None:
        with self._lock:
            self._session.close()
