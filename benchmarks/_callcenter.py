"""A seeded generator of a Toshima-sized call center's calls, as the analytics pipeline sees them.

Volume: every day of the range gets the mean of the seed's fiscal-2021 days of its month and kind
(working day, Saturday, Sunday or public holiday, Dec 29 - Jan 3), a working day scaled by its weekday's
share (Mondays are the busiest), drawn around that mean; 98 % of a day's calls fall in the staffed
hours 8:00-19:00 (Tokyo) with the seed's hourly shape, 2 % after hours, where the IVR answers. The
three years up to yesterday make ~608,000 calls.

Each call (``Call``): inbound to the representative number or the COVID-19 line (1 %), a few outbound
callbacks by agents (2 %), IVR test-mode calls (0.2 %), calls refused when the 40 channels are full at
peak (0.1 %). Inbound callers go through the IVR (``main``: 1 inquiries -> queue ``general``, 2 the
switchboard -> queue ``exchange``; the COVID line goes straight to queue ``covid``); 3 % hang up in the
IVR; after hours the IVR plays the closed message and 30 % leave a voicemail. In a queue the wait grows
with the hour's load and a caller's patience runs out (abandoned in queue, ~5-10 % a month); a wait over
60 s in ``general`` overflows to ``general-backup``. Answered calls: talk ~110 s, after-call work ~45 s,
hold on a quarter of them, a disposition (case type) each, a recording; the switchboard's calls and
some inquiries are transferred to a department extension (whose leg may go unanswered or be busy).
Legs: the caller's leg, the agent's leg and a transfer leg, each with its own UUID and times.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from zoneinfo import ZoneInfo

import holidays

from benchmarks import _toshima_seed as seed

TOKYO = ZoneInfo("Asia/Tokyo")
DAYS = 1096
# the three years up to yesterday (Tokyo): older rows would be past the 3-year retention, and the
# tables' TTL deletes them at the next merge
START = datetime.now(TOKYO).date() - timedelta(days=DAYS)
AFTER_HOURS_SHARE = 0.02
QUEUES = ("general", "exchange", "covid", "general-backup")
DISPOSITIONS = (  # case types and their weights: what Toshima's residents call about
    ("resident-register", 14), ("tax", 13), ("health-insurance", 11), ("pension", 6), ("waste", 12),
    ("childcare", 9), ("elder-care", 8), ("facilities", 10), ("events", 5), ("covid", 3), ("complaint", 3),
    ("other", 6),
)
RESULTS = ("answered", "abandoned_ivr", "abandoned_queue", "no_answer", "busy", "refused", "voicemail",
           "transferred")


@dataclass(slots=True)
class Leg:
    leg_uuid: str
    role: str  # caller, agent, transfer
    party: str  # number, agent id or extension
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    result: str
    hangup_cause: str


@dataclass(slots=True)
class Call:
    tenant: str
    call_uuid: str
    direction: str  # inbound, outbound
    caller: str
    callee: str
    did: str
    agent_id: str
    started_at: datetime
    ring_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime
    wait_s: float
    talk_s: float
    hold_s: float
    acw_s: float
    ivr_path: tuple[tuple[str, str], ...]  # (menu id, digits)
    queues: tuple[str, ...]  # entered in order: an overflow adds the second
    result: str
    disposition: str
    transfer_target: str
    recording_id: str
    test_mode: bool
    hangup_cause: str
    legs: list[Leg] = field(default_factory=list)


@dataclass(frozen=True)
class Center:
    tenant: str
    agents: int = 30
    departments: int = 60  # extensions the switchboard transfers to


def day_kind(day: date) -> str:
    if (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3):
        return "year-end"
    if day.weekday() == 6 or day in _holidays(day.year):
        return "holiday"
    if day.weekday() == 5:
        return "saturday"
    return "workday"


@lru_cache(maxsize=16)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("JP", years=year))


@lru_cache(maxsize=1)
def _means() -> tuple[dict[tuple[int, str], float], tuple[float, ...]]:
    """Mean calls per (month, kind) and each weekday's factor on working days, from fiscal 2021."""
    groups: dict[tuple[int, str], list[int]] = {}
    by_weekday: dict[int, list[int]] = {}
    for day, calls in seed.daily_2021().items():
        kind = day_kind(day)
        groups.setdefault((day.month, kind), []).append(calls)
        if kind == "workday":
            by_weekday.setdefault(day.weekday(), []).append(calls)
    means = {key: sum(v) / len(v) for key, v in groups.items()}
    workday_mean = sum(sum(v) for v in by_weekday.values()) / sum(len(v) for v in by_weekday.values())
    factors = tuple(sum(by_weekday[d]) / len(by_weekday[d]) / workday_mean for d in range(5))
    return means, factors


@lru_cache(maxsize=1)
def _year_end() -> dict[tuple[int, int], int]:
    return {(d.month, d.day): n for d, n in seed.daily_2021().items() if day_kind(d) == "year-end"}


