"""The audit trail in the configuration store (ADM-05): append-only, hash-chained per tenant
(``hibiki.common.audit``), with each tenant's head (last sequence and hash) kept apart so that
removing the newest entries is seen too.

Appending reads the head and writes the entry and the new head in one transaction; the unique
(tenant, seq) constraint makes two replicas appending at once retry instead of forking the chain.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hibiki.common import audit as chain
from hibiki.directory.storage.identity_tables import audit_heads, audit_log

Row = dict[str, Any]
EXPORTED = ("seq", "at", "tenant", "actor", "roles", "action", "resource", "resource_id", "before", "after",
            "address", "outcome", "prev_hash", "hash")


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Entry:
    """One thing that happened: who (actor, roles), what (action on resource), before/after, from where."""

    tenant: str
    actor: str
    action: str
    resource: str
    resource_id: str = ""
    roles: Sequence[str] = ()
    before: Any = None
    after: Any = None
    address: str = ""
    outcome: str = "ok"
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _stored(row: Mapping[str, Any]) -> Row:
    """A stored row with the names the chain hashes (``tenant`` for ``tenant_id``)."""
    out = dict(row)
    out["tenant"] = out.pop("tenant_id")
    out.pop("id", None)
    return out


class AuditTrail:
    def __init__(self, engine: Engine, key: bytes = b"") -> None:
        self.engine, self.key = engine, key

    def append(self, entry: Entry) -> Row:
        for _ in range(20):
            try:
                return self._append(entry)
            except IntegrityError:
                continue          # another replica appended first: read the new head and chain after it
        raise RuntimeError("audit trail: could not append after 20 tries")

    def _append(self, entry: Entry) -> Row:
        with self.engine.begin() as conn:
            head = conn.execute(select(audit_heads).where(audit_heads.c.tenant_id == entry.tenant)
                                .with_for_update()).mappings().first()
            seq, prev = (int(head["seq"]) + 1, str(head["hash"])) if head else (1, chain.GENESIS)
            fields: Row = {"tenant": entry.tenant, "seq": seq, "at": entry.at.astimezone(UTC).isoformat(),
                           "actor": entry.actor[:255], "roles": _json(list(entry.roles)) or "[]",
                           "action": entry.action[:64], "resource": entry.resource[:64],
                           "resource_id": entry.resource_id[:255], "before": _json(entry.before),
                           "after": _json(entry.after), "address": entry.address[:64], "outcome": entry.outcome[:32]}
            digest = chain.entry_hash(prev, fields, self.key)
            row = {**{k: v for k, v in fields.items() if k != "tenant"}, "tenant_id": entry.tenant,
                   "prev_hash": prev, "hash": digest}
            conn.execute(insert(audit_log).values(**row))
            if head:
                conn.execute(update(audit_heads).where(audit_heads.c.tenant_id == entry.tenant,
                                                       audit_heads.c.seq == seq - 1).values(seq=seq, hash=digest))
            else:
                conn.execute(insert(audit_heads).values(tenant_id=entry.tenant, seq=seq, hash=digest))
        return {**fields, "prev_hash": prev, "hash": digest}

    def entries(self, tenant: str, after_seq: int = 0, limit: int | None = None) -> list[Row]:
        query = select(audit_log).where(audit_log.c.tenant_id == tenant, audit_log.c.seq > after_seq) \
            .order_by(audit_log.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_stored(dict(r)) for r in conn.execute(query).mappings()]

    def verify(self, tenant: str) -> dict[str, Any]:
        """Walk the tenant's whole chain: ``{"tenant", "entries", "intact", "problems": [{seq, problem}]}``."""
        rows = self.entries(tenant)
        with self.engine.connect() as conn:
            head = conn.execute(select(audit_heads).where(audit_heads.c.tenant_id == tenant)).mappings().first()
        problems = chain.verify(rows, (int(head["seq"]), str(head["hash"])) if head else None, self.key)
        if head is None and rows:
            problems.append(chain.Problem(len(rows), "truncated"))
        return {"tenant": tenant, "entries": len(rows), "intact": not problems,
                "head": int(head["seq"]) if head else 0, "problems": [p.to_json() for p in problems]}

    def remove_tenant(self, tenant: str) -> dict[str, Any]:
        """A deleted tenant's whole chain (contract end, after its export): what it held, for the
        platform's own trail (``*``), which records the deletion with the last entry's hash."""
        if tenant == "*":
            raise ValueError("the platform's trail is never removed")
        with self.engine.begin() as conn:
            head = conn.execute(select(audit_heads).where(audit_heads.c.tenant_id == tenant)).mappings().first()
            gone = conn.execute(delete(audit_log).where(audit_log.c.tenant_id == tenant)).rowcount
            conn.execute(delete(audit_heads).where(audit_heads.c.tenant_id == tenant))
        return {"entries": int(gone or 0), "head_seq": int(head["seq"]) if head else 0,
                "head_hash": str(head["hash"]) if head else ""}

    def tenants(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted({r[0] for r in conn.execute(select(audit_heads.c.tenant_id))} |
                          {r[0] for r in conn.execute(select(audit_log.c.tenant_id).distinct())})


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORTED)
    for row in rows:
        writer.writerow(["" if row.get(k) is None else row.get(k) for k in EXPORTED])
    return out.getvalue()
