"""One batch of events into the tables: store the raw events, then recompute every call and
agent they touch from everything stored, and write those rows with a new version.

Idempotent: storing a batch twice (a redelivery after a crash, a replayed stream) stores the same
raw rows and recomputes the same records, which replace the old ones. Raises if the store
fails; the caller then acknowledges nothing and the batch comes again.

A call is folded from the events the store has for it: one cheap query gives their ids (its own
and its B-legs' channels'), and the events themselves come from a cache of recent calls when it
holds all of them (else from the store, one more query). After writing, the ids are asked again
(one query for the calls and the agents): if another consumer (several analytics replicas) stored
events of the same calls meanwhile, those calls are folded again (``MAX_ROUNDS``), so the newest
version has seen every event even when the replicas' clocks differ. A batch of any size costs one
insert per table and four to six queries (the after-call work is asked only for calls an agent
took, and only over the agents' intervals since those calls started): the larger the batch, the
cheaper each event.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
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
# an agent's after-call work starts after its call started; the agents' and the switch's clocks may differ
ACW_CLOCK_SLACK = timedelta(days=1)
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


class AgentEventCache:
    """Agents' recent state changes as decoded, by event id: an agent's window is read from the
    store at every batch (its previous change, hours back), its events are not parsed again."""

    def __init__(self, max_events: int) -> None:
        self._max = max_events
        self._events: OrderedDict[str, RawEvent] = OrderedDict()

    def add(self, events: Sequence[RawEvent]) -> None:
        for event in events:
            self._events[event.event_id] = event
        while len(self._events) > self._max:
            self._events.popitem(last=False)

    def decoded(self, events: list[RawEvent]) -> list[RawEvent]:
        """``events`` (from the store), each the one already decoded when there is one."""
        out = []
        for event in events:
            held = self._events.get(event.event_id)
            if held is None or held.tenant != event.tenant or held.key != event.key:
                held = dataclasses.replace(event, decoded=event.message())
                self._events[event.event_id] = held
            out.append(held)
        while len(self._events) > self._max:
            self._events.popitem(last=False)
        return out


class Ingestor:
    def __init__(self, store: Store, retention: Callable[[str], int], clock: Callable[[], int] = time.time_ns,
                 cache_calls: int = 20_000) -> None:
        self._store, self._retention, self._clock = store, retention, clock
        self._cache = EventCache(cache_calls)
        self._agent_cache = AgentEventCache(10 * cache_calls)
        self._last_version = 0
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics-insert")

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
        self._agent_cache.add([e for e in batch if e.key.startswith(AGENT_KEY_PREFIX)])
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
        windows, in_window = tables.agent_windows(self._store, agents)
        for (tenant, agent_id), window in windows.items():
            seen[(tenant, AGENT_KEY_PREFIX + agent_id)] = in_window.get((tenant, agent_id), frozenset())
            until = agents[(tenant, agent_id)][1]
            folded = [i for i in fold_agent(tenant, agent_id, self._agent_cache.decoded(window))
                      if i.start_time <= until]
            intervals.extend(folded)
            # a closed after-call-work interval changes its call's record
            calls.update((tenant, i.call_id) for i in folded
                         if i.call_id and i.state == "after_call_work" and i.end_time is not None)
        call_records: list[CallRecord] = []
        legs: list[LegRecord] = []
        events, ids = self._events(calls)
        # the engine stores the intervals (chdb and the driver release the GIL) while Python folds
        # the calls; the after-call work below reads them, so it waits for the insert
        inserting = self._writer.submit(tables.insert_agent_states, self._store, intervals, version, self._retention)
        try:
            for tenant, call_id in sorted(calls):
                mine = events.get((tenant, call_id), [])
                seen[(tenant, call_id)] = ids.get((tenant, call_id), frozenset())
                call, call_legs = fold_call(tenant, call_id, mine)
                legs.extend(call_legs)
                if call is not None:
                    call_records.append(call)
        finally:
            inserting.result()          # its failure fails the batch (nothing acknowledged)
        call_records = self._with_acw(call_records)
        tables.insert_legs(self._store, legs, version, self._retention)
        tables.insert_calls(self._store, call_records, version, self._retention)
        for call in call_records:
            log.info("call_recorded", tenant=call.tenant, call_uuid=call.call_id, result=call.result,
                     legs=call.legs, version=version)
        result.intervals.extend(intervals)
        result.legs.extend(legs)
        result.calls.extend(call_records)

    def _with_acw(self, calls: list[CallRecord]) -> list[CallRecord]:
        """The calls with their agent's after-call work: only a call an agent took has any (one
        query for those calls, over the agents' intervals since the earliest of them started)."""
        taken = [call for call in calls if call.agent_id]
        if not taken:
            return calls
        acw = tables.acw_of(self._store, {(c.tenant, c.call_id) for c in taken},
                            min(c.start_time for c in taken) - ACW_CLOCK_SLACK)
        return [dataclasses.replace(c, acw_ms=acw.get((c.tenant, c.call_id), {}).get(c.agent_id, 0))
                if c.agent_id else c for c in calls]

    def _events(self, calls: set[Pair]) -> tuple[dict[Pair, list[RawEvent]], dict[Pair, frozenset[str]]]:
        """Each call's events, with those keyed by its other legs' channels (a B-leg's
        ``call.answered``: who answered), and the ids of the events stored under each call's own key.
        One query for the ids; the events from the cache when it holds every one, else one more."""
        ids = tables.call_event_ids(self._store, calls)
        keyed: dict[Pair, list[RawEvent]] = {}
        missing = []
        for key, key_ids in ids.items():
            cached = self._cache.complete(key, key_ids)
            if cached is None:
                missing.append(key)
            else:
                keyed[key] = cached
        stored = tables.events_of(self._store, missing)
        self._cache.add(stored)
        for event in stored:
            keyed.setdefault((event.tenant, event.key), []).append(event)
        out: dict[Pair, list[RawEvent]] = {}
        for call in calls:
            events = keyed.get(call, [])
            out[call] = list(events)
            for event in events:
                if event.kind == "call.ended" and event.call_uuid not in ("", call[1]):
                    out[call].extend(keyed.get((call[0], event.call_uuid), []))
        return out, {key: value for key, value in ids.items() if key in calls}

    def _changed(self, seen: dict[Pair, frozenset[str]], agents: dict[Pair, Span]
                 ) -> tuple[set[Pair], dict[Pair, Span]]:
        """The calls and agents another consumer stored events of since this one read them (one query)."""
        call_keys = [key for key in seen if not key[1].startswith(AGENT_KEY_PREFIX)]
        now = tables.ids_now(self._store, call_keys, agents)
        calls = {key for key in call_keys if not now.get(key, frozenset()) <= seen[key]}
        changed_agents = {agent: span for agent, span in agents.items()
                          if not now.get((agent[0], AGENT_KEY_PREFIX + agent[1]), frozenset())
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
