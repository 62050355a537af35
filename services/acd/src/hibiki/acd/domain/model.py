"""What the ACD is configured with: queues (CC-01) and agents (their skills and queues).

Skills are ``{name: level}``; levels are integers from 1. A queue's ``skills`` are minimum levels
an agent must have to serve it at all; a call may ask for more (``Acd.enqueue(skills=...)``).
Priorities: a higher number is served first (queue priority first, then call priority, then
arrival). Durations are seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hibiki.acd.domain.enums import Strategy
from hibiki.acd.domain.errors import InvalidArgument
from hibiki.acd.domain.profiles import RoutingProfile

Skills = Mapping[str, int]


def check_skills(skills: Skills, what: str) -> dict[str, int]:
    """A copy of ``skills`` once every name is non-empty and every level an int >= 1."""
    checked: dict[str, int] = {}
    for name, level in skills.items():
        if not isinstance(name, str) or not name or isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise InvalidArgument(f"{what}: skill {name!r} needs a name and a level >= 1, got {level!r}")
        checked[name] = level
    return checked


def _positive(value: float, what: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise InvalidArgument(f"{what} must be a finite number of seconds > 0, got {value!r}")


@dataclass(frozen=True)
class Overflow:
    """After ``after_seconds`` waiting in this queue, the call moves to ``queue_id``."""

    queue_id: str
    after_seconds: float


# Where callcontrol can send a caller whose maximum wait passed (see README: queued callers).
DESTINATION = re.compile(r"^(hangup|(extension|ring_group|voicemail|external|queue|message):[A-Za-z0-9_.*#+-]{1,64})$")


@dataclass(frozen=True)
class MaxWait:
    """After ``seconds`` waiting in this queue, the call leaves for ``destination``: callcontrol's
    route, ``extension:<ext>``, ``ring_group:<id>``, ``voicemail:<box>``, ``external:<number>``,
    ``queue:<another queue>``, ``message:<prompt id>`` (played, then the call ends) or ``hangup``."""

    seconds: float
    destination: str


@dataclass(frozen=True)
class QueueConfig:
    id: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    skills: Skills = field(default_factory=dict)
    priority: int = 0
    overflow: Overflow | None = None
    max_wait: MaxWait | None = None
    service_level_seconds: float = 15.0          # answered within this is "in service level" (CC-07)
    offer_timeout_seconds: float = 20.0          # an offer not answered in this is a missed offer
    wrap_up_limit_seconds: float | None = None   # None: after-call work ends only with the disposition
    missed_offer_limit: int | None = 3           # consecutive missed offers that make an agent not ready
    profiles: tuple[RoutingProfile, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidArgument("a queue needs an id")
        object.__setattr__(self, "strategy", Strategy(self.strategy))
        object.__setattr__(self, "skills", check_skills(self.skills, f"queue {self.id}"))
        object.__setattr__(self, "profiles", tuple(self.profiles))
        if self.overflow is not None:
            _positive(self.overflow.after_seconds, f"queue {self.id}: overflow after")
            if not self.overflow.queue_id or self.overflow.queue_id == self.id:
                raise InvalidArgument(f"queue {self.id}: overflow needs another queue")
        if self.max_wait is not None:
            _positive(self.max_wait.seconds, f"queue {self.id}: maximum wait")
            if not isinstance(self.max_wait.destination, str) or not DESTINATION.match(self.max_wait.destination):
                raise InvalidArgument(f"queue {self.id}: maximum wait needs a destination such as voicemail:2100, "
                                      f"extension:2000, queue:night, message:<prompt id> or hangup; "
                                      f"got {self.max_wait.destination!r}")
        _positive(self.service_level_seconds, f"queue {self.id}: service level target")
        _positive(self.offer_timeout_seconds, f"queue {self.id}: offer timeout")
        if self.wrap_up_limit_seconds is not None and self.wrap_up_limit_seconds != 0:
            _positive(self.wrap_up_limit_seconds, f"queue {self.id}: wrap-up limit")
        if self.missed_offer_limit is not None and (isinstance(self.missed_offer_limit, bool)
                                                    or not isinstance(self.missed_offer_limit, int)
                                                    or self.missed_offer_limit < 1):
            raise InvalidArgument(f"queue {self.id}: missed-offer limit must be None or >= 1")


@dataclass(frozen=True)
class AgentProfile:
    """An agent as configured: the ID they log in with anywhere, their skills, their queues."""

    id: str
    skills: Skills = field(default_factory=dict)
    queues: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidArgument("an agent needs an id")
        object.__setattr__(self, "skills", check_skills(self.skills, f"agent {self.id}"))
        object.__setattr__(self, "queues", frozenset(self.queues))

    def serves(self, queue: QueueConfig) -> bool:
        """Whether the agent is a member of ``queue``: listed there, and skilled enough."""
        return queue.id in self.queues and satisfies(self.skills, queue.skills)


def satisfies(skills: Skills, wanted: Skills) -> bool:
    """Whether ``skills`` reach every minimum level of ``wanted``."""
    for name, level in wanted.items():
        if skills.get(name, 0) < level:
            return False
    return True
