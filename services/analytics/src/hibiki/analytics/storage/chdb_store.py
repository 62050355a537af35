"""ClickHouse in-process through chdb (one session per process, on-disk path).

Rows come back as JSONCompact with the column types, and are turned into the same Python values
clickhouse-driver gives (UTC datetimes, ints, lists). Inserts go in as Arrow columns through
chdb's ``Python()`` table function (the engine reads the arrays; no text format to write and
parse: several times faster than JSONEachRow for the consumer's batches). Likewise a query's large
``IN`` sets of (tenant, key)s go in as Arrow columns (``_in_sets``): the same SQL, with the set
read by ``Python()`` rather than parsed from literals.

``Python()`` has a fixed cost of its own (~2.5 ms a statement on this project's machines): a live
trickle's small batches (a few hundred events every ``HIBIKI_ANALYTICS_BATCH_WAIT_MS``) pay it on
every statement, so below ``INSERT_ARROW_MIN`` rows an insert is one ``VALUES`` of bound literals,
and below ``SET_MIN`` tuples a set is bound as literals (measured crossovers: ~250 rows of the
events table, ~128 (tenant, key)s)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from hibiki.analytics.storage import migrations
from hibiki.analytics.storage.base import Row
from hibiki.analytics.storage.migrations import Applied, Dialect
from hibiki.common.clickhouse_sql import bind, literal
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


def _arrow_type(type_name: str) -> Any:
    """The Arrow type a column of this ClickHouse type is sent as (the engine casts the rest:
    String -> Enum8 or LowCardinality, Int64 -> UInt8/16/64)."""
    while (match := _WRAPPER.match(type_name)) is not None:
        type_name = match.group(1)
    if type_name.startswith("Array("):
        return pa.list_(_arrow_type(type_name[len("Array("):-1]))
    if type_name.startswith("DateTime"):
        return pa.timestamp("ms", tz="UTC")
    if type_name in ("Date", "Date32"):
        return pa.date32()
    if type_name.startswith(("Int", "UInt")):
        return pa.uint64() if type_name == "UInt64" else pa.int64()
    if type_name.startswith("Float"):
        return pa.float64()
    return pa.string()


_SET_NAMES = ("hibiki_set_0", "hibiki_set_1", "hibiki_set_2")
SET_MIN = 128       # an IN list of this many tuples of strings or more is sent as Arrow columns
INSERT_ARROW_MIN = 200   # an insert of this many rows or more goes as Arrow columns, fewer as literals


def _in_sets(sql: str, params: Mapping[str, Any] | None) -> tuple[str, Mapping[str, Any] | None, list[Any]]:
    """Large ``IN %(name)s`` sets of string tuples (the consumer's thousands of (tenant, key)s)
    sent as Arrow columns, ``IN (SELECT c0, c1 FROM Python(hibiki_set_0))``, rather than bound as
    literals: the engine parses no literal list (the parse was most of such a query's cost, and
    a statement's text is limited to ``max_query_size``, 256 KiB). The values never become SQL."""
    if not params:
        return sql, params, []
    rest = dict(params)
    sets: list[Any] = []
    for name, value in params.items():
        placeholder = re.compile(r"\bIN\s+%\(" + re.escape(name) + r"\)s")
        if (len(sets) == len(_SET_NAMES) or not isinstance(value, tuple) or len(value) < SET_MIN
                or not placeholder.search(sql) or f"%({name})s" in placeholder.sub("", sql)):
            continue
        width = len(value[0]) if isinstance(value[0], tuple) else 0
        if not width or not all(isinstance(item, tuple) and len(item) == width
                                and all(isinstance(v, str) for v in item) for item in value):
            continue
        table_name = _SET_NAMES[len(sets)]
        sets.append(pa.table({f"c{i}": pa.array([item[i] for item in value], type=pa.string())
                              for i in range(width)}))
        columns = ", ".join(f"c{i}" for i in range(width))
        sql = placeholder.sub(f"IN (SELECT {columns} FROM Python({table_name}))", sql)
        del rest[name]
    return sql, rest, sets


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
        self._types: dict[str, dict[str, Any]] = {}
        self.path = path
        pa.array([None], type=pa.timestamp("ms", tz="UTC"))  # pyarrow's first conversion imports pandas (~1 s)

    def _run(self, sql: str, fmt: str = "CSV") -> Any:
        with self._lock:
            return self._session.query(sql, fmt)

    def migrate(self) -> list[Applied]:
        version = str(self.query("SELECT version()")[0][0])
        self.dialect = Dialect.for_version(version)
        return migrations.migrate(self.execute, self.query, self.dialect)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        sql, params, sets = _in_sets(sql, params)
        text = bind(sql, params).rstrip().rstrip(";") if params or not sets else (sql % {}).rstrip().rstrip(";")
        text = f"{text}\n{_SETTINGS}" if "SETTINGS" not in text.upper() else text
        # Python() reads these Arrow tables by their names in this frame
        hibiki_set_0, hibiki_set_1, hibiki_set_2 = sets + [None] * (len(_SET_NAMES) - len(sets))  # noqa: F841
        with self._lock:
            result = self._session.query(text, "JSONCompact")
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

    def _arrow_types(self, table: str) -> dict[str, Any]:
        if table not in self._types:
            described = self.query(f"DESCRIBE TABLE {migrations.DATABASE}.{table}")
            self._types[table] = {str(r[0]): _arrow_type(str(r[1])) for r in described}
        return self._types[table]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if len(rows) < INSERT_ARROW_MIN:
            # the same values as the Arrow path: datetimes as UTC to the ms (naive ones taken as UTC)
            values = ", ".join(literal(tuple(row)) for row in rows)
            with self._lock:
                self._session.query(f"INSERT INTO {migrations.DATABASE}.{table} ({', '.join(columns)}) VALUES {values}",
                                    "CSV")
            return
        types = self._arrow_types(table)
        # aware datetimes are stored as their UTC instant, naive ones are taken as UTC (to the ms)
        arrays = [pa.array(values, type=types[name])
                  for name, values in zip(columns, zip(*rows, strict=True), strict=True)]
        hibiki_rows = pa.Table.from_arrays(arrays, names=list(columns))  # noqa: F841 (Python() finds it by name)
        with self._lock:
            self._session.query(f"INSERT INTO {migrations.DATABASE}.{table} ({', '.join(columns)}) "
                                "SELECT * FROM Python(hibiki_rows)", "CSV")

    def close(self) -> None:
        with self._lock:
            self._session.close()
