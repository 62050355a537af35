"""Calls per 30 minutes forecast from history, by day type (CC-09).

A day's type is ``holiday`` on a Japanese public holiday (substitute and citizens' holidays
included, from the ``holidays`` package as the directory's schedules use it), ``year_end`` from
December 29 to January 3 (offices closed, 年末年始) when not a public holiday, otherwise its
weekday (``mon`` ... ``sun``). The forecast for a slot (0 = 00:00-00:30 ... 47 = 23:30-24:00,
Asia/Tokyo) of a day is the mean of that slot over the last ``depth`` days of the same type in
the history; a day of the history with no call in a slot counts as 0 (a closed Sunday stays 0).
A day type the history never saw falls back: ``year_end`` to past holidays, a holiday to
Sundays.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays

SLOTS = 48
SLOT_MINUTES = 30
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_TYPES = (*WEEKDAYS, "holiday", "year_end")


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("JP", years=year))


def is_holiday(day: date) -> bool:
    return day in _holidays_of(day.year)


def day_type(day: date) -> str:
    if is_holiday(day):
        return "holiday"
    if (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3):
        return "year_end"
    return WEEKDAYS[day.weekday()]


def slot_label(slot: int) -> str:
    minutes = slot * SLOT_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Forecast:
    day: date
    day_type: str
    based_on: tuple[date, ...]       # the history days the means come from
    calls: tuple[float, ...]         # SLOTS values

    @property
    def total(self) -> float:
        return sum(self.calls)


def forecast_day(day: date, history: Mapping[tuple[date, int], int], first: date, last: date,
                 depth: int = 8) -> Forecast:
    """The forecast of ``day`` from ``history`` ((day, slot) -> calls) covering ``first``..``last``."""
    if last < first:
        raise ValueError("the history ends before it starts")
    kind = day_type(day)
    days = _days_of_type(kind, first, last, depth)
    for fallback in {"year_end": ("holiday", "sun"), "holiday": ("sun",)}.get(kind, ()):
        if days:
            break
        days = _days_of_type(fallback, first, last, depth)
    slots = tuple(sum(history.get((d, s), 0) for d in days) / len(days) if days else 0.0 for s in range(SLOTS))
    return Forecast(day, kind, tuple(days), slots)


def _days_of_type(kind: str, first: date, last: date, depth: int) -> list[date]:
    found: list[date] = []
    day = last
    while day >= first and len(found) < depth:
        if day_type(day) == kind:
            found.append(day)
        day -= timedelta(days=1)
    return found


def bucket(counts: Iterable[tuple[date, int, int]]) -> dict[tuple[date, int], int]:
    """(day, slot, calls) rows (as the report query gives them) as the history mapping."""
    history: dict[tuple[date, int], int] = defaultdict(int)
    for day, slot, calls in counts:
        if not 0 <= slot < SLOTS:
            raise ValueError(f"slot {slot} is outside 0-{SLOTS - 1}")
        history[(day, slot)] += calls
    return dict(history)
