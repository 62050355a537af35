"""A queue at run time: its configuration, members, indexes, counters and current routing profile."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import Any

from hibiki.acd.domain.entities import Agent, Call
from hibiki.acd.domain.enums import Strategy
from hibiki.acd.domain.index import ReadyAgents, WaitingCalls
from hibiki.acd.domain.model import QueueConfig
from hibiki.acd.domain.profiles import RoutingProfile, choose_profile


@dataclass(slots=True)
class Counters:
    """Since the queue was created or ``Acd.reset_counters`` (the service's choice: per day, say);
    the reports of record are analytics' (CC-08), these are for the wallboard (CC-07)."""

    entered: int = 0
    answered: int = 0
    answered_in_target: int = 0       # within the queue's service-level seconds of entering it
    abandoned: int = 0
    abandoned_in_target: int = 0      # short abandons: left out of the service level
    overflowed: int = 0               # moved on to the overflow queue
    timed_out: int = 0                # left at the maximum wait
    cancelled: int = 0
    node_lost: int = 0                # left when their FreeSWITCH node was lost (out of the service level)

    def service_level(self) -> float | None:
        """Answered within the target, out of the calls that left the queue (short abandons
        excepted); None before the first."""
        handled = (self.answered + self.abandoned - self.abandoned_in_target + self.overflowed + self.timed_out
                   + self.cancelled)
        return self.answered_in_target / handled if handled > 0 else None

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Counters:
        return cls(**{k: int(v) for k, v in data.items()})


class QueueRuntime:
    __slots__ = ("config", "members", "ready", "waiting", "counters", "profile", "priority",
                 "profile_from", "profile_until")

    def __init__(self, config: QueueConfig, agents: Mapping[str, Agent], calls: Mapping[str, Call]) -> None:
        self.config = config
        self.members: set[str] = set()
        self.ready = ReadyAgents(agents, config.strategy, config.skills)
        self.waiting = WaitingCalls(calls)
        self.counters = Counters()
        self.profile: RoutingProfile | None = None
        self.priority = config.priority
        self.profile_from = -math.inf
        self.profile_until = math.inf if not config.profiles else -math.inf

    @property
    def id(self) -> str:
        return self.config.id

    def refresh(self, now: float, tz: tzinfo) -> None:
        """Choose the routing profile for ``now`` (kept until the next whole minute); a change of
        strategy re-orders the ready index."""
        if self.profile_from <= now < self.profile_until:
            return
        config = self.config
        self.profile = choose_profile(config.profiles, datetime.fromtimestamp(now, tz)) if config.profiles else None
        if config.profiles:
            self.profile_from = math.floor(now / 60) * 60.0
            self.profile_until = self.profile_from + 60.0
        else:
            self.profile_from, self.profile_until = -math.inf, math.inf
        profile = self.profile
        strategy = profile.strategy if profile is not None and profile.strategy is not None else config.strategy
        self.priority = profile.priority if profile is not None and profile.priority is not None else config.priority
        if strategy is not self.ready.strategy or config.skills is not self.ready.skills:
            self.ready.rebuild(strategy, config.skills)

    @property
    def strategy(self) -> Strategy:
        return self.ready.strategy
