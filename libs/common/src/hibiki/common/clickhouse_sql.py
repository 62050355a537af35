"""Binding parameters into ClickHouse SQL, the same way for chdb and for servers, for every service
that keeps a ClickHouse store (analytics, recording).

Placeholders are ``%(name)s`` (clickhouse-driver's style). Every value becomes a literal built
here from its Python type; a value of any other type is refused (TypeError), so a caller's string
can never become SQL. A literal ``%`` in the query is written ``%%`` when parameters are given.

Strings: backslash, quote and the control characters ClickHouse reads as escapes are escaped;
every other character stands for itself inside the quotes (tested: no value leaves its literal).
Datetimes are UTC (naive ones are taken as UTC), with milliseconds unless ``fractional_seconds``
is off (a server with whole-second DateTime columns); dates are ``'YYYY-MM-DD'``; a list is an
Array literal ``[...]``; a tuple or set is an ``IN`` list ``(...)`` (sets sorted; never empty).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from typing import Any

from hibiki.common.errors import ConfigError

_ESCAPES = {"\\": "\\\\", "'": "\\'", "\b": "\\b", "\f": "\\f", "\r": "\\r", "\n": "\\n", "\t": "\\t",
            "\0": "\\0", "\a": "\\a", "\v": "\\v"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)   # str.translate: the same escapes, without a Python loop per character


def literal(value: Any, *, fractional_seconds: bool = True) -> str:
    """One value as a ClickHouse literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        return "'" + str(value).translate(_ESCAPE_TABLE) + "'"
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo not in (None, UTC) else value
        if utc.year < 1000:       # strftime's unpadded year, as before (outside every ClickHouse range)
            text = utc.strftime("%Y-%m-%d %H:%M:%S")
            return f"'{text}.{utc.microsecond // 1000:03d}'" if fractional_seconds else f"'{text}'"
        # isoformat (4-digit year: fixed width before any "+00:00") truncates to the ms as
        # ``microsecond // 1000`` does, several times faster than strftime
        if fractional_seconds:
            return f"'{utc.isoformat(' ', 'milliseconds')[:23]}'"
        return f"'{utc.isoformat(' ', 'seconds')[:19]}'"
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v, fractional_seconds=fractional_seconds) for v in value) + "]"
    if isinstance(value, (tuple, frozenset, set)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        if not items:
            raise ValueError("an empty tuple cannot be bound (IN () is not SQL)")
        return "(" + ", ".join(literal(v, fractional_seconds=fractional_seconds) for v in items) + ")"
    raise TypeError(f"cannot bind a {type(value).__name__} into SQL")


def bind(sql: str, params: Mapping[str, Any] | None, *, fractional_seconds: bool = True) -> str:
    """``sql`` with each ``%(name)s`` replaced by the literal of ``params[name]``."""
    if not params:
        return sql
    return sql % {name: literal(value, fractional_seconds=fractional_seconds) for name, value in params.items()}


# --------------------------------------------------------------------------- replicated schemas

_CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_CREATE_DATABASE = re.compile(r"^(\s*CREATE\s+DATABASE\s+IF\s+NOT\s+EXISTS\s+\w+)\s*$", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^(\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+)(\w+)\.(\w+)(\s*\()", re.IGNORECASE)
_ALTER_TABLE = re.compile(r"^(\s*ALTER\s+TABLE\s+)(\w+)\.(\w+)(\s+)", re.IGNORECASE)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*)MergeTree\b(?:\s*\(([^()]*)\))?", re.IGNORECASE)
# where the tables live in Keeper: shared by every installation (data center) of the same shard, or,
# for a ledger of what this installation applied, its own ({installation}: the Altinity operator's macro)
SHARED_PATH = "/clickhouse/tables/{{shard}}/{db}/{table}"
INSTALLATION_PATH = "/clickhouse/{{installation}}/tables/{{shard}}/{db}/{table}"


def cluster_name(value: str, variable: str) -> str:
    """A ClickHouse cluster name from configuration ("" = not replicated); anything else is refused."""
    if value and not _CLUSTER_NAME.fullmatch(value):
        raise ConfigError(f"{variable}: a cluster name (letters, digits, _ and -) expected, not {value!r}")
    return value


def on_cluster(statement: str, cluster: str, *, installation_tables: Collection[str] = ()) -> str:
    """One DDL statement of a single-server schema, for a replicated cluster ``cluster``.

    ``CREATE DATABASE``/``CREATE TABLE``/``ALTER TABLE`` run ``ON CLUSTER`` (every replica of this
    installation); a ``*MergeTree`` engine becomes ``Replicated*MergeTree`` at
    ``/clickhouse/tables/{shard}/<db>/<table>`` with replica ``{replica}`` (macros the server fills
    in), or under ``/clickhouse/{installation}/`` for the tables named in ``installation_tables``.
    Other statements (INSERT, DELETE) are returned unchanged: replicated tables replicate them."""
    if not _CLUSTER_NAME.fullmatch(cluster):
        raise ValueError(f"not a cluster name: {cluster!r}")
    on = f" ON CLUSTER '{cluster}'"
    if match := _CREATE_DATABASE.match(statement):
        return match.group(1) + on
    if match := _CREATE_TABLE.match(statement):
        db, table = match.group(2), match.group(3)
        engines = _ENGINE.findall(statement)
        if len(engines) != 1 or engines[0][0].lower().startswith("replicated"):
            raise ValueError(f"{db}.{table}: one non-replicated MergeTree-family engine expected")
        path = (INSTALLATION_PATH if table in installation_tables else SHARED_PATH).format(db=db, table=table)

        def engine(m: re.Match[str]) -> str:
            args = [f"'{path}'", "'{replica}'", *([m.group(2).strip()] if (m.group(2) or "").strip() else [])]
            return f"ENGINE = Replicated{m.group(1)}MergeTree({', '.join(args)})"

        statement = _ENGINE.sub(engine, statement)
        return _CREATE_TABLE.sub(lambda m: f"{m.group(1)}{m.group(2)}.{m.group(3)}{on}{m.group(4)}", statement,
                                 count=1)
    if match := _ALTER_TABLE.match(statement):
        return _ALTER_TABLE.sub(lambda m: f"{m.group(1)}{m.group(2)}.{m.group(3)}{on}{m.group(4)}", statement,
                                count=1)
    return statement
