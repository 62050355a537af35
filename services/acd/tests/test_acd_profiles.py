"""Routing profiles (time bands, seasons) and the configuration's plain-dict form."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hibiki.acd.domain import (
    InvalidArgument,
    MaxWait,
    Overflow,
    QueueConfig,
    RoutingProfile,
    Season,
    Strategy,
    TimeBand,
    choose_profile,
)
from hibiki.acd.domain.codec import queue_from_dict, queue_to_dict

minutes = st.integers(0, 24 * 60 - 1).map(lambda m: time(m // 60, m % 60))
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31))
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31))
month_days = st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31))     # a leap year


@given(minutes, minutes, moments)
def test_a_band_and_its_complement_cover_every_moment_once(start: time, end: time, moment: datetime) -> None:
    band, rest = TimeBand(start, end), TimeBand(end, start)
    if start == end:
        assert band.covers(moment) and rest.covers(moment)
    else:
        assert band.covers(moment) != rest.covers(moment)


@given(month_days, month_days, days)
def test_a_season_and_its_complement_cover_every_day_once(first: date, last: date, day: date) -> None:
    after, before = last + timedelta(days=1), first - timedelta(days=1)
    season = Season((first.month, first.day), (last.month, last.day))
    if (after.month, after.day) == (first.month, first.day):
        assert season.covers(day)                     # the whole year
        return
    rest = Season((after.month, after.day), (before.month, before.day))
    assert season.covers(day) != rest.covers(day)


def test_bands_wrap_past_midnight_on_the_moment_s_own_weekday() -> None:
    night = TimeBand(time(22), time(6), frozenset({4}))       # Fridays
    friday = datetime(2026, 4, 3)
    assert night.covers(friday.replace(hour=23, minute=59))
    assert night.covers(friday.replace(hour=5, minute=59))
    assert not night.covers(friday.replace(hour=6))
    assert not night.covers((friday + timedelta(days=1)).replace(hour=1))   # Saturday 01:00


def test_the_first_covering_profile_wins() -> None:
    winter = RoutingProfile("winter", seasons=(Season((12, 1), (2, 28)),), priority=3)
    evening = RoutingProfile("evening", bands=(TimeBand(time(17), time(20)),), strategy=Strategy.RING_ALL)
    profiles = [winter, evening]
    assert choose_profile(profiles, datetime(2026, 1, 10, 18)) is winter
    assert choose_profile(profiles, datetime(2026, 7, 10, 18)) is evening
    assert choose_profile(profiles, datetime(2026, 7, 10, 9)) is None
    both = RoutingProfile("winter evenings", bands=evening.bands, seasons=winter.seasons)
    assert both.covers(datetime(2025, 12, 24, 19)) and not both.covers(datetime(2025, 12, 24, 9))


@pytest.mark.parametrize("make", [
    lambda: TimeBand(time(9, 0, 30), time(10)), lambda: TimeBand(weekdays=frozenset()),
    lambda: TimeBand(weekdays=frozenset({7})), lambda: Season((2, 30), (3, 1)), lambda: Season((13, 1), (1, 1)),
    lambda: RoutingProfile(""),
])
def test_a_profile_that_cannot_work_is_refused(make: object) -> None:
    with pytest.raises(InvalidArgument):
        make()  # type: ignore[operator]


bands = st.builds(TimeBand, minutes, minutes, st.frozensets(st.integers(0, 6), min_size=1))
seasons = st.builds(lambda a, b: Season((a.month, a.day), (b.month, b.day)), month_days, month_days)
profiles = st.builds(RoutingProfile, st.text(min_size=1, max_size=8), st.lists(bands, max_size=2).map(tuple),
                     st.lists(seasons, max_size=2).map(tuple), st.none() | st.sampled_from(list(Strategy)),
                     st.none() | st.integers(-5, 5))
seconds = st.floats(0.5, 3600, allow_nan=False)
configs = st.builds(
    QueueConfig, st.just("q"), st.sampled_from(list(Strategy)),
    st.dictionaries(st.sampled_from(["ja", "en", "tax", "water"]), st.integers(1, 5), max_size=3),
    st.integers(-5, 5), st.none() | st.builds(Overflow, st.just("other"), seconds),
    st.none() | st.builds(MaxWait, seconds, st.sampled_from(["voicemail:100", "hangup"])), seconds, seconds,
    st.none() | st.just(0.0) | seconds, st.none() | st.integers(1, 9), st.lists(profiles, max_size=3).map(tuple))


@given(configs)
def test_a_queue_definition_round_trips_through_plain_dicts(config: QueueConfig) -> None:
    data = json.loads(json.dumps(queue_to_dict(config)))
    assert queue_from_dict(data) == config


@given(st.dictionaries(st.sampled_from(["id", "strategy", "skills", "overflow", "max_wait", "profiles",
                                        "offer_timeout_seconds"]),
                       st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2)))
def test_decoding_a_queue_definition_either_succeeds_or_raises_invalid_argument(data: dict[str, object]) -> None:
    try:
        queue_from_dict(data)
    except InvalidArgument:
        pass
