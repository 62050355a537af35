"""``just bench acd``: the ACD's routing decisions under a stream of agent and call state changes.

What runs (one process, no I/O; the ACD domain is pure):

- ``--agents`` agents (default 2,000) in ``--queues`` queues (default 200): each queue asks for
  its own skill (some at level 2), each agent has that skill at levels 1-5 for ``--per-agent``
  queues (default 3) and serves those it is skilled enough for; one agent in ten speaks English,
  one call in twenty asks for it. Strategies: longest idle (most queues), skills, fewest calls,
  ring-all (one queue in ``--ring-all-every``, default 20: its offers cost as many as the agents
  it rings); priorities, overflow, maximum wait, wrap-up limits and a lunch-time routing
  profile on some queues. Every agent logs in and becomes ready;
- a seeded random stream of commands on a simulated clock, in phases of 150 simulated seconds,
  quiet (agents wait for calls) then busy (calls wait for agents): calls enqueued, offers
  answered (mostly the oldest first; a few rejected, some left to time out), calls ended,
  dispositions saved, breaks taken and ended, callers hanging up while waiting, ``tick`` for
  the timers. The stream reads the replies, so it only asks what makes sense at that moment
  (it answers offers that were made, ends calls that were answered);
- that stream against hibiki's ``Acd`` (per-queue heaps, event-driven) for ``--seconds``, then
  a stream from the same seed, as many commands long (the same simulated time; the details
  differ where the decisions differ), against a baseline with mod_callcenter's simple logic, triggered by the same events: waiting calls in first-in
  first-out lists; for a call, the first ready member of its queue by a linear scan of the
  members; for an agent, the first waiting call of its queues; no strategies, priorities,
  timers or profiles.

Each command is timed alone. A *decision* is a command whose reply offers a call. It prints
commands/s and decisions/s (one over the mean time of a deciding command), decision latency
p50/p99/p99.9/max, where decisions came from, the time from ``set_ready``/``save_disposition``
to the offer in the same reply ("ready -> offered": event-driven, no polling interval; FreeSWITCH's
mod_callcenter polls its SQL every 100 ms), how evenly calls were spread over agents, and
PASS/FAIL against p99 < 1 ms. It measures and prints; it exits 0 whether or not the target is
met, 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from datetime import time as clock
from typing import Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from hibiki.acd.domain import (
    Acd,
    AcdError,
    AgentProfile,
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallLeft,
    CallOverflowed,
    DispositionSaved,
    Enqueued,
    Event,
    LeaveReason,
    MaxWait,
    Offered,
    OfferMissed,
    OfferReleased,
    Overflow,
    QueueConfig,
    Requeued,
    RoutingProfile,
    Strategy,
    TimeBand,
    WrapUpExpired,
)

TARGET_P99_MS = 1.0
POLL_MS = 100.0                      # mod_callcenter's loop
START = datetime(2026, 4, 1, 11, 55, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()   # lunch profiles start at 12:00
STEP = 0.005                         # simulated seconds per command
PHASE = 150.0                        # simulated seconds of quiet, then of busy, then of quiet, ...
# cumulative shares of answer, end, disposition, enqueue, break, back, abandon (the rest: tick)
QUIET = (0.25, 0.45, 0.65, 0.86, 0.89, 0.93, 0.95)     # agents wait for calls
BUSY = (0.22, 0.40, 0.58, 0.88, 0.91, 0.95, 0.97)      # calls wait for agents
T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench acd", description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=2000, help="agents (default 2000)")
    p.add_argument("--queues", type=int, default=200, help="queues (default 200)")
    p.add_argument("--per-agent", type=int, default=3, help="queues each agent is listed in (default 3)")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds of hibiki's commands (default 5)")
    p.add_argument("--ring-all-every", type=int, default=20, metavar="N",
                   help="one queue in N rings all its ready agents at once (default 20; 0: none)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the configuration and the stream")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if (args.agents < 2 or args.queues < 1 or not 1 <= args.per_agent <= args.queues or args.seconds <= 0
            or args.ring_all_every < 0):
        print("bench acd: error: --agents >= 2, --queues >= 1, 1 <= --per-agent <= --queues, --seconds > 0, "
              "--ring-all-every >= 0", file=sys.stderr)
        return 2
    queues, agents = _configuration(args)
    results: list[Run] = []
    for name, make in (("hibiki Acd (indexed, event-driven)", lambda: _hibiki(queues, agents)),
                       ("baseline (first ready, linear scan)", lambda: FirstReady(queues, agents))):
        started = time.perf_counter()
        machine = make()
        run = Run(name, machine, queues, agents, args.seed)
        run.login_all()
        setup = time.perf_counter() - started
        started = time.perf_counter()
        run.stream(args.seconds, results[0].commands if results else None)
        print(f"{name}: set up in {setup:.2f} s, {run.commands:,} commands in {time.perf_counter() - started:.1f} s",
              flush=True)
        results.append(run)
    _report(args, queues, results)
    return 0


# -- configuration --------------------------------------------------------------------------------

def _configuration(args: argparse.Namespace) -> tuple[list[QueueConfig], list[AgentProfile]]:
    rng = random.Random(args.seed)
    lunch = RoutingProfile("lunch", bands=(TimeBand(clock(12), clock(13)),), priority=3)
    queues = []
    for i in range(args.queues):
        kind = i % 20
        ring_all = args.ring_all_every and i % args.ring_all_every == 0
        strategy = (Strategy.RING_ALL if ring_all else Strategy.SKILLS if kind in (1, 2, 3)
                    else Strategy.FEWEST_CALLS if kind == 4 else Strategy.LONGEST_IDLE)
        overflow = Overflow(f"q{(i + 1) % args.queues:03d}", 60) if i % 4 == 1 and args.queues > 1 else None
        queues.append(QueueConfig(
            f"q{i:03d}", strategy, {f"s{i:03d}": 2 if i % 5 == 3 else 1}, priority=i % 3, overflow=overflow,
            max_wait=MaxWait(600, "voicemail:100"), wrap_up_limit_seconds=30 if i % 2 else None,
            missed_offer_limit=3, profiles=(lunch,) if i % 10 == 5 else ()))
    agents = []
    for i in range(args.agents):
        listed = rng.sample(range(args.queues), args.per_agent)
        skills = {f"s{q:03d}": rng.randint(1, 5) for q in listed}
        if rng.random() < 0.1:
            skills["en"] = 1
        agents.append(AgentProfile(f"agent{i:05d}", skills, frozenset(f"q{q:03d}" for q in listed)))
    return queues, agents


def _hibiki(queues: list[QueueConfig], agents: list[AgentProfile]) -> Acd:
    acd = Acd("bench")
    pending = list(queues)
    while pending:                                   # targets of overflow before their sources
        later = []
        for config in pending:
            if config.overflow is None or config.overflow.queue_id in acd.queue_ids():
                acd.configure_queue(config, START)
            else:
                later.append(config)
        if len(later) == len(pending):               # a cycle: configure one without its overflow first
            first = later[0]
            acd.configure_queue(QueueConfig(first.id, first.strategy, first.skills, first.priority), START)
        pending = later
    for profile in agents:
        acd.configure_agent(profile, START)
    return acd


# -- the machines ---------------------------------------------------------------------------------

class Machine(Protocol):
    def login(self, agent_id: str, device: str, now: float, *, ready: bool = False) -> list[Event]: ...
    def enqueue(self, call_id: str, queue_id: str, now: float, *, priority: int = 0,
                skills: Mapping[str, int] | None = None, caller: str = "",
                ivr_path: Iterable[str] = ()) -> list[Event]: ...
    def cancel(self, call_id: str, now: float, reason: LeaveReason = LeaveReason.ABANDONED) -> list[Event]: ...
    def answer(self, call_id: str, agent_id: str, now: float) -> list[Event]: ...
    def reject(self, call_id: str, agent_id: str, now: float) -> list[Event]: ...
    def call_ended(self, call_id: str, now: float) -> list[Event]: ...
    def save_disposition(self, agent_id: str, call_id: str, case_type: str, now: float,
                         note: str = "") -> list[Event]: ...
    def set_break(self, agent_id: str, reason: str, now: float) -> list[Event]: ...
    def set_ready(self, agent_id: str, now: float) -> list[Event]: ...
    def tick(self, now: float) -> list[Event]: ...


def _satisfies(skills: Mapping[str, int], wanted: Mapping[str, int]) -> bool:
    return all(skills.get(name, 0) >= level for name, level in wanted.items())


class FirstReady:
    """mod_callcenter's simple logic, event-triggered: no strategies, priorities, timers or profiles."""

    def __init__(self, queues: list[QueueConfig], agents: list[AgentProfile]) -> None:
        self.members: dict[str, list[str]] = {q.id: [] for q in queues}
        self.serves: dict[str, list[str]] = {}
        self.skills: dict[str, Mapping[str, int]] = {}
        for profile in agents:
            self.skills[profile.id] = profile.skills
            self.serves[profile.id] = [q.id for q in queues if profile.serves(q)]
            for queue_id in self.serves[profile.id]:
                self.members[queue_id].append(profile.id)
        self.state = dict.fromkeys(self.skills, AgentState.LOGGED_OUT)
        self.device: dict[str, str] = {}
        self.waiting: dict[str, list[str]] = {q.id: [] for q in queues}
        self.queue_of: dict[str, str] = {}
        self.wants: dict[str, Mapping[str, int]] = {}
        self.offered: dict[str, str] = {}
        self.talking: dict[str, str] = {}

    def _set(self, agent_id: str, state: AgentState, events: list[Event]) -> None:
        events.append(AgentStateChanged(agent_id, self.state[agent_id], state, "", self.device.get(agent_id, ""), ""))
        self.state[agent_id] = state

    def _offer(self, call_id: str, agent_id: str, events: list[Event]) -> None:
        self.offered[call_id] = agent_id
        events.append(Offered(call_id, self.queue_of[call_id], agent_id, self.device[agent_id], 1, False))
        self._set(agent_id, AgentState.RESERVED, events)

    def _first_ready(self, call_id: str) -> str | None:
        wants = self.wants[call_id]
        for agent_id in self.members[self.queue_of[call_id]]:
            if self.state[agent_id] is AgentState.READY and _satisfies(self.skills[agent_id], wants):
                return agent_id
        return None

    def _ready(self, agent_id: str, events: list[Event]) -> None:
        self._set(agent_id, AgentState.READY, events)
        skills = self.skills[agent_id]
        for queue_id in self.serves[agent_id]:
            line = self.waiting[queue_id]
            for i, call_id in enumerate(line):
                if _satisfies(skills, self.wants[call_id]):
                    del line[i]
                    self._offer(call_id, agent_id, events)
                    return

    def _place(self, call_id: str, events: list[Event], front: bool = False) -> None:
        agent_id = self._first_ready(call_id)
        if agent_id is not None:
            self._offer(call_id, agent_id, events)
        elif front:
            self.waiting[self.queue_of[call_id]].insert(0, call_id)
        else:
            self.waiting[self.queue_of[call_id]].append(call_id)

    def login(self, agent_id: str, device: str, now: float, *, ready: bool = False) -> list[Event]:
        events: list[Event] = []
        self.device[agent_id] = device
        self._set(agent_id, AgentState.NOT_READY, events)
        if ready:
            self._ready(agent_id, events)
        return events

    def enqueue(self, call_id: str, queue_id: str, now: float, *, priority: int = 0,
                skills: Mapping[str, int] | None = None, caller: str = "",
                ivr_path: Iterable[str] = ()) -> list[Event]:
        self.queue_of[call_id], self.wants[call_id] = queue_id, dict(skills or {})
        events: list[Event] = [Enqueued(call_id, queue_id, priority)]
        self._place(call_id, events)
        return events

    def cancel(self, call_id: str, now: float, reason: LeaveReason = LeaveReason.ABANDONED) -> list[Event]:
        queue_id = self.queue_of.pop(call_id)
        events: list[Event] = []
        agent_id = self.offered.pop(call_id, None)
        if agent_id is None:
            self.waiting[queue_id].remove(call_id)
        else:
            events.append(OfferReleased(call_id, agent_id, "caller left"))
        events.append(CallLeft(call_id, queue_id, reason, "", 0.0))
        del self.wants[call_id]
        if agent_id is not None:
            self._ready(agent_id, events)
        return events

    def answer(self, call_id: str, agent_id: str, now: float) -> list[Event]:
        del self.offered[call_id]
        self.talking[call_id] = agent_id
        events: list[Event] = [CallAnswered(call_id, self.queue_of[call_id], agent_id, 0.0)]
        self._set(agent_id, AgentState.TALKING, events)
        return events

    def reject(self, call_id: str, agent_id: str, now: float) -> list[Event]:
        del self.offered[call_id]
        events: list[Event] = [OfferMissed(call_id, agent_id, "rejected"), Requeued(call_id, self.queue_of[call_id])]
        self._place(call_id, events, front=True)
        self._ready(agent_id, events)
        return events

    def call_ended(self, call_id: str, now: float) -> list[Event]:
        agent_id = self.talking.pop(call_id)
        queue_id = self.queue_of.pop(call_id)
        del self.wants[call_id]
        events: list[Event] = [CallEnded(call_id, queue_id, agent_id, 0.0)]
        self._set(agent_id, AgentState.AFTER_CALL_WORK, events)
        return events

    def save_disposition(self, agent_id: str, call_id: str, case_type: str, now: float,
                         note: str = "") -> list[Event]:
        events: list[Event] = [DispositionSaved(agent_id, call_id, "", case_type, note)]
        self._ready(agent_id, events)
        return events

    def set_break(self, agent_id: str, reason: str, now: float) -> list[Event]:
        events: list[Event] = []
        self._set(agent_id, AgentState.BREAK, events)
        return events

    def set_ready(self, agent_id: str, now: float) -> list[Event]:
        events: list[Event] = []
        self._ready(agent_id, events)
        return events

    def tick(self, now: float) -> list[Event]:
        return []


