"""Schedules: real Japanese calendars (2026-2027), the precedence rules, validation, and properties."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.directory.schedules import (
    WEEKDAYS,
    DateRange,
    Decision,
    Interval,
    MonthDay,
    Override,
    Schedule,
    ScheduleError,
    Season,
    SpecialDay,
    public_holiday,
)

TOKYO = ZoneInfo("Asia/Tokyo")


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=TOKYO)


def every(days: tuple[str, ...], *hours: tuple[str, str]) -> dict[str, list[dict[str, str]]]:
    return {day: [{"start": a, "end": b} for a, b in hours] for day in days}


WEEKDAYS_ONLY = WEEKDAYS[:5]
# Toshima's switchboard: Mon-Fri 8:30-17:15 except public holidays, default year-end closure.
CITY_HALL = Schedule.from_dict({"weekly": every(WEEKDAYS_ONLY, ("08:30", "17:15"))})
# Kanazawa water: every day 8:45-18:00, Mar-Apr busy season 8:00-19:00, New Year (Jan 1-3) closed.
KANAZAWA = Schedule.from_dict(
    {
        "weekly": every(WEEKDAYS, ("08:45", "18:00")),
        "closed_on_public_holidays": False,
        "year_end": {"start": "01-01", "end": "01-03"},
        "seasons": [{"name": "busy", "start": "03-01", "end": "04-30", "weekly": every(WEEKDAYS, ("08:00", "19:00"))}],
    }
)


@pytest.mark.parametrize(
    ("at", "is_open", "branch"),
    [
        (jst(2026, 1, 1, 10), False, "new_year"),
        (jst(2026, 1, 5, 10), True, "open"),  # Monday after the holidays
        (jst(2026, 12, 28, 10), True, "open"),
        (jst(2026, 12, 29, 10), False, "new_year"),  # a Tuesday
        (jst(2027, 1, 3, 10), False, "new_year"),
        (jst(2027, 1, 4, 10), True, "open"),  # Monday
        (jst(2026, 5, 4, 10), False, "holiday"),  # みどりの日 (Monday)
        (jst(2026, 5, 5, 10), False, "holiday"),  # こどもの日
        (jst(2026, 5, 6, 10), False, "holiday"),  # 振替休日 for Sunday May 3
        (jst(2026, 5, 7, 10), True, "open"),
        (jst(2026, 7, 20, 10), False, "holiday"),  # 海の日, a Monday
        (jst(2026, 9, 22, 10), False, "holiday"),  # 国民の休日 between two holidays
        (jst(2026, 5, 9, 10), False, "closed"),  # Saturday
        (jst(2026, 3, 10, 8, 29, 59), False, "closed"),
        (jst(2026, 3, 10, 8, 30), True, "open"),
        (jst(2026, 3, 10, 17, 14, 59), True, "open"),
        (jst(2026, 3, 10, 17, 15), False, "closed"),
        (datetime(2026, 3, 10, 0, 0, tzinfo=timezone.utc), True, "open"),  # 09:00 in Tokyo
        (datetime(2026, 3, 9, 23, 0, tzinfo=timezone(timedelta(hours=-1))), True, "open"),  # 09:00 JST
    ],
)
def test_city_hall(at: datetime, is_open: bool, branch: str) -> None:
    decision = CITY_HALL.decide(at)
    assert (decision.open, decision.branch) == (is_open, branch), decision


@pytest.mark.parametrize(
    ("at", "is_open", "branch"),
    [
        (jst(2026, 3, 10, 8, 0), True, "season:busy"),
        (jst(2026, 3, 10, 7, 59), False, "closed"),
        (jst(2026, 3, 10, 18, 30), True, "season:busy"),
        (jst(2026, 3, 20, 10), True, "season:busy"),  # 春分の日: Kanazawa works on holidays
        (jst(2026, 4, 30, 18, 59), True, "season:busy"),
        (jst(2026, 5, 1, 8, 0), False, "closed"),  # busy season over: 8:45 again
        (jst(2026, 5, 1, 8, 45), True, "open"),
        (jst(2026, 5, 1, 18, 30), False, "closed"),
        (jst(2026, 7, 20, 9), True, "open"),  # 海の日
        (jst(2026, 12, 30, 9), True, "open"),  # only Jan 1-3 closed
        (jst(2027, 1, 2, 9), False, "new_year"),
    ],
)
def test_kanazawa(at: datetime, is_open: bool, branch: str) -> None:
    decision = KANAZAWA.decide(at)
    assert (decision.open, decision.branch) == (is_open, branch), decision


def test_reasons_and_until() -> None:
    assert CITY_HALL.decide(jst(2026, 7, 20, 10)) == Decision(
        False, "holiday", "public holiday 海の日", jst(2026, 7, 21)  # then "closed" until 8:30
    )
    assert CITY_HALL.decide(jst(2026, 3, 10, 9)) == Decision(
        True, "open", "weekly hours 08:30-17:15", jst(2026, 3, 10, 17, 15)
    )
    # closed after hours on Friday, then "holiday" from the Sunday that is 憲法記念日
    assert CITY_HALL.decide(jst(2026, 5, 1, 18)).until == jst(2026, 5, 3)
    assert KANAZAWA.decide(jst(2026, 3, 10, 9)).reason == "season busy hours 08:00-19:00"
    assert public_holiday(date(2026, 5, 6)) == "振替休日"
    assert public_holiday(date(2026, 5, 7)) is None


@pytest.mark.parametrize(
    ("schedule", "at", "opening"),
    [
        (KANAZAWA, jst(2026, 5, 10, 7), jst(2026, 5, 10, 8, 45)),
        (KANAZAWA, jst(2026, 4, 10, 7), jst(2026, 4, 10, 8, 0)),
        (KANAZAWA, jst(2026, 12, 31, 19), jst(2027, 1, 4, 8, 45)),
        (CITY_HALL, jst(2026, 5, 1, 18), jst(2026, 5, 7, 8, 30)),  # through Golden Week
        (CITY_HALL, jst(2026, 12, 28, 18), jst(2027, 1, 4, 8, 30)),
        (CITY_HALL, jst(2026, 3, 10, 9), jst(2026, 3, 10, 9)),  # open now
    ],
)
def test_next_opening(schedule: Schedule, at: datetime, opening: datetime) -> None:
    assert schedule.next_opening(at) == opening


def test_never_open_has_no_opening_or_change() -> None:
    closed = Schedule.from_dict({"weekly": {}, "year_end": None, "closed_on_public_holidays": False})
    assert closed.next_opening(jst(2026, 1, 1)) is None
    assert closed.decide(jst(2026, 1, 1)) == Decision(False, "closed", "outside weekly hours", None)


def test_touching_intervals_and_midnight_are_one_opening() -> None:
    always = Schedule.from_dict(
        {
            "weekly": every(WEEKDAYS, ("00:00", "12:00"), ("12:00", "24:00")),
            "year_end": None,
            "closed_on_public_holidays": False,
        }
    )
    decision = always.decide(jst(2026, 6, 1, 23, 59))
    assert decision.open and decision.until is None


def test_override_wins_over_everything_until_its_until() -> None:
    until = jst(2027, 1, 1, 12)
    new_years_day = {"date": "2027-01-01", "hours": [{"start": "09:00", "end": "17:00"}]}
    base = KANAZAWA.to_dict() | {"special_days": [new_years_day]}
    quake = {"mode": "disaster", "until": until.isoformat(), "reason": "地震"}
    disaster = Schedule.from_dict(base | {"override": quake})
    for at in (jst(2026, 3, 10, 10), jst(2026, 12, 31, 23), jst(2027, 1, 1, 11, 59, 59)):
        assert disaster.decide(at) == Decision(False, "override:disaster", "地震", until)
    assert disaster.decide(until) == Decision(True, "special_day", "special day 09:00-17:00", jst(2027, 1, 1, 17))
    assert disaster.next_opening(jst(2026, 12, 31)) == until
    forced_open = Schedule.from_dict(base | {"override": {"mode": "open"}})
    assert forced_open.decide(jst(2027, 1, 2, 3)) == Decision(True, "override:open", "manual override", None)
    forced_closed = Schedule.from_dict(base | {"override": {"mode": "closed", "until": "2026-03-10T09:00:00+09:00"}})
    assert forced_closed.decide(jst(2026, 3, 10, 8)).branch == "override:closed"
    assert forced_closed.decide(jst(2026, 3, 10, 9)).branch == "season:busy"  # expired: ignored


def test_special_days() -> None:
    event = Schedule.from_dict(
        CITY_HALL.to_dict()
        | {
            "special_days": [
                {"date": "2026-11-03", "hours": [{"start": "10:00", "end": "15:00"}], "reason": "市民まつり"},
                {"date": "2026-06-01", "reason": "system maintenance"},
                {"date": "2026-12-29", "hours": [{"start": "09:00", "end": "12:00"}]},
            ]
        }
    )
    assert event.decide(jst(2026, 11, 3, 11)) == Decision(
        True, "special_day", "special day 市民まつり 10:00-15:00", jst(2026, 11, 3, 15)
    )
    assert event.decide(jst(2026, 11, 3, 16)).branch == "closed"  # 文化の日, outside the event's hours
    assert event.decide(jst(2026, 6, 1, 10)) == Decision(
        False, "special_day", "special day system maintenance", jst(2026, 6, 2)
    )
    assert event.decide(jst(2026, 12, 29, 10)).open  # beats the year-end closure
    assert event.decide(jst(2026, 12, 30, 10)).branch == "new_year"


def test_most_specific_season_wins_then_the_first() -> None:
    spring = {"name": "spring", "start": "03-01", "end": "05-31", "weekly": every(WEEKDAYS, ("07:00", "20:00"))}
    gw = {"name": "gw", "start": "04-29", "end": "05-06", "weekly": every(WEEKDAYS, ("10:00", "16:00"))}
    gw2 = gw | {"name": "gw2"}
    winter = {"name": "winter", "start": "12-01", "end": "02-28", "weekly": every(WEEKDAYS, ("09:00", "16:00"))}
    s = Schedule.from_dict(
        {"weekly": every(WEEKDAYS, ("09:00", "17:00")), "closed_on_public_holidays": False, "year_end": None,
         "seasons": [spring, gw, gw2, winter]}
    )
    assert s.decide(jst(2026, 5, 1, 12)).branch == "season:gw"
    assert s.decide(jst(2026, 5, 1, 8)).branch == "closed"
    assert s.decide(jst(2026, 5, 7, 8)).branch == "season:spring"
    assert s.decide(jst(2027, 1, 15, 9)).branch == "season:winter"  # wraps over the year end
    assert s.decide(jst(2027, 1, 15, 16, 30)).branch == "closed"
    assert s.decide(jst(2026, 6, 15, 16, 30)).branch == "open"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ScheduleError, match="^at: .* naive"):
        CITY_HALL.decide(datetime(2026, 1, 5, 10))
    with pytest.raises(ScheduleError, match="naive"):
        CITY_HALL.next_change(datetime(2026, 1, 5, 10))
    with pytest.raises(ScheduleError, match="^override.until: .* naive"):
        Override("closed", datetime(2026, 1, 5, 10))


def bad(**fields: Any) -> dict[str, Any]:
    return {"weekly": {}} | fields


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bad(weekly={"mon": [{"start": "25:00", "end": "26:00"}]}), "weekly.mon[0].start: '25:00' is not a time"),
        (bad(weekly={"tue": [{"start": "09:00", "end": "8:00"}]}), "weekly.tue[0].end: '8:00' is not a time"),
        (bad(weekly={"tue": [{"start": "09:00", "end": "08:00"}]}),
         "weekly.tue[0].end: '08:00' is not after start '09:00'"),
        (bad(weekly={"wed": [{"start": "24:00", "end": "24:00"}]}),
         "weekly.wed[0].start: '24:00' is allowed only as an end"),
        (bad(weekly={"thu": [{"start": "09:00", "end": "24:30"}]}), "weekly.thu[0].end: '24:30' is not a time"),
        (bad(weekly={"fri": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "13:30"}]}),
         "weekly.fri[0]: 13:00-17:00 overlaps 09:00-13:30"),
        (bad(weekly={"mon": [{"start": "09:00"}]}), "weekly.mon[0].end: missing"),
        (bad(weekly={"monday": []}), "weekly.monday: unknown field"),
        ({}, "weekly: missing"),
        ([], "schedule: expected an object"),
        (bad(holidays=True), "holidays: unknown field"),
        (bad(timezone="Asia/Kanazawa"), "timezone: 'Asia/Kanazawa' is not a known time zone"),
        (bad(closed_on_public_holidays="yes"), "closed_on_public_holidays: 'yes' is not true or false"),
        (bad(year_end={"start": "12-32", "end": "01-03"}), "year_end.start: '12-32' is not a month and day"),
        (bad(seasons=[{"name": "busy", "start": "03-01", "end": "04-30",
                       "weekly": {"sat": [{"start": "8:00", "end": "19:00"}]}}]), "seasons[0].weekly.sat[0].start"),
        (bad(seasons=[{"name": "a b", "start": "03-01", "end": "04-30", "weekly": {}}]), "seasons[0].name: 'a b'"),
        (bad(seasons=[{"name": "x", "start": "03-01", "end": "04-30", "weekly": {}}] * 2),
         "seasons[1].name: duplicate"),
        (bad(special_days=[{"date": "2026-02-29"}]), "special_days[0].date: '2026-02-29' is not a date"),
        (bad(special_days=[{"date": "2026-05-06"}, {"date": "2026-05-06"}]), "special_days[1].date: duplicate"),
        (bad(special_days=[{"date": "2026-05-06", "hours": [{"start": "9:00", "end": "10:00"}]}]),
         "special_days[0].hours[0].start"),
        (bad(override={"mode": "OPEN"}), "override.mode: 'OPEN' is not open, closed or a branch name"),
        (bad(override={"mode": "closed", "until": "tomorrow"}), "override.until: 'tomorrow' is not an ISO 8601"),
        (bad(override={"mode": "closed", "until": "2026-01-01T09:00"}), "override.until: 2026-01-01T09:00:00 is naive"),
    ],
)
def test_validation_names_the_field(data: object, message: str) -> None:
    with pytest.raises(ScheduleError) as error:
        Schedule.from_dict(data)
    assert str(error.value).startswith(message), str(error.value)


def test_to_dict_is_json_and_round_trips() -> None:
    for schedule in (CITY_HALL, KANAZAWA):
        data = json.loads(json.dumps(schedule.to_dict()))
        assert Schedule.from_dict(data) == schedule
    assert KANAZAWA.to_dict()["seasons"][0]["weekly"]["mon"] == [{"start": "08:00", "end": "19:00"}]


# --- properties ---------------------------------------------------------------------------------

@st.composite
def day_hours(draw: st.DrawFn) -> tuple[Interval, ...]:
    edges = sorted(draw(st.sets(st.integers(0, 1440), max_size=6)))
    return tuple(Interval(a, b) for a, b in zip(edges[0::2], edges[1::2]))


weeks = st.tuples(*[day_hours()] * 7)
month_days = st.dates(date(2000, 1, 1), date(2000, 12, 31)).map(lambda d: MonthDay(d.month, d.day))
ranges = st.builds(DateRange, month_days, month_days)
zones = st.sampled_from([TOKYO, timezone.utc, timezone(timedelta(hours=-10)), ZoneInfo("Asia/Kolkata")])
moments = st.datetimes(datetime(2000, 1, 1), datetime(2100, 12, 31, 23, 59, 59), timezones=zones)
overrides = st.builds(
    Override, st.sampled_from(["open", "closed", "disaster", "night"]), st.none() | moments, st.text(max_size=8)
)
schedules = st.builds(
    Schedule,
    weekly=weeks,
    timezone=st.sampled_from(["Asia/Tokyo", "UTC"]),
    closed_on_public_holidays=st.booleans(),
    year_end=st.none() | ranges,
    seasons=st.lists(
        st.builds(Season, st.text("abc繁忙期_-", min_size=1, max_size=6), ranges, weeks),
        max_size=3,
        unique_by=lambda s: s.name,
    ).map(tuple),
    special_days=st.lists(
        st.builds(SpecialDay, st.dates(date(2000, 1, 1), date(2100, 12, 31)), day_hours(), st.text(max_size=8)),
        max_size=4,
        unique_by=lambda s: s.date,
    ).map(tuple),
    override=st.none() | overrides,
)
HOLIDAYS = sorted(holidays.country_holidays("JP", years=range(2000, 2100)))


@given(schedules)
def test_round_trip(schedule: Schedule) -> None:
    assert Schedule.from_dict(json.loads(json.dumps(schedule.to_dict()))) == schedule


@given(schedules, overrides, moments)
def test_an_active_override_always_decides(schedule: Schedule, override: Override, at: datetime) -> None:
    schedule = replace(schedule, override=override)
    decision = schedule.decide(at)
    if override.active(at):
        expected = Decision(override.mode == "open", f"override:{override.mode}", decision.reason, override.until)
        assert decision == expected
    else:
        assert not decision.branch.startswith("override:")


@given(schedules, st.sampled_from(HOLIDAYS), st.integers(0, 24 * 3600 - 1))
def test_public_holidays_are_never_open(schedule: Schedule, day: date, second: int) -> None:
    schedule = replace(schedule, closed_on_public_holidays=True, override=None, timezone="Asia/Tokyo")
    at = datetime.combine(day, datetime.min.time(), TOKYO) + timedelta(seconds=second)
    decision = schedule.decide(at)
    if not any(s.date == day for s in schedule.special_days):
        assert not decision.open and decision.branch in ("holiday", "new_year")


@settings(max_examples=300)
@given(schedules, moments)
def test_decisions_are_total_and_change_where_they_say(schedule: Schedule, at: datetime) -> None:
    decision = schedule.decide(at)
    assert decision.branch in ("open", "closed", "holiday", "new_year", "special_day") or decision.branch.startswith(
        ("override:", "season:")
    )
    change = schedule.next_change(at)
    assert change == decision.until
    if change is not None:
        assert change > at
        before, after = schedule.decide(change - timedelta(microseconds=1)), schedule.decide(change)
        assert (before.open, before.branch) == (decision.open, decision.branch)
        assert (after.open, after.branch) != (decision.open, decision.branch)
    opening = schedule.next_opening(at)
    if opening is not None:
        assert opening >= at and schedule.decide(opening).open
        assert opening == at or not schedule.decide(opening - timedelta(microseconds=1)).open


def test_building_in_code() -> None:
    nine_to_five = (Interval.of("09:00", "17:00"),)
    schedule = Schedule(weekly=(nine_to_five,) * 5 + ((), ()), override=Override("night"))
    assert schedule.decide(jst(2026, 3, 10, 10)) == Decision(False, "override:night", "manual override", None)
    assert schedule.next_opening(jst(2026, 3, 10, 10)) is None
    assert Interval.of("08:45", "24:00") == Interval(525, 1440)
    with pytest.raises(ScheduleError, match="^weekly: needs 7 days"):
        Schedule(weekly=(nine_to_five,) * 5)
    with pytest.raises(ScheduleError, match="^interval: 600-540"):
        Interval(600, 540)
    with pytest.raises(ScheduleError, match="^month_day: 2-30"):
        MonthDay(2, 30)


def test_far_dates_do_not_crash() -> None:
    schedule = Schedule.from_dict({"weekly": {}})
    assert schedule.decide(datetime(1, 1, 1, tzinfo=timezone.utc)).branch == "new_year"
    assert schedule.decide(datetime(9999, 12, 31, 12, tzinfo=TOKYO)).until is None
