"""The one ClickHouse parameter binding (analytics and recording): literals per type, refusals, and
properties that no value, however hostile, leaves its literal. The round trip through a real
ClickHouse (chdb) is in services/analytics/tests/test_store.py and the recording index tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hibiki.common.clickhouse_sql import bind, literal

_UNESCAPE = {"\\": "\\", "'": "'", "b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0",
             "a": "\a", "v": "\v"}


def split_sql(sql: str) -> tuple[str, list[str]]:
    """Read ``sql`` as ClickHouse's lexer reads quoted strings (a backslash takes the next character,
    ``''`` is a quote): the text outside quotes (each literal replaced by ``?``) and the decoded strings."""
    outside, strings, i = [], [], 0
    while i < len(sql):
        if sql[i] != "'":
            outside.append(sql[i])
            i += 1
            continue
        i += 1
        value = []
        while True:
            assert i < len(sql), f"unterminated literal in {sql!r}"
            c = sql[i]
            if c == "\\":
                value.append(_UNESCAPE.get(sql[i + 1], sql[i + 1]))
                i += 2
            elif c == "'" and sql[i + 1:i + 2] == "'":
                value.append("'")
                i += 2
            elif c == "'":
                i += 1
                break
            else:
                value.append(c)
                i += 1
        outside.append("?")
        strings.append("".join(value))
    return "".join(outside), strings


hostile = st.text(alphabet=st.one_of(st.sampled_from("'\\\"%()[]{};-#/*\0\n\r\t`?$"), st.characters()),
                  max_size=60)


@given(hostile, hostile)
def test_no_string_leaves_its_literal(a: str, b: str) -> None:
    sql = bind("SELECT count() FROM t WHERE x = %(a)s AND y IN %(b)s -- %%(a)s", {"a": a, "b": (b, a)})
    outside, strings = split_sql(sql)
    assert outside == "SELECT count() FROM t WHERE x = ? AND y IN (?, ?) -- %(a)s"
    assert strings == [a, b, a]


@given(st.lists(hostile, max_size=5))
def test_no_string_leaves_an_array_literal(values: list[str]) -> None:
    outside, strings = split_sql(literal(values))
    assert outside == "[" + ", ".join("?" for _ in values) + "]"
    assert strings == values


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), None])))
def test_datetimes_are_utc_with_milliseconds(when: datetime) -> None:
    utc = when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
    assert literal(when) == f"'{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond // 1000:03d}'"
    assert literal(when, fractional_seconds=False) == f"'{utc:%Y-%m-%d %H:%M:%S}'"


def test_literals_per_type() -> None:
    assert literal(None) == "NULL"
    assert (literal(True), literal(False)) == ("1", "0")
    assert literal(-42) == "-42" and literal(18446744073709551615) == "18446744073709551615"
    assert literal(0.5) == "0.5"
    assert literal(date(2026, 12, 7)) == "'2026-12-07'"
    assert literal(datetime(2026, 1, 2, 3, 4, 5, 678_999, tzinfo=UTC)) == "'2026-01-02 03:04:05.678'"
    assert literal(datetime(2026, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=9)))) == "'2026-01-02 03:00:00.000'"
    assert literal("it's\\\n") == "'it\\'s\\\\\\n'"
    assert literal(["a", 1]) == "['a', 1]"
    assert literal(("a", "b")) == "('a', 'b')"
    assert literal({"b", "a"}) == literal(frozenset({"a", "b"})) == "('a', 'b')"
    assert bind("SELECT 1", None) == bind("SELECT 1", {}) == "SELECT 1"
    assert bind("SELECT %(w)s", {"w": datetime(2026, 1, 2, 3, 4, 5, 600_000)}, fractional_seconds=False) \
        == "SELECT '2026-01-02 03:04:05'"


@pytest.mark.parametrize("value", [object(), b"bytes", {"k": "v"}, bytearray(b"x")])
def test_other_types_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="cannot bind a"):
        bind("SELECT %(v)s", {"v": value})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        literal(value)


@pytest.mark.parametrize("value", [(), set(), frozenset()])
def test_an_empty_in_list_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="empty tuple"):
        literal(value)


def test_refusals_inside_containers() -> None:
    with pytest.raises(TypeError):
        literal(["ok", object()])
    with pytest.raises(ValueError):
        literal(("ok", float("nan")))
