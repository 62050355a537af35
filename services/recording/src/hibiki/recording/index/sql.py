"""Binding parameters into ClickHouse SQL: ``%(name)s`` placeholders, each value a literal built
from its Python type (the same rule as analytics' store; services do not import each other).
A value of another type is refused, so a caller's string never becomes SQL."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_ESCAPES = {"\\": "\\\\", "'": "\\'", "\b": "\\b", "\f": "\\f", "\r": "\\r", "\n": "\\n", "\t": "\\t",
            "\0": "\\0", "\a": "\\a", "\v": "\\v"}


def literal(value: Any) -> str:
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
        return "'" + "".join(_ESCAPES.get(c, c) for c in str(value)) + "'"
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return f"'{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond // 1000:03d}'"
    if isinstance(value, (tuple, list)):
        if not value:
            raise ValueError("an empty tuple cannot be bound")
        return "(" + ", ".join(literal(v) for v in value) + ")"
    raise TypeError(f"cannot bind a {type(value).__name__} into SQL")


def bind(sql: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return sql
    return sql % {name: literal(value) for name, value in params.items()}
