"""ClickHouse in-process through chdb (one session per process, on-disk path).

Rows come back as JSONCompact with the column types, and are turned into the same Python values
clickhouse-driver gives (UTC datetimes, ints, lists)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hibiki.analytics.storage import migrations
from hibiki.analytics.storage.base import Row
from hibiki.analytics.storage.migrations import Applied, Dialect
from hibiki.analytics.storage.sql import bind
from hibiki.common.errors import StartupError

_SETTINGS = "SETTINGS output_format_json_quote_64bit_integers = 0, output_format_json_quote_denormals = 1"
_WRAPPER = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")


Converter = Callable[[Any], Any] | None


def _converter(type_name: str) -> Converter:
    """How a JSON value of a column of this type becomes a Python value (None: as it is)."""
    while (match := _WRAPPER.match(type_name)) is not None:
        type_name = match.group(1)
    if type_name.startswith("Array("):
        inner = _converter(type_name[len("Array("):-1])
        if inner is None:
            return None
        return lambda values: None if values is None else [inner(v) for v in values]
    if type_name.startswith("DateTime"):
        return lambda v: None if v is None else datetime.fromisoformat(v).replace(tzinfo=UTC)
    if type_name in ("Date", "Date32"):
        return lambda v: None if v is None else date.fromisoformat(v)
    if type_name.startswith(("Int", "UInt")):
        return lambda v: int(v) if isinstance(v, str) else v
    if type_name.startswith("Float"):
        return lambda v: float(v) if isinstance(v, str) else v
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot store a {type(value).__name__}")


class ChdbStore:
    dialect: Dialect = migrations.MODERN

    def __init__(self, path: str) -> None:
        from chdb import session

        Path(path).mkdir(parents=True, exist_ok=True)
        try:
            self._session: Any = session.Session(path)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise StartupError(f"analytics store chdb://{path}: {exc}") from None
        self._lock = threading.Lock()
        self.path = path

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        with self._lock:
            return self._session.query(sql, fmt)

    def migrate(self) -> list[Applied]:
        version = str(self.query("SELECT version()")[0][0])
        self.dialect = Dialect.for_version(version)
        return migrations.migrate(self.execute, self.query, self.dialect)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        text = bind(sql, params).rstrip().rstrip(";")
        result = self._run(f"{text}\n{_SETTINGS}" if "SETTINGS" not in text.upper() else text, "JSONCompact")
        raw = result.data()
        if not raw:
            return []
        document = json.loads(raw)
        converters = [_converter(column["type"]) for column in document["meta"]]
        if not any(converters):
            return [tuple(row) for row in document["data"]]
        return [tuple(v if c is None else c(v) for c, v in zip(converters, row, strict=True))
                for row in document["data"]]

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(bind(sql, params))

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        encode = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
        lines = "\n".join(encode(dict(zip(columns, row, strict=True))) for row in rows)
        self._run(f"INSERT INTO {migrations.DATABASE}.{table} ({', '.join(columns)}) FORMAT JSONEachRow\n{lines}")

    def close(self) -> None:
        with self._lock:
            self._session.close()
