"""Business-hours schedules for numbers and queues (PBX-16, CC-01 time bands and seasons).

A :class:`Schedule` says, for a timezone-aware moment, whether a number or queue
is open, which routing branch applies and why. Pure domain code, no I/O. Schedules
are in Asia/Tokyo unless told otherwise; Japanese public holidays, with substitute
holidays (振替休日) and citizens' holidays (国民の休日), come from the ``holidays``
package, which covers 1949-2099 (later years have no public holidays).

Precedence, the first rule that applies decides:

1. an active manual override (``until`` is None or later than the moment):
   branch ``override:<mode>``, open only for mode ``open``;
2. a special day (an explicit date): open within its hours (``special_day``),
   ``closed`` outside them, or closed all day (``special_day``) when it has none;
3. the year-end/New Year closure (default Dec 29 - Jan 3, may be None): ``new_year``;
4. a Japanese public holiday when ``closed_on_public_holidays``: ``holiday``;
5. a season covering the date: its weekly hours replace the normal ones
   (``season:<name>`` when open, ``closed`` outside them). When several seasons
   cover a date, the shortest date range wins; among equal lengths the first listed;
6. the weekly hours: ``open`` within them, ``closed`` outside.

Intervals are half-open, [start, end) in local wall-clock minutes, so 08:45-18:00 is
open at 17:59:59 and closed at 18:00; ``24:00`` as an end means midnight. Date ranges
(MM-DD to MM-DD) include both ends and wrap over the year end when start > end.
A decision *changes* when ``open`` or ``branch`` changes; reasons are prose only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPEN, CLOSED = "open", "closed"
TOKYO = "Asia/Tokyo"
SCAN_DAYS = 400
_TIME = re.compile(r"([0-9]{2}):([0-9]{2})")
_MONTH_DAY = re.compile(r"([0-9]{2})-([0-9]{2})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_NAME = re.compile(r"[^\s:]+")
_MODE = re.compile(r"[a-z0-9_-]+")

Week = tuple[tuple["Interval", ...], ...]
"""Seven days of intervals, Monday first."""


class ScheduleError(ValueError):
    """Invalid schedule data or argument; the message starts with the field path."""


def _fail(path: str, message: str) -> NoReturn:
    raise ScheduleError(f"{path or 'schedule'}: {message}")


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except (TypeError, ValueError):
        return False
    return True


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        _fail("timezone", f"{key!r} is not a known time zone")


def _aware(value: datetime, path: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        _fail(path, f"{value.isoformat()} is naive; a timezone-aware datetime is needed")


@lru_cache(maxsize=256)
def _holidays_of(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("JP", years=year, language="ja"))


def public_holiday(day: date) -> str | None:
    """The Japanese name of the public holiday on ``day``, or None."""
    return _holidays_of(day.year).get(day)


@dataclass(frozen=True)
class Interval:
    """Open from ``start`` up to, not including, ``end``: minutes after local midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 1440:
            _fail("interval", f"{self.start}-{self.end} is not 0 <= start < end <= 1440 minutes")

    @classmethod
    def of(cls, start: str, end: str) -> Interval:
        """From ``HH:MM`` strings, e.g. ``Interval.of("08:45", "18:00")``."""
        return _interval({"start": start, "end": end}, "interval")

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


