"""What a client sends to the reports: any text either becomes a checked query or is refused
with the field named (never another exception), and the measures keep their invariants."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.analytics.reports.measures import SUMS, row
from hibiki.analytics.reports.query import GROUPINGS, MAX_DAYS, InvalidParameter, build, parse_period
from hibiki.analytics.reports.sla import SlaTargets

NAMES = st.sampled_from(["from", "to", "by", "queue", "agent", "did", "disposition", "lang", "encoding", "x"])
TEXT = st.one_of(st.text(max_size=40), st.dates().map(date.isoformat), st.sampled_from(GROUPINGS))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, TEXT, max_size=6))
def test_any_parameters_become_a_query_or_a_named_refusal(params: dict[str, str]) -> None:
    try:
        query = build("toshima", params)
    except InvalidParameter as exc:
        assert exc.field and exc.error_id and str(exc)
        return
    assert query.by in GROUPINGS
    assert query.period.first <= query.period.last
    assert (query.period.last - query.period.first).days < MAX_DAYS
    assert query.period.start_utc < query.period.end_utc
    assert query.period.end_utc - query.period.start_utc == timedelta(days=(query.period.last - query.period.first).days + 1)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=20), st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                                        st.text(max_size=10), st.lists(st.text(max_size=5))),
                       max_size=5))
def test_any_sla_body_is_taken_or_refused_by_field(data: dict[str, Any]) -> None:
    try:
        targets = SlaTargets.from_dict(data)
    except InvalidParameter as exc:
        assert exc.field
        return
    assert 0 <= targets.service_level <= 1 and 0 <= targets.abandon_rate_max <= 1
    assert SlaTargets.from_dict(targets.as_dict()) == targets          # round-trips


counts = st.integers(min_value=0, max_value=1000)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({name: counts for name in SUMS}))
def test_rates_are_shares_and_breaches_follow_the_figures(raw: dict[str, int]) -> None:
    sums = dict(raw)
    sums["offered"] = max(sums["offered"], sums["answered"] + sums["abandoned"])
    sums["abandoned"] = sums["abandoned_queue"] + sums["abandoned_ivr"]
    sums["offered"] = max(sums["offered"], sums["answered"] + sums["abandoned"])
    sums["within_target"] = min(sums["within_target"], sums["answered"])
    sums["resolved"] = min(sums["resolved"], sums["answered"])
    r = row("k", sums, SlaTargets())
    for rate in (r.abandon_rate, r.service_level, r.fcr_rate):
        assert rate is None or 0 <= rate <= 1
    assert ("att" in r.breaches) == (r.att_seconds is not None and r.att_seconds > 120)
    assert ("aht" in r.breaches) == (r.aht_seconds is not None and r.aht_seconds > 180)
    if r.answered == 0:
        assert r.aht_seconds is None and r.asa_seconds is None and "aht" not in r.breaches


@pytest.mark.parametrize(("date_from", "date_to", "field"), [
    ("0001-01-01", None, "from"), ("9999-12-31", None, "from"), ("1970-01-01", None, "from"),
    ("2026-12-01", "9999-12-31", "to"), ("2105-12-31", "2106-01-01", "to")])
def test_days_python_has_and_clickhouse_has_not_are_a_named_refusal(date_from: str, date_to: str | None,
                                                                     field: str) -> None:
    """Year 1 and 9999 overflowed as Tokyo's midnight went to UTC (OverflowError: a 500)."""
    with pytest.raises(InvalidParameter) as refused:
        parse_period(date_from, date_to)
    assert refused.value.field == field


def test_the_first_and_last_days_a_report_can_name() -> None:
    first, last = parse_period("1970-01-02", None), parse_period("2105-12-31", None)
    assert first.start_utc < first.end_utc and last.start_utc < last.end_utc
