"""The recording access audit trail (``recording_audit``): append-only and tamper-evident, hash-chained
like the directory's (``hibiki.common.audit``), in the index's ClickHouse.

ClickHouse has no transaction that would let two replicas take the next sequence number of one
tenant's chain, so every **writer** keeps chains of its own: a writer is one run of one replica
(``<HIBIKI_RECORDING_REPLICA_ID, default the host name>@<its start time>``), and each (tenant,
writer) is a chain (``seq`` 1, 2, ..., ``prev_hash``, ``hash``: an HMAC keyed by a key derived from
the stack's auth secret, so whoever can write the database without the secret cannot rebuild a
consistent chain after an edit). A new run starts new chains: no run ever continues another's, so
no two processes append to one chain, whatever the number of replicas or restarts. Within a run
the appends of a tenant are serialised by a lock and the head is kept in memory.

Each chain's head (last sequence and hash) is also written apart, to ``recording_audit_heads``,
after the entry: removing the newest entries of a chain is seen (its entries end before its head).
A crash between the entry and its head leaves an intact entry past the head, which is not a
problem. Rows written before the chain existed (migration 4) carry no writer and are counted as
``unchained``.

    trail = AuditChain(store, writer, key)
    row = trail.append(entry)              # the stored fields with writer, seq, prev_hash, hash
    trail.verify(tenant)                   # {"intact": bool, "problems": [{writer, seq, problem}], ...}

Blocking (the store is): call through ``asyncio.to_thread``.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from hibiki.common import audit as chain
from hibiki.recording.index.recordings import AuditEntry, Store

CHAINED = ("tenant", "writer", "seq", "at", "event_id", "actor", "roles", "action", "recording_id", "remote",
           "detail")
_COLUMNS = "tenant, at, event_id, actor, roles, action, recording_id, remote, detail, writer, seq, prev_hash, hash"


def writer_id(replica: str = "", started: datetime | None = None) -> str:
    """This run's writer: the replica id (host name by default) and the start time (microseconds)."""
    moment = (started or datetime.now(UTC)).astimezone(UTC)
    return f"{(replica or socket.gethostname())[:64]}@{moment:%Y%m%dT%H%M%S.%fZ}"


def _moment(at: datetime, milliseconds: bool) -> str:
    """``at`` as the store keeps it (milliseconds, or whole seconds on a legacy server), as hashed."""
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000 if milliseconds else 0:03d}Z"


def _stored_at(at: datetime, milliseconds: bool) -> datetime:
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return utc.replace(microsecond=(utc.microsecond // 1000) * 1000 if milliseconds else 0)


class AuditChain:
    def __init__(self, store: Store, writer: str, key: bytes) -> None:
        self.store, self.writer, self.key = store, writer, key
        self._lock = threading.Lock()
        self._heads: dict[str, tuple[int, str]] = {}

    @property
    def _milliseconds(self) -> bool:
        return str(getattr(self.store, "dialect").datetime).startswith("DateTime64")

    def _fields(self, e: AuditEntry) -> dict[str, Any]:
        fields = asdict(e)
        fields["at"] = _moment(e.at, self._milliseconds)
        fields["roles"] = list(e.roles)
        return fields

    def append(self, entry: AuditEntry, once: bool = False) -> AuditEntry:
        """Chain and store ``entry``; with ``once`` an entry whose event id is already in the
        tenant's trail (a retried deletion) is not written again (the stored one is returned)."""
        with self._lock:
            if once:
                found = self.store.query(f"SELECT {_COLUMNS} FROM hibiki.recording_audit FINAL "
                                         "WHERE tenant = %(tenant)s AND event_id = %(id)s LIMIT 1",
                                         {"tenant": entry.tenant, "id": entry.event_id})
                if found:
                    return AuditEntry(*found[0])
            seq, prev = self._heads.get(entry.tenant, (0, chain.GENESIS))
            chained = replace(entry, at=_stored_at(entry.at, self._milliseconds), writer=self.writer, seq=seq + 1,
                              prev_hash=prev, hash="")
            digest = chain.entry_hash(prev, self._fields(chained), self.key, CHAINED)
            chained = replace(chained, hash=digest)
            self.store.insert("recording_audit", [asdict(chained)])
            self.store.insert("recording_audit_heads", [{"tenant": entry.tenant, "writer": self.writer,
                                                         "seq": seq + 1, "hash": digest, "at": chained.at}])
            self._heads[entry.tenant] = (seq + 1, digest)
            return chained

    def verify(self, tenant: str) -> dict[str, Any]:
        """Walk every chain of ``tenant``: ``{"tenant", "entries", "unchained", "intact", "chains":
        [{writer, entries, head}], "problems": [{writer, seq, problem}]}`` (problem: altered,
        missing, reordered, truncated)."""
        rows = self.store.query(f"SELECT {_COLUMNS} FROM hibiki.recording_audit FINAL WHERE tenant = %(tenant)s "
                                "ORDER BY writer, seq, at, event_id", {"tenant": tenant})
        heads = {str(r[0]): (int(r[1]), str(r[2])) for r in self.store.query(
            "SELECT writer, max(seq), argMax(hash, seq) FROM hibiki.recording_audit_heads "
            "WHERE tenant = %(tenant)s GROUP BY writer", {"tenant": tenant})}
        by_writer: dict[str, list[dict[str, Any]]] = {}
        unchained = 0
        for row in rows:
            e = AuditEntry(*row)
            if not e.writer:
                unchained += 1
                continue
            by_writer.setdefault(e.writer, []).append({**self._fields(e), "prev_hash": e.prev_hash, "hash": e.hash})
        problems: list[dict[str, Any]] = []
        chains = []
        for writer in sorted(set(by_writer) | set(heads)):
            entries = by_writer.get(writer, [])
            found = chain.verify(entries, None, self.key, CHAINED)
            head = heads.get(writer)
            if head is not None:
                at_head = next((e for e in entries if int(e["seq"]) == head[0]), None)
                last = int(entries[-1]["seq"]) if entries else 0
                if last < head[0] or at_head is None:
                    found.append(chain.Problem(head[0], "truncated"))
                elif at_head["hash"] != head[1]:
                    found.append(chain.Problem(head[0], "altered"))
            problems += [{"writer": writer, **p.to_json()} for p in found]
            chains.append({"writer": writer, "entries": len(entries), "head": head[0] if head else 0})
        return {"tenant": tenant, "entries": len(rows), "unchained": unchained, "intact": not problems,
                "chains": chains, "problems": problems}