@dataclass(frozen=True, order=True)
class MonthDay:
    """A day of the year, Feb 29 included."""

    month: int
    day: int

    def __post_init__(self) -> None:
        if not _is_date(2000, self.month, self.day):
            _fail("month_day", f"{self.month}-{self.day} is not a month and day")

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True)
class DateRange:
    """``start`` to ``end`` inclusive, every year; wraps over the year end when start > end."""

    start: MonthDay
    end: MonthDay

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls in the range."""
        md = MonthDay(day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end

    @property
    def days(self) -> int:
        """Length in days, counted in a leap year (for "the most specific season wins")."""
        first = date(2000, self.start.month, self.start.day).toordinal()
        return (date(2000, self.end.month, self.end.day).toordinal() - first) % 366 + 1


DEFAULT_YEAR_END = DateRange(MonthDay(12, 29), MonthDay(1, 3))


@dataclass(frozen=True)
class Season:
    """Dates whose weekly hours replace the normal ones (e.g. a busy season)."""

    name: str
    dates: DateRange
    weekly: Week


@dataclass(frozen=True)
class SpecialDay:
    """One date with its own hours; no hours means closed all day."""

    date: date
    hours: tuple[Interval, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Override:
    """A manual override: mode ``open``, ``closed`` or a branch name such as ``disaster``."""

    mode: str
    until: datetime | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.mode, str) or not _MODE.fullmatch(self.mode):
            _fail("override.mode", f"{self.mode!r} is not open, closed or a branch name (a-z, 0-9, _, -)")
        if self.until is not None:
            _aware(self.until, "override.until")

    def active(self, at: datetime) -> bool:
        """Active until ``until`` (exclusive), or for good when it has none."""
        return self.until is None or at < self.until


@dataclass(frozen=True)
class Decision:
    """Whether a number/queue is open at a moment, the branch, why, and until when (if known)."""

    open: bool
    branch: str
    reason: str
    until: datetime | None


def _check_day(hours: tuple[Interval, ...], path: str) -> None:
    ordered = sorted(enumerate(hours), key=lambda item: item[1].start)
    for (_, before), (index, after) in zip(ordered, ordered[1:]):
        if after.start < before.end:
            _fail(f"{path}[{index}]", f"{after} overlaps {before}")


def _check_week(week: Week, path: str) -> None:
    if len(week) != 7:
        _fail(path, f"needs 7 days (mon..sun), got {len(week)}")
    for name, hours in zip(WEEKDAYS, week):
        _check_day(hours, f"{path}.{name}")


@dataclass(frozen=True)
class Schedule:
    """Business hours of a number or queue; see the module docstring for the rules."""

    weekly: Week
    timezone: str = TOKYO
    closed_on_public_holidays: bool = True
    year_end: DateRange | None = DEFAULT_YEAR_END
    seasons: tuple[Season, ...] = ()
    special_days: tuple[SpecialDay, ...] = ()
    override: Override | None = None

    def __post_init__(self) -> None:
        _zone(self.timezone)
        _check_week(self.weekly, "weekly")
        for i, season in enumerate(self.seasons):
            if any(s.name == season.name for s in self.seasons[:i]):
                _fail(f"seasons[{i}].name", f"duplicate season {season.name!r}")
            _check_week(season.weekly, f"seasons[{i}].weekly")
        for i, special in enumerate(self.special_days):
            if any(s.date == special.date for s in self.special_days[:i]):
                _fail(f"special_days[{i}].date", f"duplicate date {special.date}")
            _check_day(special.hours, f"special_days[{i}].hours")

    def decide(self, at: datetime) -> Decision:
        """The decision at ``at``; ``until`` is :meth:`next_change`."""
        is_open, branch, reason = self._decide(at)
        return Decision(is_open, branch, reason, self.next_change(at))

    def state(self, at: datetime) -> Decision:
        """The decision at ``at`` without ``until`` (cheap: what call routing needs)."""
        is_open, branch, reason = self._decide(at)
        return Decision(is_open, branch, reason, None)

    def next_change(self, at: datetime) -> datetime | None:
        """The first moment after ``at`` whose decision differs (``open`` or ``branch``).

        An active override changes at its ``until`` (None: never). Otherwise decisions only
        change at interval edges and local midnights, so only those are checked, day by day
        for up to 400 days; None when nothing changes in that time. Exact for zones without
        daylight saving time such as Asia/Tokyo.
        """
        now = self._decide(at)[:2]
        if self.override is not None and self.override.active(at):
            return self.override.until
        return self._scan(at, lambda decision: decision[:2] != now)

    def next_opening(self, at: datetime) -> datetime | None:
        """The first moment from ``at`` on when the number is open ("we open at 8:45").

        ``at`` itself when open now; None if not within 400 days. An active override
        without ``until`` keeps it as it is; schedule hours apply again after its ``until``.
        """
        if self._decide(at)[0]:
            return at
        override = self.override
        if override is not None and override.active(at):
            if override.until is None:
                return None
            return self.next_opening(override.until)
        return self._scan(at, lambda decision: decision[0])

    def _scan(self, at: datetime, wanted: Callable[[tuple[bool, str, str]], bool]) -> datetime | None:
        """The first interval edge or local midnight after ``at`` whose decision is ``wanted``."""
        zone = _zone(self.timezone)
        first = at.astimezone(zone).date()
        for offset in range(min(SCAN_DAYS, (date.max - first).days) + 1):
            day = first + timedelta(days=offset)
            hours = self._day(day)[0] or ()
            for minute in sorted({0, *(m for iv in hours for m in (iv.start, iv.end) if m < 1440)}):
                moment = datetime.combine(day, time(), zone) + timedelta(minutes=minute)
                if moment > at and wanted(self._decide(moment)):
                    return moment
        return None

    def _decide(self, at: datetime) -> tuple[bool, str, str]:
        _aware(at, "at")
        override = self.override
        if override is not None and override.active(at):
            return override.mode == OPEN, f"override:{override.mode}", override.reason or "manual override"
        local = at.astimezone(_zone(self.timezone))
        hours, branch, reason = self._day(local.date())
        if hours is None:
            return False, branch, reason
        minute = local.hour * 60 + local.minute
        for interval in hours:
            if interval.start <= minute < interval.end:
                return True, branch, f"{reason} {interval}"
        return False, CLOSED, f"outside {reason}"

    def day_plan(self, day: date) -> dict[str, Any]:
        """What a local date is, override aside (the console's calendar): branch, why, opening hours."""
        hours, branch, reason = self._day(day)
        return {"date": day.isoformat(), "branch": branch, "reason": reason, "open": bool(hours),
                "hours": _hours_dict(hours or ())}

    def _day(self, day: date) -> tuple[tuple[Interval, ...] | None, str, str]:
        """The hours (None: closed all day), branch and reason for a local date, override aside."""
        for special in self.special_days:
            if special.date == day:
                return special.hours or None, "special_day", f"special day {special.reason}".strip()
        if self.year_end is not None and self.year_end.contains(day):
            return None, "new_year", "year-end/New Year closure"
        holiday = public_holiday(day) if self.closed_on_public_holidays else None
        if holiday is not None:
            return None, "holiday", f"public holiday {holiday}"
        seasons = [s for s in self.seasons if s.dates.contains(day)]
        if seasons:
            season = min(seasons, key=lambda s: s.dates.days)
            return season.weekly[day.weekday()], f"season:{season.name}", f"season {season.name} hours"
        return self.weekly[day.weekday()], OPEN, "weekly hours"

    @classmethod
    def from_dict(cls, data: object) -> Schedule:
        """Build and validate from JSON-like data (the shape :meth:`to_dict` returns)."""
        keys = {"timezone", "weekly", "closed_on_public_holidays", "year_end", "seasons", "special_days", "override"}
        d = _obj(data, "", keys, {"weekly"})
        flag = d.get("closed_on_public_holidays", True)
        if not isinstance(flag, bool):
            _fail("closed_on_public_holidays", f"{flag!r} is not true or false")
        year_end = d.get("year_end", {"start": "12-29", "end": "01-03"})
        override = d.get("override")
        return cls(
            weekly=_week(d["weekly"], "weekly"),
            timezone=_text(d.get("timezone", TOKYO), "timezone"),
            closed_on_public_holidays=flag,
            year_end=None if year_end is None else _range(year_end, "year_end"),
            seasons=tuple(_season(s, f"seasons[{i}]") for i, s in enumerate(_list(d.get("seasons", []), "seasons"))),
            special_days=tuple(
                _special(s, f"special_days[{i}]")
                for i, s in enumerate(_list(d.get("special_days", []), "special_days"))
            ),
            override=None if override is None else _override(override, "override"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; ``Schedule.from_dict(s.to_dict()) == s``."""
        o = self.override
        return {
            "timezone": self.timezone,
            "weekly": _week_dict(self.weekly),
            "closed_on_public_holidays": self.closed_on_public_holidays,
            "year_end": None if self.year_end is None else _range_dict(self.year_end),
            "seasons": [
                {"name": s.name, **_range_dict(s.dates), "weekly": _week_dict(s.weekly)} for s in self.seasons
            ],
            "special_days": [
                {"date": s.date.isoformat(), "hours": _hours_dict(s.hours), "reason": s.reason}
                for s in self.special_days
            ],
            "override": None
            if o is None
            else {"mode": o.mode, "until": None if o.until is None else o.until.isoformat(), "reason": o.reason},
        }


def _hours_dict(hours: tuple[Interval, ...]) -> list[dict[str, str]]:
    return [{"start": _hhmm(iv.start), "end": _hhmm(iv.end)} for iv in hours]


def _week_dict(week: Week) -> dict[str, list[dict[str, str]]]:
    return {name: _hours_dict(hours) for name, hours in zip(WEEKDAYS, week)}


def _range_dict(r: DateRange) -> dict[str, str]:
    return {"start": str(r.start), "end": str(r.end)}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _obj(value: object, path: str, keys: AbstractSet[str], required: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(path, f"expected an object, got {value!r}")
    for key in sorted(set(value) - keys, key=str):
        _fail(_join(path, str(key)), "unknown field")
    for key in sorted(required - set(value)):
        _fail(_join(path, key), "missing")
    return value


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        _fail(path, f"expected a list, got {value!r}")
    return value


def _text(value: object, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, f"expected a string, got {value!r}")
    return value


def _time(value: object, path: str, end: bool) -> int:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[2]) > 59 or int(match[1]) > 24 or (int(match[1]) == 24 and match[2] != "00"):
        _fail(path, f"{value!r} is not a time")
    if match[1] == "24" and not end:
        _fail(path, f"{value!r} is allowed only as an end")
    return int(match[1]) * 60 + int(match[2])


def _interval(value: object, path: str) -> Interval:
    d = _obj(value, path, {"start", "end"}, {"start", "end"})
    start, end = _time(d["start"], f"{path}.start", False), _time(d["end"], f"{path}.end", True)
    if end <= start:
        _fail(f"{path}.end", f"{d['end']!r} is not after start {d['start']!r}")
    return Interval(start, end)


def _hours(value: object, path: str) -> tuple[Interval, ...]:
    return tuple(_interval(v, f"{path}[{i}]") for i, v in enumerate(_list(value, path)))


def _week(value: object, path: str) -> Week:
    d = _obj(value, path, set(WEEKDAYS))
    return tuple(_hours(d.get(name, []), f"{path}.{name}") for name in WEEKDAYS)


def _month_day(value: object, path: str) -> MonthDay:
    match = _MONTH_DAY.fullmatch(value) if isinstance(value, str) else None
    if match is None or not _is_date(2000, int(match[1]), int(match[2])):
        _fail(path, f"{value!r} is not a month and day (MM-DD)")
    return MonthDay(int(match[1]), int(match[2]))


def _range(value: object, path: str) -> DateRange:
    d = _obj(value, path, {"start", "end"}, {"start", "end"})
    return DateRange(_month_day(d["start"], f"{path}.start"), _month_day(d["end"], f"{path}.end"))


def _name(value: object, path: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        _fail(path, f"{value!r} is not a name (no spaces or colons)")
    return value


def _season(value: object, path: str) -> Season:
    d = _obj(value, path, {"name", "start", "end", "weekly"}, {"name", "start", "end", "weekly"})
    dates = _range({"start": d["start"], "end": d["end"]}, path)
    return Season(_name(d["name"], f"{path}.name"), dates, _week(d["weekly"], f"{path}.weekly"))


def _special(value: object, path: str) -> SpecialDay:
    d = _obj(value, path, {"date", "hours", "reason"}, {"date"})
    raw = d["date"]
    match = _DATE.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or not _is_date(int(match[1]), int(match[2]), int(match[3])):
        _fail(f"{path}.date", f"{raw!r} is not a date (YYYY-MM-DD)")
    day = date(int(match[1]), int(match[2]), int(match[3]))
    return SpecialDay(day, _hours(d.get("hours", []), f"{path}.hours"), _text(d.get("reason", ""), f"{path}.reason"))


def _override(value: object, path: str) -> Override:
    d = _obj(value, path, {"mode", "until", "reason"}, {"mode"})
    mode, raw = d["mode"], d.get("until")
    until = None
    if raw is not None:
        text = _text(raw, f"{path}.until")
        try:
            until = datetime.fromisoformat(text)
        except ValueError:
            _fail(f"{path}.until", f"{raw!r} is not an ISO 8601 date and time")
        _aware(until, f"{path}.until")
    return Override(mode, until, _text(d.get("reason", ""), f"{path}.reason"))