def expected_calls(day: date) -> float:
    means, factors = _means()
    kind = day_kind(day)
    if kind == "year-end":  # each of Dec 29 - Jan 3 as the seed had it (Dec 29: 260 ... Jan 2: 28)
        return float(_year_end()[(day.month, day.day)])
    mean = means.get((day.month, kind)) or means.get((1 if day.month == 12 else day.month, kind))
    if mean is None:  # a kind fiscal 2021 lacked in that month: the year's mean of that kind
        pool = [m for (_, k), m in means.items() if k == kind]
        mean = sum(pool) / len(pool)
    return mean * factors[day.weekday()] if kind == "workday" else mean


def full_size() -> float:
    """Calls of one center over the default range (the scale ``--calls`` is relative to)."""
    return sum(expected_calls(START + timedelta(days=i)) for i in range(DAYS))


class Generator:
    """The calls of one center, day by day, deterministic for a seed."""

    def __init__(self, center: Center, seed_value: int = 1, scale: float = 1.0,
                 start: date = START, days: int = DAYS) -> None:
        self.center = center
        self.rng = random.Random(f"{center.tenant}:{seed_value}")
        self.scale, self.start, self.days = scale, start, days
        shape = seed.hourly_shape()
        self._hours = tuple(range(seed.STAFFED_FROM, seed.STAFFED_TO))
        self._cum = tuple(accumulate(shape))
        self._peak = max(shape)
        self._shape = dict(zip(self._hours, shape, strict=True))
        self._workday_mean = sum(_means()[0][(m, "workday")] for m in range(1, 13)) / 12

    def calls(self) -> Iterator[Call]:
        """Day by day, each day's calls in the order they started."""
        for _, calls in self.days_of_calls():
            yield from calls

    def days_of_calls(self) -> Iterator[tuple[date, list[Call]]]:
        for i in range(self.days):
            day = self.start + timedelta(days=i)
            expected = expected_calls(day) * self.scale
            # agents on shift: about one per 30 of the day's calls (the seed's 40 channels at most)
            on_shift = max(2, min(self.center.agents, round(expected / self.scale / 30)))
            self._free = [(0.0, n) for n in range(1, on_shift + 1)]
            starts = sorted(self._start(day) for _ in range(self._poisson(expected)))
            yield day, [self._call(start, staffed, hour, expected) for start, staffed, hour in starts]

    def _start(self, day: date) -> tuple[datetime, bool, int]:
        rng = self.rng
        staffed = rng.random() >= AFTER_HOURS_SHARE
        if staffed:
            hour = rng.choices(self._hours, cum_weights=self._cum)[0]
        else:
            hour = rng.choice((19, 19, 19, 20, 20, 21, 22, 23, 6, 7, 7, 7))
        local = datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO) + timedelta(seconds=rng.random() * 3600)
        return local.astimezone(UTC), staffed, hour

    def _agent(self, ring_at: datetime, busy_s: float) -> str:
        """The longest idle agent on shift; busy until the call and its after-call work are over."""
        free_at, n = heapq.heappop(self._free)
        at = ring_at.timestamp()
        heapq.heappush(self._free, (max(free_at, at) + busy_s, n))
        return f"{self.center.tenant}-op{n:02d}"

    def _poisson(self, mean: float) -> int:
        if mean > 50:
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, k, p = math.exp(-mean), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _call(self, start: datetime, staffed: bool, hour: int, expected: float) -> Call:
        rng = self.rng
        # the hour's load, 1.0 at an average working day's peak hour
        load = (self._shape.get(hour, 0.0) / self._peak) * (expected / self.scale / self._workday_mean)
        call_uuid = self._uuid()
        tenant = self.center.tenant
        r = rng.random()
        if staffed and r < 0.02:
            return self._outbound(tenant, call_uuid, start)
        did = seed.COVID_DID if rng.random() < seed.COVID_SHARE else seed.MAIN_DID
        caller = rng.choice(("03", "090", "080", "070")) + f"{rng.randrange(10**7, 10**8)}"
        call = Call(tenant, call_uuid, "inbound", caller, did, did, "", start, None, None, start, 0.0, 0.0, 0.0, 0.0,
                    (), (), "", "", "", "", rng.random() < 0.002, "NORMAL_CLEARING")
        if staffed and load > 0.8 and rng.random() < 0.004:  # every channel busy
            call.result, call.hangup_cause = "refused", "USER_BUSY"
            call.legs.append(Leg(self._uuid(), "caller", caller, start, None, start, "refused", "USER_BUSY"))
            return call
        ivr_s = 4 + rng.random() * 10
        if not staffed:  # the closed message, then voicemail or a hang-up
            call.ivr_path = (("closed", ""),)
            if rng.random() < 0.3:
                call.result, call.answered_at = "voicemail", start
                call.ended_at = start + timedelta(seconds=ivr_s + 10 + rng.random() * 50)
                call.recording_id = f"vm-{call_uuid}"
            else:
                call.result, call.answered_at = "abandoned_ivr", start
                call.ended_at = start + timedelta(seconds=ivr_s)
            return self._caller_leg(call)
        call.answered_at = start  # the IVR answers
        if did == seed.COVID_DID:
            queue, ivr_s = "covid", 2.0
        else:
            digit = "1" if rng.random() < 0.78 else "2"
            call.ivr_path = (("main", digit),)
            queue = "general" if digit == "1" else "exchange"
            if rng.random() < 0.03:
                call.ivr_path = (("main", ""),)
                call.result, call.hangup_cause = "abandoned_ivr", "ORIGINATOR_CANCEL"
                call.ended_at = start + timedelta(seconds=ivr_s)
                return self._caller_leg(call)
        entered = start + timedelta(seconds=ivr_s)
        wait = rng.expovariate(1 / (2 + 9 * load * load))
        patience = rng.expovariate(1 / 180)
        call.queues = (queue,)
        if queue == "general" and wait > 60 and patience > 60:
            call.queues = (queue, "general-backup")
        if patience < wait:
            call.result, call.hangup_cause = "abandoned_queue", "ORIGINATOR_CANCEL"
            call.wait_s = patience
            call.ended_at = entered + timedelta(seconds=patience)
            return self._caller_leg(call)
        ring_s = 1 + rng.random() * 4
        call.wait_s = wait + ring_s
        call.ring_at = entered + timedelta(seconds=wait)
        agent_answer = call.ring_at + timedelta(seconds=ring_s)
        talk = rng.lognormvariate(math.log(95), 0.55)
        call.hold_s = rng.expovariate(1 / 40) if rng.random() < 0.25 else 0.0
        call.talk_s = talk + call.hold_s  # hold is inside talk, as FreeSWITCH counts it
        call.acw_s = rng.lognormvariate(math.log(38), 0.6)
        call.agent_id = self._agent(call.ring_at, ring_s + talk + call.hold_s + call.acw_s)
        call.ended_at = agent_answer + timedelta(seconds=talk + call.hold_s)
        call.recording_id = f"rec-{call_uuid}"
        call.disposition = "switchboard" if queue == "exchange" else rng.choices(
            [d for d, _ in DISPOSITIONS], weights=[w for _, w in DISPOSITIONS])[0]
        call.result = "answered"
        self._caller_leg(call)
        call.legs.append(Leg(self._uuid(), "agent", call.agent_id, call.ring_at, agent_answer, call.ended_at,
                             "answered", "NORMAL_CLEARING"))
        if (queue == "exchange" and rng.random() < 0.95) or (queue == "general" and rng.random() < 0.06):
            call.result = "transferred"
            call.transfer_target = f"{rng.randrange(2000, 2000 + self.center.departments)}"
            t_start = call.ended_at
            roll = rng.random()
            leg_result, cause = ("answered", "NORMAL_CLEARING") if roll < 0.85 else (
                ("no_answer", "NO_ANSWER") if roll < 0.95 else ("busy", "USER_BUSY"))
            t_answer = t_start + timedelta(seconds=2 + rng.random() * 10) if leg_result == "answered" else None
            t_end = (t_answer + timedelta(seconds=rng.lognormvariate(math.log(120), 0.6)) if t_answer
                     else t_start + timedelta(seconds=20 if leg_result == "no_answer" else 1))
            call.legs.append(Leg(self._uuid(), "transfer", call.transfer_target, t_start, t_answer, t_end, leg_result,
                                 cause))
            call.legs[0].ended_at = t_end
            call.ended_at = t_end
        return call

    def _caller_leg(self, call: Call) -> Call:
        call.legs.append(Leg(self._uuid(), "caller", call.caller, call.started_at, call.answered_at, call.ended_at,
                             call.result, call.hangup_cause))
        return call

    def _outbound(self, tenant: str, call_uuid: str, start: datetime) -> Call:
        rng = self.rng
        callee = rng.choice(("03", "090", "080")) + f"{rng.randrange(10**7, 10**8)}"
        ring = rng.uniform(3, 25)
        answered = rng.random() < 0.7
        answer_at = start + timedelta(seconds=ring) if answered else None
        talk = rng.lognormvariate(math.log(80), 0.5) if answered else 0.0
        end = (answer_at + timedelta(seconds=talk)) if answer_at else start + timedelta(seconds=ring)
        result = "answered" if answered else ("no_answer" if rng.random() < 0.8 else "busy")
        cause = "NORMAL_CLEARING" if answered else ("NO_ANSWER" if result == "no_answer" else "USER_BUSY")
        agent = self._agent(start, (end - start).total_seconds() + 30)
        call = Call(tenant, call_uuid, "outbound", seed.MAIN_DID, callee, "", agent, start, start, answer_at, end,
                    0.0, talk, 0.0, rng.lognormvariate(math.log(30), 0.5) if answered else 0.0, (), (), result,
                    "", "", f"rec-{call_uuid}" if answered else "", False, cause)
        call.legs.append(Leg(self._uuid(), "agent", agent, start, start, end, "answered", cause))
        call.legs.append(Leg(self._uuid(), "caller", callee, start, answer_at, end, result, cause))
        return call

