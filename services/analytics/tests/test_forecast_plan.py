"""Forecast by day type and Japanese holiday, and the staffing plan per 30 minutes (CC-09)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.analytics.planning.erlang import agents_needed
from hibiki.analytics.planning.forecast import SLOTS, bucket, day_type, forecast_day, slot_label
from hibiki.analytics.planning.plan import Targets, peak, staffing_plan


def test_day_types_follow_the_japanese_calendar() -> None:
    assert day_type(date(2026, 12, 7)) == "mon"
    assert day_type(date(2026, 1, 12)) == "holiday"        # 成人の日 (second Monday of January)
    assert day_type(date(2026, 5, 6)) == "holiday"         # 振替休日 for 憲法記念日 on a Sunday
    assert day_type(date(2026, 9, 22)) == "holiday"        # 国民の休日 between 敬老の日 and 秋分の日
    assert day_type(date(2026, 12, 29)) == "year_end" and day_type(date(2027, 1, 3)) == "year_end"
    assert day_type(date(2027, 1, 1)) == "holiday" and day_type(date(2026, 12, 28)) == "mon"
    assert slot_label(0) == "00:00" and slot_label(19) == "09:30" and slot_label(47) == "23:30"


def test_forecast_is_the_mean_of_the_same_day_type() -> None:
    first, last = date(2026, 10, 1), date(2026, 11, 30)
    rows = []
    day = first
    while day <= last:
        kind = day_type(day)
        if kind in ("mon", "tue", "wed", "thu", "fri"):
            rows.append((day, 18, 10 if kind == "mon" else 4))     # 09:00-09:30
            if day.day % 2:
                rows.append((day, 19, 3))
        if kind == "holiday":
            rows.append((day, 20, 7))
        day += timedelta(days=1)
    history = bucket(rows)
    monday = forecast_day(date(2026, 12, 7), history, first, last, depth=4)
    assert monday.day_type == "mon" and len(monday.based_on) == 4
    assert all(d.weekday() == 0 for d in monday.based_on)
    assert monday.calls[18] == 10
    assert monday.calls[19] == sum(3 for d in monday.based_on if d.day % 2) / 4
    assert monday.calls[17] == 0 and len(monday.calls) == SLOTS
    sunday = forecast_day(date(2026, 12, 6), history, first, last)
    assert sunday.total == 0                                        # closed on Sundays
    holiday = forecast_day(date(2027, 1, 11), history, first, last)  # 成人の日 2027
    # 2026-10-12 (スポーツの日), 11-03 (文化の日), 11-23 (勤労感謝の日) are the past holidays
    assert holiday.day_type == "holiday" and set(holiday.based_on) == {date(2026, 10, 12), date(2026, 11, 3),
                                                                        date(2026, 11, 23)}
    assert holiday.calls[20] == 7 and holiday.calls[18] == 0


def test_a_holiday_without_past_holidays_is_forecast_like_a_sunday() -> None:
    first, last = date(2026, 6, 1), date(2026, 6, 30)                # June has no public holiday
    history = bucket([(date(2026, 6, 7), 20, 2), (date(2026, 6, 14), 20, 4)])
    got = forecast_day(date(2026, 7, 20), history, first, last)    # 海の日
    assert got.day_type == "holiday" and got.calls[20] == 1.5       # (2 + 4 + 0 + 0) / 4 Sundays
    year_end = forecast_day(date(2026, 12, 30), history, first, last)
    assert year_end.day_type == "year_end" and year_end.calls[20] == 1.5   # no past holiday either: Sundays


def test_staffing_plan_per_interval() -> None:
    first = last = date(2026, 11, 30)                               # a Monday
    history = bucket([(last, 18, 100), (last, 19, 50)])
    plan = staffing_plan(forecast_day(date(2026, 12, 7), history, first, last),
                         Targets(aht_seconds=180, target_level=0.8, target_seconds=20, shrinkage=0.3))
    assert len(plan) == SLOTS and plan[18].start == "09:00"
    assert (plan[18].interval.agents, plan[18].interval.scheduled) == (14, 20)   # the worked example
    assert plan[19].interval.agents == agents_needed(50, 180, 0.8, 20).agents
    assert plan[0].interval.agents == 0 and peak(plan) == 20


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 59), st.integers(0, SLOTS - 1), st.integers(0, 50)), max_size=80),
       st.integers(0, 400))
def test_forecast_stays_within_the_history(rows: list[tuple[int, int, int]], target: int) -> None:
    first, last = date(2026, 1, 1), date(2026, 3, 1)
    history = bucket([(first + timedelta(days=d), s, c) for d, s, c in rows])
    got = forecast_day(date(2026, 3, 2) + timedelta(days=target), history, first, last)
    assert len(got.calls) == SLOTS
    for slot, value in enumerate(got.calls):
        seen = [history.get((d, slot), 0) for d in got.based_on]
        assert min(seen, default=0) <= value <= max(seen, default=0)
