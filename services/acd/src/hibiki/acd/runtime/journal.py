"""A tenant's state in ``hibiki_acd_state``: snapshots and the changes between them.

The key ``<tenant>`` keeps its last ``HISTORY`` revisions. A revision is either a snapshot
(``Acd.to_state()``, zlib-compressed JSON: ``encode_state``) or a change (plain JSON
``{"delta": 1, "prev", "seq", "queues", "agents", "calls"}``: the revision it follows, and the
records that differ from it, by id, ``null`` for a record removed). A write costs what changed, not the whole tenant
(a DID call changes one call and one agent among hundreds); a snapshot is written first, then
after every ``SNAPSHOT_EVERY`` changes (so one is always within the key's history), whenever
the order of the records changed in a way a change cannot say (a record removed and added
again), and when a change record would be over ``DELTA_LIMIT`` (many records at once: plain
JSON, it could pass NATS's 1 MB message limit where the compressed snapshot does not). Every write is ``kv.update(last=revision)`` on the one key: fencing is unchanged.

Reading (``read_state``) takes the key's last revision and, when that is a change, the
revisions it follows one by one back to a snapshot (direct gets: no consumer), then applies the
changes after that snapshot in order: the same state as the last write's ``to_state()``, record for record
and in the same order (waiting calls are restored in that order). A delete or purge of the key
(the tenant deleted) restarts from nothing. The first version wrote one snapshot per write with
a history of 1: that value is simply the key's first snapshot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from hibiki.acd.runtime.buckets import STATE_HISTORY, decode_state, encode_state

HISTORY = STATE_HISTORY
SNAPSHOT_EVERY = 32    # changes between snapshots: the last snapshot is always within HISTORY
DELTA_LIMIT = 64 * 1024   # a larger change record is written as a snapshot (compressed; NATS takes 1 MB)
SECTIONS = ("queues", "agents", "calls")
DELETED = ("DEL", "PURGE")

Records = dict[str, dict[str, Any]]


class JournalError(Exception):
    """The key's history cannot be read back into a state (no snapshot before a change)."""


def _id(section: str, record: dict[str, Any]) -> str:
    return str(record["config"]["id"] if section == "queues" else record["id"])


@dataclass
class Indexed:
    """A state with its records by id (in the state's order) and the rest (``meta``)."""

    meta: dict[str, Any]
    records: dict[str, Records] = field(default_factory=dict)

    @classmethod
    def of(cls, state: dict[str, Any]) -> Indexed:
        meta = {k: v for k, v in state.items() if k not in SECTIONS}
        return cls(meta, {s: {_id(s, r): r for r in state[s]} for s in SECTIONS})

    def state(self) -> dict[str, Any]:
        return {**self.meta, **{s: list(self.records[s].values()) for s in SECTIONS}}


def delta(old: Indexed, new: Indexed) -> dict[str, Any] | None:
    """The change from ``old`` to ``new``; None when applying one could not give ``new``'s order
    or its ``meta`` other than ``seq`` changed (then write a snapshot)."""
    if {k: v for k, v in old.meta.items() if k != "seq"} != {k: v for k, v in new.meta.items() if k != "seq"}:
        return None
    change: dict[str, Any] = {"delta": 1, "seq": new.meta.get("seq")}
    for s in SECTIONS:
        before, after = old.records[s], new.records[s]
        kept = [k for k in before if k in after]
        if list(after) != kept + [k for k in after if k not in before]:
            return None
        changed: dict[str, Any] = {k: None for k in before if k not in after}
        changed.update((k, v) for k, v in after.items() if before.get(k) != v)
        change[s] = changed
    return change


def apply(state: Indexed, change: dict[str, Any]) -> Indexed:
    """``state`` with ``change`` applied (a new Indexed; ``state`` is left as it was)."""
    records: dict[str, Records] = {}
    for s in SECTIONS:
        merged = dict(state.records[s])
        for key, value in change.get(s, {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        records[s] = merged
    return Indexed({**state.meta, "seq": change.get("seq", state.meta.get("seq"))}, records)


def encode_delta(change: dict[str, Any]) -> bytes:
    return json.dumps(change, separators=(",", ":")).encode()


def replay(payloads: list[bytes | None]) -> dict[str, Any] | None:
    """The state the revisions ``payloads`` (oldest first; None for a delete) end with: from the
    last snapshot or delete, the changes after it in order (older revisions are not read)."""
    decoded = [decode_state(p) if p else None for p in payloads]
    start = next((i for i in range(len(decoded) - 1, -1, -1)
                  if decoded[i] is None or not decoded[i].get("delta")), None)  # type: ignore[union-attr]
    if start is None:
        if decoded:
            raise JournalError("the key's history holds changes but no snapshot before them")
        return None
    first = decoded[start]
    if first is None:
        if start < len(decoded) - 1:
            raise JournalError("a change right after the key was deleted, with no snapshot")
        return None
    current = Indexed.of(first)
    for change in decoded[start + 1:]:
        assert change is not None
        current = apply(current, change)
    return current.state()


async def read_state(kv: KeyValue, tenant: str) -> tuple[dict[str, Any] | None, int]:
    """``(state or None, the key's last revision or 0)``: what the last write left, and the
    revision the next write must follow. The last revision is read directly; a change record
    names the revision it follows (``prev``), read directly in turn back to a snapshot (no
    consumer: one get per revision, at most ``SNAPSHOT_EVERY``). A chain that breaks raises
    JournalError: never an empty tenant in place of one that has state."""
    try:
        last = await kv.get(tenant)
    except KeyNotFoundError as exc:      # never written, or deleted (then its marker's revision)
        marker = getattr(exc, "entry", None)
        return None, int(marker.revision) if marker is not None else 0
    revision = int(last.revision or 0)
    chain: list[bytes | None] = [last.value]
    data = decode_state(last.value)
    while data is not None and data.get("delta"):
        previous = data.get("prev")
        if not isinstance(previous, int) or previous <= 0 or len(chain) > HISTORY:
            raise JournalError(f"tenant {tenant}: a change record without the revision it follows")
        try:
            entry = await kv.get(tenant, revision=previous)
        except KeyNotFoundError:
            raise JournalError(f"tenant {tenant}: revision {previous} of its state is gone") from None
        chain.append(entry.value)
        data = decode_state(entry.value)
    return replay(chain[::-1]), revision


class Journal:
    """The writer's side: what was last written, and the payload of the next write."""

    def __init__(self) -> None:
        self._written: Indexed | None = None     # a new owner's first write is a snapshot
        self._since_snapshot = 0
        self._pending: tuple[Indexed, bool] | None = None

    def payload(self, state: dict[str, Any], previous: int) -> bytes:
        """The bytes of the next write of ``state`` over revision ``previous`` (the last write's);
        ``written()`` once it has succeeded."""
        new = Indexed.of(state)
        change = None
        if self._written is not None and self._since_snapshot < SNAPSHOT_EVERY - 1:
            change = delta(self._written, new)
        payload = None if change is None else encode_delta({**change, "prev": previous})
        if payload is not None and len(payload) > DELTA_LIMIT:   # many records at once: smaller compressed
            payload = None
        self._pending = (new, payload is None)
        return encode_state(state) if payload is None else payload

    def written(self) -> None:
        assert self._pending is not None
        self._written, snapshot = self._pending
        self._since_snapshot = 0 if snapshot else self._since_snapshot + 1
        self._pending = None
