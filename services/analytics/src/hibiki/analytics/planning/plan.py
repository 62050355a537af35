"""A staffing plan: the forecast of each 30-minute slot of a day turned into agents (CC-09)."""

from __future__ import annotations

from dataclasses import dataclass

from hibiki.analytics.planning.erlang import Interval, agents_needed
from hibiki.analytics.planning.forecast import SLOT_MINUTES, Forecast, slot_label


@dataclass(frozen=True)
class Targets:
    aht_seconds: float
    target_level: float = 0.8
    target_seconds: float = 15
    shrinkage: float = 0.0
    max_occupancy: float = 1.0


@dataclass(frozen=True)
class PlanRow:
    slot: int
    start: str                       # "09:30", Asia/Tokyo
    interval: Interval


def staffing_plan(forecast: Forecast, targets: Targets) -> list[PlanRow]:
    """Agents on the phones and rostered for every slot of the forecast day."""
    return [
        PlanRow(slot, slot_label(slot), agents_needed(
            calls, targets.aht_seconds, targets.target_level, targets.target_seconds, SLOT_MINUTES * 60,
            targets.shrinkage, targets.max_occupancy))
        for slot, calls in enumerate(forecast.calls)
    ]


def peak(plan: list[PlanRow]) -> int:
    return max((row.interval.scheduled for row in plan), default=0)
