"""The two indexes a routing decision reads: ready agents per queue, waiting calls per queue.

Both are binary heaps with lazy deletion, so a decision is O(log n) amortised:

- ``ReadyAgents``: the queue's ready members, ordered by the queue's strategy:
  ``(primary, idle_since, agent_id)`` where primary is 0 (longest idle, ring-all), the number of
  calls answered since login (fewest calls) or minus the agent's summed levels in the queue's
  skills (skills). An agent leaving READY is dropped from ``ids``; its heap entries (one per
  queue it serves) are discarded when they surface, or when the heap grows past twice the live
  set. Each stay in READY has its own ``ready_epoch``, so an old entry never passes for a new one.
- ``WaitingCalls``: the queue's waiting calls in partitions by the skills they ask for beyond
  the queue's own (``Call.extra``; almost always one partition: none), each a heap of
  ``(-priority, arrived_at, seq)``. An agent looks at the head of each partition its skills
  satisfy. An entry is live while its ``token`` is the call's (a new token each time the call
  enters a waiting index).

A call that asks for skills beyond the queue's walks the heap in order to the first agent who
has them; a ring-all offer takes every ready member (O(ready members)).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from hibiki.acd.domain.entities import Agent, Call
from hibiki.acd.domain.enums import Strategy
from hibiki.acd.domain.model import Skills, satisfies

ReadyEntry = tuple[float, float, str, int]            # (primary, idle_since, agent_id, ready_epoch)
WaitEntry = tuple[int, float, int, str, int]          # (-priority, arrived_at, seq, call_id, token)
Signature = tuple[tuple[str, int], ...]
SLACK = 32


class ReadyAgents:
    __slots__ = ("agents", "strategy", "skills", "heap", "ids")

    def __init__(self, agents: Mapping[str, Agent], strategy: Strategy, skills: Skills) -> None:
        self.agents = agents
        self.strategy = strategy
        self.skills = skills
        self.heap: list[ReadyEntry] = []
        self.ids: set[str] = set()

    def key(self, agent: Agent) -> ReadyEntry:
        if self.strategy is Strategy.SKILLS:
            own = agent.profile.skills
            primary = -float(sum(own.get(name, 0) for name in self.skills))
        elif self.strategy is Strategy.FEWEST_CALLS:
            primary = float(agent.calls_handled)
        else:
            primary = 0.0
        return (primary, agent.idle_since, agent.profile.id, agent.ready_epoch)

    def add(self, agent: Agent) -> None:
        self.ids.add(agent.profile.id)
        heapq.heappush(self.heap, self.key(agent))
        if len(self.heap) > 2 * len(self.ids) + SLACK:
            self.rebuild(self.strategy, self.skills)

    def discard(self, agent_id: str) -> None:
        self.ids.discard(agent_id)

    def _live(self, entry: ReadyEntry) -> bool:
        agent_id = entry[2]
        return agent_id in self.ids and self.agents[agent_id].ready_epoch == entry[3]

    def first(self) -> Agent | None:
        heap = self.heap
        while heap:
            entry = heap[0]
            if self._live(entry):
                return self.agents[entry[2]]
            heapq.heappop(heap)
        return None

    def best(self, wanted: Skills) -> Agent | None:
        """The first ready member in strategy order whose skills reach ``wanted`` (the call's own).

        With ``wanted``, a walk of the heap in order that leaves it as it is: from the root, always
        the smallest entry of the frontier, then its two children; it costs O(k log k) for the k
        entries ahead of the first that fits (all of them when none fits)."""
        if not wanted:
            return self.first()
        heap = self.heap
        size = len(heap)
        frontier = [(heap[0], 0)] if heap else []
        while frontier:
            entry, at = heapq.heappop(frontier)
            if self._live(entry):
                agent = self.agents[entry[2]]
                if satisfies(agent.profile.skills, wanted):
                    return agent
            for child in (2 * at + 1, 2 * at + 2):
                if child < size:
                    heapq.heappush(frontier, (heap[child], child))
        return None

    def every(self, wanted: Skills) -> list[Agent]:
        """Every ready member whose skills reach ``wanted``, in strategy order (ring-all)."""
        fits = [a for a in (self.agents[i] for i in self.ids) if satisfies(a.profile.skills, wanted)]
        fits.sort(key=self.key)
        return fits

    def rebuild(self, strategy: Strategy, skills: Skills) -> None:
        self.strategy, self.skills = strategy, skills
        self.heap = [self.key(self.agents[i]) for i in self.ids]
        heapq.heapify(self.heap)


class _Partition:
    __slots__ = ("heap", "live")

    def __init__(self) -> None:
        self.heap: list[WaitEntry] = []
        self.live = 0


def signature(call: Call) -> Signature:
    return tuple(sorted(call.extra.items())) if call.extra else ()


def wait_key(call: Call) -> tuple[int, float, int]:
    return (-call.priority, call.arrived_at, call.seq)


class WaitingCalls:
    __slots__ = ("calls", "parts", "count")

    def __init__(self, calls: Mapping[str, Call]) -> None:
        self.calls = calls
        self.parts: dict[Signature, _Partition] = {}
        self.count = 0

    def add(self, call: Call, token: int) -> None:
        call.token = token
        part = self.parts.get(sig := signature(call))
        if part is None:
            part = self.parts[sig] = _Partition()
        heapq.heappush(part.heap, (-call.priority, call.arrived_at, call.seq, call.id, token))
        part.live += 1
        self.count += 1
        if len(part.heap) > 2 * part.live + SLACK:
            part.heap = [e for e in part.heap if self._live(e)]
            heapq.heapify(part.heap)

    def remove(self, call: Call) -> None:
        sig = signature(call)
        part = self.parts[sig]
        part.live -= 1
        self.count -= 1
        call.token = 0
        if not part.live:
            del self.parts[sig]

    def _live(self, entry: WaitEntry) -> bool:
        call = self.calls.get(entry[3])
        return call is not None and call.token == entry[4]

    def head(self, sig: Signature) -> WaitEntry:
        """The first live entry of a partition (which has one: empty partitions are dropped)."""
        heap = self.parts[sig].heap
        while not self._live(heap[0]):
            heapq.heappop(heap)
        return heap[0]

    def ordered(self) -> list[Call]:
        """The waiting calls, first served first (a scan: for snapshots, not decisions)."""
        live = sorted(e for part in self.parts.values() for e in part.heap if self._live(e))
        return [self.calls[e[3]] for e in live]

    def position(self, call: Call) -> int:
        """1 for the next call served (among agents with every skill), 2 for the one after, ..."""
        key = wait_key(call)
        return 1 + sum(1 for part in self.parts.values() for e in part.heap if e[:3] < key and self._live(e))