# -- the stream -----------------------------------------------------------------------------------

class Bag(Generic[T]):
    """A set with O(1) random choice."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self.at: dict[T, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: T) -> None:
        if item not in self.at:
            self.at[item] = len(self.items)
            self.items.append(item)

    def discard(self, item: T) -> None:
        i = self.at.pop(item, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.at[last] = i

    def pick(self, rng: random.Random) -> T:
        return self.items[rng.randrange(len(self.items))]


PAUSED = (AgentState.BREAK, AgentState.NOT_READY)


class Run:
    def __init__(self, name: str, machine: Machine, queues: list[QueueConfig], agents: list[AgentProfile],
                 seed: int) -> None:
        self.name, self.machine = name, machine
        self.queue_ids = [q.id for q in queues]
        self.agent_ids = [a.id for a in agents]
        self.rng = random.Random(seed + 1)
        self.now = START
        self.ready, self.paused, self.acw = Bag[str](), Bag[str](), Bag[str]()
        self.waiting, self.talking = Bag[str](), Bag[str]()
        self.offers = Bag[tuple[str, str]]()
        self.offer_order: deque[tuple[str, str]] = deque()     # oldest first (with offers gone since)
        self.wrap: dict[str, str] = {}
        self.answered: Counter[str] = Counter()
        self.ops: Counter[str] = Counter()
        self.busy_ns = 0
        self.commands = 0
        self.errors = 0
        self.decisions_ns: list[int] = []
        self.ready_to_offer_ns: list[int] = []
        self.next_call = 0
        self.decisions_by_origin: dict[str, list[int]] = {}
        self.gc_pauses_ns: list[int] = []

    def login_all(self) -> None:
        for i, agent_id in enumerate(self.agent_ids):
            self.observe(self.machine.login(agent_id, f"seat{i:05d}", self.now, ready=True))
            self.now += 0.001

    def observe(self, events: list[Event]) -> None:
        for e in events:
            kind = type(e)
            if kind is AgentStateChanged:
                assert isinstance(e, AgentStateChanged)
                if e.current is AgentState.READY:
                    self.ready.add(e.agent_id)
                else:
                    self.ready.discard(e.agent_id)
                if e.current in PAUSED:
                    self.paused.add(e.agent_id)
                else:
                    self.paused.discard(e.agent_id)
            elif kind is Offered:
                assert isinstance(e, Offered)
                self.offers.add((e.call_id, e.agent_id))
                self.offer_order.append((e.call_id, e.agent_id))
                self.waiting.discard(e.call_id)
            elif kind is OfferMissed or kind is OfferReleased:
                assert isinstance(e, (OfferMissed, OfferReleased))
                self.offers.discard((e.call_id, e.agent_id))
            elif kind is CallAnswered:
                assert isinstance(e, CallAnswered)
                self.offers.discard((e.call_id, e.agent_id))
                self.talking.add(e.call_id)
                self.answered[e.agent_id] += 1
            elif kind is CallEnded:
                assert isinstance(e, CallEnded)
                self.talking.discard(e.call_id)
                self.acw.add(e.agent_id)
                self.wrap[e.agent_id] = e.call_id
            elif kind is DispositionSaved or kind is WrapUpExpired:
                assert isinstance(e, (DispositionSaved, WrapUpExpired))
                self.acw.discard(e.agent_id)
            elif kind is Enqueued or kind is Requeued or kind is CallOverflowed:
                assert isinstance(e, (Enqueued, Requeued, CallOverflowed))
                self.waiting.add(e.call_id)
            elif kind is CallLeft:
                assert isinstance(e, CallLeft)
                self.waiting.discard(e.call_id)

    def _oldest_offer(self) -> tuple[str, str]:
        order = self.offer_order
        while order[0] not in self.offers.at:
            order.popleft()
        return order[0]

    def stream(self, seconds: float, commands: int | None) -> None:
        """For ``seconds``, or (the second implementation) for as many commands as the first ran."""
        started_gc = 0

        def on_gc(phase: str, info: dict[str, int]) -> None:
            nonlocal started_gc
            if phase == "start":
                started_gc = time.perf_counter_ns()
            else:
                self.gc_pauses_ns.append(time.perf_counter_ns() - started_gc)

        gc.callbacks.append(on_gc)
        try:
            self._stream(seconds, commands)
        finally:
            gc.callbacks.remove(on_gc)

    def _stream(self, seconds: float, commands: int | None) -> None:
        rng, m = self.rng, self.machine
        clock_ns = time.perf_counter_ns
        end = time.perf_counter() + seconds
        cap = 2 * len(self.queue_ids)
        while True:
            if commands is not None:
                if self.commands + self.errors >= commands:
                    return
            elif self.commands % 256 == 0 and time.perf_counter() >= end:
                return
            self.now += STEP
            now = self.now
            answer, end_call, dispose, enqueue, pause, back, abandon = (
                BUSY if int((now - START) / PHASE) % 2 else QUIET)
            r = rng.random()
            agent = ""
            try:
                if r < answer and self.offers:
                    call, agent = self._oldest_offer() if rng.random() < 0.9 else self.offers.pick(rng)
                    op = "reject" if rng.random() < 0.03 else "answer"
                    started = clock_ns()
                    events = m.reject(call, agent, now) if op == "reject" else m.answer(call, agent, now)
                elif r < end_call and self.talking:
                    op, call = "end", self.talking.pick(rng)
                    started = clock_ns()
                    events = m.call_ended(call, now)
                elif r < dispose and self.acw:
                    op, agent = "disposition", self.acw.pick(rng)
                    started = clock_ns()
                    events = m.save_disposition(agent, self.wrap[agent], "inquiry", now)
                elif r < enqueue and len(self.waiting) < cap:
                    self.next_call += 1
                    op, call = "enqueue", f"call{self.next_call}"
                    queue = self.queue_ids[rng.randrange(len(self.queue_ids))]
                    priority = 1 if rng.random() < 0.1 else 0
                    skills = {"en": 1} if rng.random() < 0.05 else None
                    started = clock_ns()
                    events = m.enqueue(call, queue, now, priority=priority, skills=skills)
                elif r < pause and self.ready:
                    op, agent = "break", self.ready.pick(rng)
                    started = clock_ns()
                    events = m.set_break(agent, "lunch", now)
                elif r < back and self.paused:
                    op, agent = "back", self.paused.pick(rng)
                    started = clock_ns()
                    events = m.set_ready(agent, now)
                elif r < abandon and self.waiting:
                    op, call = "abandon", self.waiting.pick(rng)
                    started = clock_ns()
                    events = m.cancel(call, now)
                else:
                    op = "tick"
                    started = clock_ns()
                    events = m.tick(now)
                took = clock_ns() - started
            except AcdError:
                self.errors += 1
                continue
            self.busy_ns += took
            self.commands += 1
            self.ops[op] += 1
            offered = [e for e in events if isinstance(e, Offered)]
            if offered:
                self.decisions_ns.append(took)
                if op in ("back", "disposition") and any(o.agent_id == agent for o in offered):
                    self.ready_to_offer_ns.append(took)
                    origin = "agent ready"
                else:
                    origin = "call enqueued" if op == "enqueue" else f"{op} (re-offer)"
                self.decisions_by_origin.setdefault(origin, []).append(took)
            self.observe(events)


# -- report ---------------------------------------------------------------------------------------

def _pct(values: list[int], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] / 1000


def _report(args: argparse.Namespace, queues: list[QueueConfig], runs: list[Run]) -> None:
    kinds = Counter(q.strategy.value.replace("_", " ") for q in queues)
    print()
    print(f"acd routing, {args.agents:,} agents in {args.queues:,} queues ({args.per_agent} listed per agent; "
          + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) + f"), {runs[0].commands:,} commands each "
          f"({args.seconds:g} s of hibiki's), seed {args.seed}")
    print(f"{'':<38}{'commands/s':>11}{'decisions/s':>13}{'p50 us':>9}{'p99 us':>9}{'p99.9 us':>10}{'max us':>9}"
          f"{'decisions':>11}")
    for run in runs:
        d = run.decisions_ns
        rate = run.commands / (run.busy_ns / 1e9) if run.busy_ns else 0.0
        per_decision = len(d) / (sum(d) / 1e9) if d else 0.0
        print(f"{run.name:<38}{rate:>11,.0f}{per_decision:>13,.0f}{_pct(d, 50):>9.1f}{_pct(d, 99):>9.1f}"
              f"{_pct(d, 99.9):>10.1f}{max(d, default=0) / 1000:>9.1f}{len(d):>11,}")
    print("(commands/s and decisions/s: time inside the machine only; decisions/s is one over the mean time of a "
          "command whose reply offers a call)")
    for run in runs:
        origins = sorted(run.decisions_by_origin.items(), key=lambda item: -len(item[1]))
        print(f"decisions of {run.name.split(' (')[0]}: "
              + ", ".join(f"{k} {len(v):,} (p99 {_pct(v, 99):.1f} us)" for k, v in origins))
    hibiki = runs[0]
    r = hibiki.ready_to_offer_ns
    print(f"ready -> offered: {len(r):,} offers in the reply to set_ready/save_disposition, p50 {_pct(r, 50):.1f} us, "
          f"p99 {_pct(r, 99):.1f} us, max {max(r, default=0) / 1000:.1f} us (event-driven, no polling interval; "
          f"mod_callcenter's {POLL_MS:.0f} ms poll adds {POLL_MS / 2:.0f} ms on average, up to {POLL_MS:.0f} ms)")
    for run in runs:
        counts = sorted(run.answered.get(a, 0) for a in run.agent_ids)
        median = statistics.median(counts)
        print(f"calls answered per agent, {run.name.split(' (')[0]}: min {counts[0]}, median {median:g}, "
              f"max {counts[-1]} (max/median {counts[-1] / median if median else float('nan'):.2f}), "
              f"agents with none {sum(1 for c in counts if not c):,}")
    for run in runs:
        pauses = run.gc_pauses_ns
        print(f"garbage collector, {run.name.split(' (')[0]}: {len(pauses):,} passes, longest "
              f"{max(pauses, default=0) / 1e6:.1f} ms (inside the max column when it struck during a command)")
    print("mix (hibiki): " + ", ".join(f"{k} {n:,}" for k, n in hibiki.ops.most_common())
          + f"; refused {hibiki.errors:,}; simulated {hibiki.now - START:,.0f} s")
    p99 = _pct(hibiki.decisions_ns, 99) / 1000
    verdict = "PASS" if p99 < TARGET_P99_MS else "FAIL"
    print(f"targets: p99 decision < {TARGET_P99_MS:g} ms: {verdict} ({p99:.3f} ms); ready -> offered event-driven: "
          f"{'PASS' if r else 'FAIL'} (in the same reply, {len(r):,} times)")
