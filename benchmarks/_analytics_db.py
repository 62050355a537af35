"""The benchmark's own access to the chdb store: bulk loads and in-engine copies.

``load`` is the generator's loader (rows -> Arrow columns -> ``INSERT ... SELECT FROM Python(...)``),
not the pipeline's store path. ``copy_center`` is the engine's own bulk insert (``INSERT ... SELECT``
inside ClickHouse): the baseline next to the pipeline, and how the 100-center platform is made from
one generated center (each copy its own tenant and call ids, its times shifted by up to +-10 minutes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

DB = "hibiki"
# time columns of each table, shifted together in a copy
TIMES = {
    "calls": ("start_time", "ring_time", "answer_time", "end_time"),
    "legs": ("start_time", "ring_time", "answer_time", "bridge_time", "end_time"),
    "agent_states": ("start_time", "end_time"),
}
IDS = {"calls": ("call_id",), "legs": ("call_id", "leg_uuid"), "agent_states": ("event_id", "call_id")}


def literal(value: Any) -> str:
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
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(type(value).__name__)


def _arrow_type(ch_type: str) -> pa.DataType:
    inner = ch_type.replace("LowCardinality(", "").replace("Nullable(", "")
    if inner.startswith("DateTime"):
        return pa.timestamp("ms", tz="UTC")
    if inner.startswith(("UInt", "Int")):
        return pa.int64()
    if inner.startswith("Array"):
        return pa.list_(pa.string())
    return pa.string()


class ChdbDb:
    """One chdb session (chdb allows one per process) at ``path``."""

    def __init__(self, path: Path, session: Any | None = None) -> None:
        if session is None:
            from chdb import session as chdb_session

            path.mkdir(parents=True, exist_ok=True)
            session = chdb_session.Session(str(path))  # type: ignore[no-untyped-call]
        self.session = session
        self.path = path
        self._types: dict[str, dict[str, str]] = {}

    def execute(self, sql: str) -> None:
        self.session.query(sql, "CSV")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        text = sql % {k: literal(v) for k, v in params.items()} if params else sql
        raw = self.session.query(text + "\nSETTINGS output_format_json_quote_64bit_integers = 0", "JSONCompact").data()
        if not raw:
            return []
        return [tuple(r) for r in json.loads(raw)["data"]]

    def types(self, table: str) -> dict[str, str]:
        if table not in self._types:
            self._types[table] = {str(r[0]): str(r[1]) for r in self.query(f"DESCRIBE TABLE {DB}.{table}")}
        return self._types[table]

    def load(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        types = self.types(table)
        arrays = {name: pa.array(values, type=_arrow_type(types[name]))
                  for name, values in zip(columns, zip(*rows, strict=True), strict=True)}
        batch = pa.table(arrays)  # noqa: F841 (chdb's Python() table function finds it by name)
        self.execute(f"INSERT INTO {DB}.{table} ({', '.join(columns)}) SELECT * FROM Python(batch)")

    def copy_center(self, table: str, source: str, target: str, k: int) -> None:
        shift = (k * 37) % 1200 - 600
        replaced = [f"{literal(target)} AS tenant"]
        replaced += [f"concat({c}, '-{k}') AS {c}" for c in IDS[table]]
        replaced += [f"{c} + toIntervalSecond({shift}) AS {c}" for c in TIMES[table]]
        replaced.append(f"if(agent_id = '', '', concat(agent_id, '-{k}')) AS agent_id")
        # the source rows in a subquery: ClickHouse's WHERE would see the REPLACE aliases
        self.execute(f"INSERT INTO {DB}.{table} SELECT * REPLACE ({', '.join(replaced)}) "
                     f"FROM (SELECT * FROM {DB}.{table} WHERE tenant = {literal(source)})")

    def count(self, table: str, tenant: str | None = None) -> int:
        where = f" WHERE tenant = {literal(tenant)}" if tenant else ""
        return int(self.query(f"SELECT count() FROM {DB}.{table}{where}")[0][0])

    def disk_bytes(self, table: str) -> int:
        rows = self.query(f"SELECT sum(bytes_on_disk) FROM system.parts WHERE database = '{DB}' "
                          f"AND table = '{table}' AND active")
        return int(rows[0][0] or 0)

    def optimize(self, table: str) -> None:
        self.execute(f"OPTIMIZE TABLE {DB}.{table} FINAL")
