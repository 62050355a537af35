"""Plain-dict forms of the configuration (JSON types only): the persisted state, and a shape the
admin API and configuration events can share. ``*_from_dict`` validates through the classes."""

from __future__ import annotations

from datetime import time
from typing import Any

from hibiki.acd.domain.enums import Strategy
from hibiki.acd.domain.errors import InvalidArgument
from hibiki.acd.domain.model import MaxWait, Overflow, QueueConfig
from hibiki.acd.domain.profiles import RoutingProfile, Season, TimeBand


def _hhmm(t: time) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def _time(text: str) -> time:
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        return time(hours, minutes)
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(f"a time of day is HH:MM, got {text!r}") from None


def _month_day(text: str) -> tuple[int, int]:
    try:
        month, day = (int(part) for part in text.split("-"))
        return (month, day)
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(f"a season bound is MM-DD, got {text!r}") from None


def profile_to_dict(profile: RoutingProfile) -> dict[str, Any]:
    return {"name": profile.name,
            "bands": [{"start": _hhmm(b.start), "end": _hhmm(b.end), "weekdays": sorted(b.weekdays)}
                      for b in profile.bands],
            "seasons": [{"start": "%02d-%02d" % s.start, "end": "%02d-%02d" % s.end} for s in profile.seasons],
            "strategy": profile.strategy.value if profile.strategy is not None else None,
            "priority": profile.priority}


def profile_from_dict(data: dict[str, Any]) -> RoutingProfile:
    return RoutingProfile(
        name=data["name"],
        bands=tuple(TimeBand(_time(b["start"]), _time(b["end"]), frozenset(b.get("weekdays", range(7))))
                    for b in data.get("bands", ())),
        seasons=tuple(Season(_month_day(s["start"]), _month_day(s["end"])) for s in data.get("seasons", ())),
        strategy=Strategy(data["strategy"]) if data.get("strategy") is not None else None,
        priority=data.get("priority"))


def queue_to_dict(config: QueueConfig) -> dict[str, Any]:
    return {"id": config.id, "strategy": config.strategy.value, "skills": dict(config.skills),
            "priority": config.priority,
            "overflow": None if config.overflow is None else {"queue_id": config.overflow.queue_id,
                                                              "after_seconds": config.overflow.after_seconds},
            "max_wait": None if config.max_wait is None else {"seconds": config.max_wait.seconds,
                                                              "destination": config.max_wait.destination},
            "service_level_seconds": config.service_level_seconds,
            "offer_timeout_seconds": config.offer_timeout_seconds,
            "wrap_up_limit_seconds": config.wrap_up_limit_seconds,
            "missed_offer_limit": config.missed_offer_limit,
            "profiles": [profile_to_dict(p) for p in config.profiles]}


def queue_from_dict(data: dict[str, Any]) -> QueueConfig:
    defaults = QueueConfig("defaults")
    try:
        overflow, max_wait = data.get("overflow"), data.get("max_wait")
        return QueueConfig(
            id=data["id"],
            strategy=Strategy(data.get("strategy", defaults.strategy)),
            skills=dict(data.get("skills", {})),
            priority=data.get("priority", defaults.priority),
            overflow=None if overflow is None else Overflow(overflow["queue_id"], overflow["after_seconds"]),
            max_wait=None if max_wait is None else MaxWait(max_wait["seconds"], max_wait["destination"]),
            service_level_seconds=data.get("service_level_seconds", defaults.service_level_seconds),
            offer_timeout_seconds=data.get("offer_timeout_seconds", defaults.offer_timeout_seconds),
            wrap_up_limit_seconds=data.get("wrap_up_limit_seconds", defaults.wrap_up_limit_seconds),
            missed_offer_limit=data.get("missed_offer_limit", defaults.missed_offer_limit),
            profiles=tuple(profile_from_dict(p) for p in data.get("profiles", ())))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, InvalidArgument):
            raise
        raise InvalidArgument(f"queue definition: {exc!r}") from None
