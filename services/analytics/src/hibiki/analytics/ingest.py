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
        version = self._version()
        calls: dict[str, set[str]] = {}
        agents: dict[tuple[str, str], datetime] = {}
        for event in batch:
            if event.key.startswith(AGENT_KEY_PREFIX):
                agent = (event.tenant, event.key[len(AGENT_KEY_PREFIX):])
                agents[agent] = min(agents.get(agent, event.occurred_at), event.occurred_at)
            else:
                calls.setdefault(event.tenant, set()).add(event.key)
        for (tenant, agent_id), since in agents.items():
            intervals = fold_agent(tenant, agent_id, tables.agent_events_around(self._store, tenant, agent_id, since))
            result.intervals.extend(intervals)
            # a closed after-call-work interval changes its call's record
            calls.setdefault(tenant, set()).update(i.call_id for i in intervals if i.call_id)
        tables.insert_agent_states(self._store, result.intervals, version, self._retention)
        for tenant, keys in calls.items():
            self._recompute(tenant, keys, result)
        tables.insert_legs(self._store, result.legs, version, self._retention)
        tables.insert_calls(self._store, result.calls, version, self._retention)
        for call in result.calls:
            log.info("call_recorded", tenant=call.tenant, call_uuid=call.call_id, result=call.result,
                     legs=call.legs, version=version)
        return result

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

    def _recompute(self, tenant: str, keys: set[str], result: BatchResult) -> None:
        events = tables.events_of(self._store, tenant, keys)
        by_call: dict[str, list[RawEvent]] = {}
        for event in events:
            by_call.setdefault(event.key, []).append(event)
        acw = tables.acw_of(self._store, tenant, keys)
        for call_id in sorted(keys):
            call, legs = fold_call(tenant, call_id, by_call.get(call_id, []), acw.get(call_id))
            result.legs.extend(legs)
            if call is not None:
                result.calls.append(call)
