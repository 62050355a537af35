"""One batch of events into the tables: store the raw events, then recompute every call and
agent they touch from everything stored, and write those rows with a new version.

Idempotent: storing a batch twice (a redelivery after a crash, a replayed stream) stores the same
raw rows and recomputes the same records, which replace the old ones. Raises if the store
fails; the caller then acknowledges nothing and the batch comes again.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hibiki.analytics.events import AGENT_KEY_PREFIX, RawEvent
from hibiki.analytics.records import AgentInterval, CallRecord, LegRecord, fold_agent, fold_call
from hibiki.analytics.storage import tables
from hibiki.analytics.storage.base import Store
from hibiki.common.logging import get_logger

log = get_logger("hibiki.analytics.ingest")
LEG_KEYED = ("recording.started", "recording.stored")   # may name a B-leg's channel rather than the call
MAX_ROUNDS = 3      # folds of one batch when other consumers store events of the same calls meanwhile


@dataclass
class BatchResult:
    events: int = 0
    calls: list[CallRecord] = field(default_factory=list)
    legs: list[LegRecord] = field(default_factory=list)
    intervals: list[AgentInterval] = field(default_factory=list)


class Ingestor:
    def __init__(self, store: Store, retention: Callable[[str], int], clock: Callable[[], int] = time.time_ns) -> None:
        self._store, self._retention, self._clock = store, retention, clock
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
        calls: dict[str, set[str]] = {}
        agents: dict[tuple[str, str], datetime] = {}
        for event in batch:
            if event.key.startswith(AGENT_KEY_PREFIX):
                agent = (event.tenant, event.key[len(AGENT_KEY_PREFIX):])
                agents[agent] = min(agents.get(agent, event.occurred_at), event.occurred_at)
            else:
                calls.setdefault(event.tenant, set()).add(event.key)
        for _ in range(MAX_ROUNDS):
            seen: dict[tuple[str, str], frozenset[str]] = {}
            self._round(calls, agents, seen, result)
            # Another consumer (several analytics replicas) may have stored events of the same calls
            # while this one folded: fold again what changed, so the newest version saw everything.
            calls, agents = self._changed(seen, agents)
            if not calls and not agents:
                break
        return result

    def _round(self, calls: dict[str, set[str]], agents: dict[tuple[str, str], datetime],
               seen: dict[tuple[str, str], frozenset[str]], result: BatchResult) -> None:
        version = self._version()
        intervals: list[AgentInterval] = []
        calls = {tenant: set(keys) for tenant, keys in calls.items()}
        for (tenant, agent_id), since in agents.items():
            events = tables.agent_events_around(self._store, tenant, agent_id, since)
            seen[(tenant, AGENT_KEY_PREFIX + agent_id)] = frozenset(e.event_id for e in events
                                                                    if e.occurred_at >= since)
            folded = fold_agent(tenant, agent_id, events)
            intervals.extend(folded)
            # a closed after-call-work interval changes its call's record
            calls.setdefault(tenant, set()).update(i.call_id for i in folded if i.call_id)
        tables.insert_agent_states(self._store, intervals, version, self._retention)
        call_records: list[CallRecord] = []
        legs: list[LegRecord] = []
        for tenant, keys in calls.items():
            self._recompute(tenant, keys, call_records, legs, seen)
        tables.insert_legs(self._store, legs, version, self._retention)
        tables.insert_calls(self._store, call_records, version, self._retention)
        for call in call_records:
            log.info("call_recorded", tenant=call.tenant, call_uuid=call.call_id, result=call.result,
                     legs=call.legs, version=version)
        result.intervals.extend(intervals)
        result.legs.extend(legs)
        result.calls.extend(call_records)

    def _changed(self, seen: dict[tuple[str, str], frozenset[str]], agents: dict[tuple[str, str], datetime]
                 ) -> tuple[dict[str, set[str]], dict[tuple[str, str], datetime]]:
        by_tenant: dict[str, dict[str, datetime | None]] = {}
        for (tenant, key) in seen:
            agent = (tenant, key[len(AGENT_KEY_PREFIX):])
            by_tenant.setdefault(tenant, {})[key] = agents.get(agent) if key.startswith(AGENT_KEY_PREFIX) else None
        calls: dict[str, set[str]] = {}
        changed_agents: dict[tuple[str, str], datetime] = {}
        for tenant, keys in by_tenant.items():
            now = tables.event_ids(self._store, tenant, keys)
            for key, since in keys.items():
                if now.get(key, frozenset()) == seen[(tenant, key)]:
                    continue
                if since is not None:
                    changed_agents[(tenant, key[len(AGENT_KEY_PREFIX):])] = since
                else:
                    calls.setdefault(tenant, set()).add(key)
        if calls or changed_agents:
            log.info("calls_refolded", calls=sum(len(k) for k in calls.values()), agents=len(changed_agents))
        return calls, changed_agents

    def _resolve_legs(self, batch: Sequence[RawEvent]) -> list[RawEvent]:
        """Recording events of a B-leg's channel are keyed by the call that leg belongs to."""
        out = list(batch)
        by_tenant: dict[str, set[str]] = {}
        for event in batch:
            if event.kind in LEG_KEYED:
                by_tenant.setdefault(event.tenant, set()).add(event.key)
        if not by_tenant:
            return out
        known = {(e.tenant, e.call_uuid): e.key for e in batch if e.kind == "call.ended"}
        for tenant, keys in by_tenant.items():
            for leg, call_id in tables.calls_of_legs(self._store, tenant, keys).items():
                known[(tenant, leg)] = call_id
        return [dataclasses.replace(e, key=known.get((e.tenant, e.key), e.key)) if e.kind in LEG_KEYED else e
                for e in out]

    def _recompute(self, tenant: str, keys: set[str], calls: list[CallRecord], legs: list[LegRecord],
                   seen: dict[tuple[str, str], frozenset[str]]) -> None:
        events = tables.events_of(self._store, tenant, keys)
        by_call: dict[str, list[RawEvent]] = {}
        for event in events:
            by_call.setdefault(event.key, []).append(event)
        acw = tables.acw_of(self._store, tenant, keys)
        for call_id in sorted(keys):
            mine = by_call.get(call_id, [])
            seen[(tenant, call_id)] = frozenset(e.event_id for e in mine)
            call, call_legs = fold_call(tenant, call_id, mine, acw.get(call_id))
            legs.extend(call_legs)
            if call is not None:
                calls.append(call)
