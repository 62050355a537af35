"""Erlang C for one interval: probability of waiting, service level, ASA, occupancy, agents needed.

The M/M/N queue (Poisson arrivals, exponential handle times, callers never give up), computed
through the Erlang B recursion ``B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1))`` and
``C = N·B / (N - A·(1 - B))``: no factorials or powers, so 10,000 Erlangs are as stable as 1.

    traffic A (Erlangs)    calls per interval × handle seconds / interval seconds
    P(wait)                C(N, A); 1 when N <= A (the queue grows without end)
    service level          1 - C·exp(-(N - A)·t / AHT): answered within t seconds
    ASA                    C·AHT / (N - A) seconds
    occupancy              A / N (capped at 1)
    agents needed          the fewest N meeting the service level (and the occupancy cap),
                           then N / (1 - shrinkage) rounded up to be scheduled
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_AGENTS = 100_000


class PlanningError(ValueError):
    """An input Erlang C cannot use; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def traffic(calls: float, aht_seconds: float, interval_seconds: float = 1800) -> float:
    """Offered traffic in Erlangs."""
    if calls < 0 or not math.isfinite(calls):
        raise PlanningError("calls", "calls must be a finite number >= 0")
    if aht_seconds <= 0 or not math.isfinite(aht_seconds):
        raise PlanningError("aht_seconds", "the average handle time must be > 0 seconds")
    if interval_seconds <= 0 or not math.isfinite(interval_seconds):
        raise PlanningError("interval_seconds", "the interval must be > 0 seconds")
    return calls * aht_seconds / interval_seconds


def erlang_b(agents: int, a: float) -> float:
    """Blocking probability of ``agents`` servers offered ``a`` Erlangs (Erlang B)."""
    if agents < 0:
        raise PlanningError("agents", "agents must be >= 0")
    b = 1.0
    for n in range(1, agents + 1):
        b = a * b / (n + a * b)
    return b


def erlang_c(agents: int, a: float) -> float:
    """Probability that a call waits (Erlang C); 1 when the agents cannot keep up."""
    if a <= 0:
        return 0.0
    if agents <= a:
        return 1.0
    b = erlang_b(agents, a)
    return min(1.0, agents * b / (agents - a * (1 - b)))


def service_level(agents: int, a: float, aht_seconds: float, target_seconds: float) -> float:
    """Share of calls answered within ``target_seconds``."""
    if a <= 0:
        return 1.0
    if agents <= a:
        return 0.0
    c = erlang_c(agents, a)
    return max(0.0, min(1.0, 1 - c * math.exp(-(agents - a) * target_seconds / aht_seconds)))


def asa(agents: int, a: float, aht_seconds: float) -> float:
    """Average speed of answer in seconds (infinite when the agents cannot keep up)."""
    if a <= 0:
        return 0.0
    if agents <= a:
        return math.inf
    return erlang_c(agents, a) * aht_seconds / (agents - a)


def occupancy(agents: int, a: float) -> float:
    return 0.0 if agents <= 0 else min(1.0, a / agents)


@dataclass(frozen=True)
class Interval:
    """What ``agents`` on the phones give for one interval's traffic."""

    calls: float
    aht_seconds: float
    interval_seconds: float
    target_seconds: float
    traffic: float
    agents: int
    probability_wait: float
    service_level: float
    asa_seconds: float
    occupancy: float
    scheduled: int            # agents / (1 - shrinkage), rounded up: who must be rostered

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in self.__dict__.items()}


def evaluate(calls: float, aht_seconds: float, agents: int, target_seconds: float = 15,
             interval_seconds: float = 1800, shrinkage: float = 0.0) -> Interval:
    """The interval with exactly ``agents`` answering."""
    a = traffic(calls, aht_seconds, interval_seconds)
    _check(target_seconds, shrinkage)
    if agents < 0 or agents > MAX_AGENTS:
        raise PlanningError("agents", f"agents must be 0-{MAX_AGENTS}")
    return Interval(calls, aht_seconds, interval_seconds, target_seconds, a, agents, erlang_c(agents, a),
                    service_level(agents, a, aht_seconds, target_seconds), asa(agents, a, aht_seconds),
                    occupancy(agents, a), rostered(agents, shrinkage))


def rostered(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are on the phones after ``shrinkage`` (breaks, training...)."""
    return math.ceil(agents / (1 - shrinkage) - 1e-9) if agents else 0


def agents_needed(calls: float, aht_seconds: float, target_level: float = 0.8, target_seconds: float = 15,
                  interval_seconds: float = 1800, shrinkage: float = 0.0, max_occupancy: float = 1.0) -> Interval:
    """The fewest agents that answer ``target_level`` of the calls within ``target_seconds`` and keep
    occupancy at most ``max_occupancy``. Service level only grows with agents, so the search starts
    at the least stable staff (floor(A) + 1) and walks up (at most a few dozen steps past A)."""
    a = traffic(calls, aht_seconds, interval_seconds)
    _check(target_seconds, shrinkage)
    if not 0 < target_level < 1:
        raise PlanningError("target_level", "the service level target must be between 0 and 1 (exclusive)")
    if not 0 < max_occupancy <= 1:
        raise PlanningError("max_occupancy", "the occupancy cap must be in (0, 1]")
    if a == 0:
        return evaluate(calls, aht_seconds, 0, target_seconds, interval_seconds, shrinkage)
    n = max(1, math.floor(a) + 1, math.ceil(a / max_occupancy - 1e-12))
    while n <= MAX_AGENTS:
        if service_level(n, a, aht_seconds, target_seconds) >= target_level and occupancy(n, a) <= max_occupancy:
            return evaluate(calls, aht_seconds, n, target_seconds, interval_seconds, shrinkage)
        n += 1
    raise PlanningError("calls", f"more than {MAX_AGENTS} agents would be needed")


def _check(target_seconds: float, shrinkage: float) -> None:
    if target_seconds < 0 or not math.isfinite(target_seconds):
        raise PlanningError("target_seconds", "the answer-time target must be >= 0 seconds")
    if not 0 <= shrinkage < 1:
        raise PlanningError("shrinkage", "shrinkage must be in [0, 1)")
