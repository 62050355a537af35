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
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

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
        utc = value.astimezone(UTC) if value.tzinfo else value
        text = utc.strftime("%Y-%m-%d %H:%M:%S")
        if fractional_seconds:
            text += f".{utc.microsecond // 1000:03d}"
        return f"'{text}'"
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
