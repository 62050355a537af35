"""Routing profiles per time band and season (CC-01): which strategy and priority a queue uses now.

A queue lists ``RoutingProfile``s; at a local moment the first profile that covers it applies,
none means the queue's own settings. A profile covers a moment when one of its seasons covers the
date (no seasons: every date) and one of its time bands covers the time (no bands: all day).

- ``TimeBand``: ``[start, end)`` in local wall-clock minutes on the given weekdays (Monday 0);
  ``start == end`` is the whole day, ``end < start`` runs past midnight (22:00-06:00); the
  weekday is always the moment's own.
- ``Season``: month-day to month-day, both ends included, wrapping over the year end when
  ``start > end`` (12-01 to 02-28 is winter).

Bands are whole minutes, so a choice holds until the next minute: the ACD keeps it that long.
Holidays and one-off closures are the directory's schedules (they decide whether the queue is
reached at all); this module is only the queue's own time-dependent routing. Pure: no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from hibiki.acd.domain.errors import InvalidArgument
from hibiki.acd.domain.enums import Strategy

ALL_WEEK = frozenset(range(7))


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


@dataclass(frozen=True)
class TimeBand:
    start: time = time(0)
    end: time = time(0)
    weekdays: frozenset[int] = ALL_WEEK

    def __post_init__(self) -> None:
        for t in (self.start, self.end):
            if t.second or t.microsecond or t.tzinfo is not None:
                raise InvalidArgument(f"time band {self.start}-{self.end}: whole local minutes only")
        if not self.weekdays or not self.weekdays <= ALL_WEEK:
            raise InvalidArgument(f"time band weekdays must be a non-empty subset of 0-6, got {sorted(self.weekdays)}")
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))

    def covers(self, moment: datetime) -> bool:
        if moment.weekday() not in self.weekdays:
            return False
        start, end, now = _minutes(self.start), _minutes(self.end), moment.hour * 60 + moment.minute
        if start == end:
            return True
        return start <= now < end if start < end else now >= start or now < end


@dataclass(frozen=True)
class Season:
    start: tuple[int, int]      # (month, day)
    end: tuple[int, int]        # (month, day), included

    def __post_init__(self) -> None:
        for month, day in (self.start, self.end):
            try:
                date(2024, month, day)              # a leap year: 02-29 is a valid bound
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(f"season bound {month}-{day}: {exc}") from None
        object.__setattr__(self, "start", (self.start[0], self.start[1]))
        object.__setattr__(self, "end", (self.end[0], self.end[1]))

    def covers(self, day: date) -> bool:
        md = (day.month, day.day)
        return self.start <= md <= self.end if self.start <= self.end else md >= self.start or md <= self.end


@dataclass(frozen=True)
class RoutingProfile:
    name: str
    bands: tuple[TimeBand, ...] = ()
    seasons: tuple[Season, ...] = ()
    strategy: Strategy | None = None    # None: the queue's own
    priority: int | None = None         # None: the queue's own

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidArgument("a routing profile needs a name")
        object.__setattr__(self, "bands", tuple(self.bands))
        object.__setattr__(self, "seasons", tuple(self.seasons))

    def covers(self, moment: datetime) -> bool:
        day = moment.date()
        return ((not self.seasons or any(s.covers(day) for s in self.seasons))
                and (not self.bands or any(b.covers(moment) for b in self.bands)))


def choose_profile(profiles: Sequence[RoutingProfile], moment: datetime) -> RoutingProfile | None:
    """The first profile covering the local ``moment``, or None (the queue's own settings)."""
    for profile in profiles:
        if profile.covers(moment):
            return profile
    return None
