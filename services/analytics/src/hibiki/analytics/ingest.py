"""One batch of events into the tables: store the raw events, then recompute every call and
agent they touch from everything stored, and write those rows with a new version.

Idempotent: storing a batch twice (a redelivery after a crash, a replayed stream) stores the same
raw rows and recomputes the same records, which replace the old ones. Raises if the store
fails; the caller then acknowledges nothing and the batch comes again.

A call is folded from the events the store has for it: one cheap query gives their ids, and the
events themselves come from a cache of recent calls when it holds all of them (else from the
store). After writing, the ids are asked again: if another consumer (several analytics replicas)
stored events of the same calls meanwhile, those calls are folded again (``MAX_ROUNDS``), so the
newest version has seen every event even when the replicas' clocks differ.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hibiki.analytics.events import AGENT_KEY_PREFIX, RawEvent
from hibiki.analytics.records import AgentInterval, CallRecord, LegRecord, fold_agent, fold_call
from hibiki.analytics.storage import tables
from hibiki.analytics.storage.base import Store
from hibiki.analytics.storage.tables import Pair
from hibiki.common.logging import get_logger

log = get_logger("hibiki.analytics.ingest")
LEG_KEYED = ("recording.started", "recording.stored")   # may name a B-leg's channel rather than the call
# stored, folded with their call later: a leg's answer matters once the leg has ended
NO_FOLD = ("call.answered",)
LEG_LOOKBACK = timedelta(days=7)   # how long before its recording a leg may have ended
MAX_ROUNDS = 3      # folds of one batch when other consumers store events of the same calls meanwhile
Span = tuple[datetime, datetime]


@dataclass
class BatchResult:
    events: int = 0
    calls: list[CallRecord] = field(default_factory=list)
    legs: list[LegRecord] = field(default_factory=list)
    intervals: list[AgentInterval] = field(default_factory=list)
    rounds: int = 0


class EventCache:
    """The events of the most recently touched calls, by (tenant, key); least recently used out."""

    def __init__(self, max_keys: int) -> None:
        self._max = max_keys
        self._events: OrderedDict[Pair, dict[str, RawEvent]] = OrderedDict()

    def add(self, events: Sequence[RawEvent]) -> None:
        for event in events:
            key = (event.tenant, event.key)
            self._events.setdefault(key, {})[event.event_id] = event
            self._events.move_to_end(key)
        while len(self._events) > self._max:
            self._events.popitem(last=False)

    def complete(self, key: Pair, ids: frozenset[str]) -> list[RawEvent] | None:
        """The key's events if the cache holds every one of ``ids``."""
        held = self._events.get(key)
        if held is None or not ids <= held.keys():
            return None
        self._events.move_to_end(key)
        return [held[i] for i in ids]


