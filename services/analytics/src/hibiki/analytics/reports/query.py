"""What a report asks for, checked: the period, the grouping and the filters.

Every value here comes from a browser or an API client: each is checked and the first bad one
raises :class:`InvalidParameter` naming its field (the HTTP layer answers 400 with it). Days are
Asia/Tokyo calendar days; ``date_from`` and ``date_to`` are both included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
GROUPINGS = ("total", "interval", "hour", "day", "dow", "month", "queue", "agent", "did", "disposition",
             "transfer_target")
MAX_DAYS = 3 * 366 + 1                  # the retention: three years
# the days a report can name: ClickHouse's DateTime range (1970-2105); Python's own ends (years 1
# and 9999) overflowed when Tokyo's midnight was taken to UTC (a 500 instead of a 400)
FIRST_DAY, LAST_DAY = date(1970, 1, 2), date(2105, 12, 31)
_ID = re.compile(r"[A-Za-z0-9_.:@+\-]{1,128}")


class InvalidParameter(ValueError):
    def __init__(self, field: str, message: str, error_id: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.error_id = error_id or f"invalid-{field.replace('_', '-')}"


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.first, time(), TOKYO).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:          # exclusive
        return datetime.combine(self.last + timedelta(days=1), time(), TOKYO).astimezone(UTC)


@dataclass(frozen=True)
class ReportQuery:
    tenant: str
    period: Period
    by: str = "total"
    queue: str | None = None
    agent: str | None = None
    did: str | None = None
    disposition: str | None = None


def parse_day(text: str | None, name: str) -> date:
    if not text:
        raise InvalidParameter(name, f"{name} is required (YYYY-MM-DD)", "missing-parameter")
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(name, f"{name} must be a date as YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidParameter(name, f"{name} must be a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def parse_period(date_from: str | None, date_to: str | None) -> Period:
    first = parse_day(date_from, "from")
    last = parse_day(date_to, "to") if date_to else first
    if last < first:
        raise InvalidParameter("to", "to is before from")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidParameter("to", f"a report covers at most {MAX_DAYS} days")
    return Period(first, last)


def check_id(value: str | None, name: str) -> str | None:
    """An id filter (queue, agent, DID, disposition, user): printable, no spaces, at most 128 characters."""
    if value is None or value == "":
        return None
    if not _ID.fullmatch(value):
        raise InvalidParameter(name, f"{name} must be 1-128 letters, digits or . _ : @ + -")
    return value


def check_disposition(value: str | None) -> str | None:
    """Case types are free text in Japanese too: any printable text up to 64 characters."""
    if value is None or value == "":
        return None
    if len(value) > 64 or not value.isprintable():
        raise InvalidParameter("disposition", "disposition must be printable text of at most 64 characters")
    return value


def check_choice(params: dict[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    """A parameter that must be one of ``choices`` when given (given empty is not one)."""
    if name in params and params[name] not in choices:
        raise InvalidParameter(name, f"{name} must be one of {', '.join(choices)}")
    return params.get(name)


def build(tenant: str, params: dict[str, str]) -> ReportQuery:
    """A report query from URL query parameters (``from``, ``to``, ``by``, ``queue``, ``agent``,
    ``did``, ``disposition``); anything else is refused so a typo is not silently ignored."""
    known = {"from", "to", "by", "queue", "agent", "did", "disposition", "encoding", "lang"}
    for name in params:
        if name not in known:
            raise InvalidParameter(name[:64] or "query", f"unknown parameter {name[:64]!r}", "unknown-parameter")
    by = params.get("by", "total")
    if by not in GROUPINGS:
        raise InvalidParameter("by", f"by must be one of {', '.join(GROUPINGS)}")
    check_choice(params, "lang", ("ja", "en"))
    check_choice(params, "encoding", ("utf-8", "shift_jis"))
    return ReportQuery(
        tenant, parse_period(params.get("from"), params.get("to")), by,
        queue=check_id(params.get("queue"), "queue"), agent=check_id(params.get("agent"), "agent"),
        did=check_id(params.get("did"), "did"), disposition=check_disposition(params.get("disposition")))