class Ingestor:
    def __init__(self, store: Store, retention: Callable[[str], int], clock: Callable[[], int] = time.time_ns,
                 cache_calls: int = 20_000) -> None:
        self._store, self._retention, self._clock = store, retention, clock
        self._cache = EventCache(cache_calls)
        self._last_version = 0

    def _version(self) -> int:
        self._last_version = max(self._last_version + 1, self._clock())
        return self._last_version

    def store_batch(self, batch: Sequence[RawEvent]) -> BatchResult:
        result = BatchResult(events=len(batch))
        if not batch:
            return result
        batch = self._resolve_legs(batch)
        tables.insert_events(self._store, batch, self._retention)
        self._cache.add([e for e in batch if not e.key.startswith(AGENT_KEY_PREFIX)])
        calls: set[Pair] = set()
        agents: dict[Pair, Span] = {}
        for event in batch:
            if event.kind in NO_FOLD:
                continue
            if event.key.startswith(AGENT_KEY_PREFIX):
                agent = (event.tenant, event.key[len(AGENT_KEY_PREFIX):])
                since, until = agents.get(agent, (event.occurred_at, event.occurred_at))
                agents[agent] = (min(since, event.occurred_at), max(until, event.occurred_at))
            else:
                calls.add((event.tenant, event.key))
        for _ in range(MAX_ROUNDS):
            result.rounds += 1
            seen: dict[Pair, frozenset[str]] = {}
            self._round(calls, agents, seen, result)
            calls, agents = self._changed(seen, agents)
            if not calls and not agents:
                break
        return result

    def _round(self, calls: set[Pair], agents: dict[Pair, Span], seen: dict[Pair, frozenset[str]],
               result: BatchResult) -> None:
        version = self._version()       # before reading: a consumer that reads later writes a newer version
        intervals: list[AgentInterval] = []
        calls = set(calls)
        low, high = tables.window(agents) if agents else (None, None)
        for (tenant, agent_id), window in tables.agent_windows(self._store, agents).items():
            seen[(tenant, AGENT_KEY_PREFIX + agent_id)] = frozenset(
                e.event_id for e in window if low is not None and high is not None and low <= e.occurred_at <= high)
            until = agents[(tenant, agent_id)][1]
            folded = [i for i in fold_agent(tenant, agent_id, window) if i.start_time <= until]
            intervals.extend(folded)
            # a closed after-call-work interval changes its call's record
            calls.update((tenant, i.call_id) for i in folded if i.call_id)
        tables.insert_agent_states(self._store, intervals, version, self._retention)
        call_records: list[CallRecord] = []
        legs: list[LegRecord] = []
        events = self._events(calls)
        acw = tables.acw_of(self._store, calls)
        for tenant, call_id in sorted(calls):
            mine = events.get((tenant, call_id), [])
            seen[(tenant, call_id)] = frozenset(e.event_id for e in mine)
            call, call_legs = fold_call(tenant, call_id, mine, acw.get((tenant, call_id)))
            legs.extend(call_legs)
            if call is not None:
                call_records.append(call)
        tables.insert_legs(self._store, legs, version, self._retention)
        tables.insert_calls(self._store, call_records, version, self._retention)
        for call in call_records:
            log.info("call_recorded", tenant=call.tenant, call_uuid=call.call_id, result=call.result,
                     legs=call.legs, version=version)
        result.intervals.extend(intervals)
        result.legs.extend(legs)
        result.calls.extend(call_records)

    def _events(self, calls: set[Pair]) -> dict[Pair, list[RawEvent]]:
        """Each call's events, with those keyed by its other legs' channels (a B-leg's
        ``call.answered``: who answered)."""
        out = self._keyed(calls)
        legs: dict[Pair, Pair] = {}
        for (tenant, call_id), events in out.items():
            for event in events:
                if event.kind == "call.ended" and event.call_uuid not in ("", call_id):
                    legs[(tenant, event.call_uuid)] = (tenant, call_id)
        for leg, events in self._keyed(set(legs)).items():
            out.setdefault(legs[leg], []).extend(events)
        return out

    def _keyed(self, keys: set[Pair]) -> dict[Pair, list[RawEvent]]:
        """The stored events of each key: from the cache when it holds every id the store has."""
        ids = tables.event_ids(self._store, keys)
        out: dict[Pair, list[RawEvent]] = {}
        missing = []
        for key in keys:
            if key not in ids:
                continue
            cached = self._cache.complete(key, ids[key])
            if cached is None:
                missing.append(key)
            else:
                out[key] = cached
        stored = tables.events_of(self._store, missing)
        self._cache.add(stored)
        for event in stored:
            out.setdefault((event.tenant, event.key), []).append(event)
        return out

    def _changed(self, seen: dict[Pair, frozenset[str]], agents: dict[Pair, Span]
                 ) -> tuple[set[Pair], dict[Pair, Span]]:
        call_keys = [key for key in seen if not key[1].startswith(AGENT_KEY_PREFIX)]
        now = tables.event_ids(self._store, call_keys)
        calls = {key for key in call_keys if not now.get(key, frozenset()) <= seen[key]}
        agent_ids = tables.agent_event_ids(self._store, agents)
        changed_agents = {agent: span for agent, span in agents.items()
                          if not agent_ids.get(agent, frozenset())
                          <= seen.get((agent[0], AGENT_KEY_PREFIX + agent[1]), frozenset())}
        if calls or changed_agents:
            log.info("calls_refolded", calls=len(calls), agents=len(changed_agents))
        return calls, changed_agents

    def _resolve_legs(self, batch: Sequence[RawEvent]) -> list[RawEvent]:
        """Recording events of a B-leg's channel are keyed by the call that leg belongs to."""
        in_batch = {(e.tenant, e.key) for e in batch if e.kind not in LEG_KEYED and e.kind not in NO_FOLD}
        legs = {(e.tenant, e.key) for e in batch if e.kind in LEG_KEYED} - in_batch
        if not legs:
            return list(batch)
        legs -= tables.call_keys(self._store, legs)          # a call's own channel: nothing to resolve
        known: dict[Pair, str] = {(e.tenant, e.call_uuid): e.key for e in batch if e.kind == "call.ended"}
        if legs:
            since = min(e.occurred_at for e in batch if e.kind in LEG_KEYED) - LEG_LOOKBACK
            known.update(tables.calls_of_legs(self._store, legs, since))
        return [dataclasses.replace(e, key=known.get((e.tenant, e.key), e.key)) if e.kind in LEG_KEYED else e
                for e in batch]
