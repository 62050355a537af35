"""Whole CSV files against the store: an import applies every row or none (ADM-03).

Why not call ``ConfigRepository.create`` per row: that commits (and bumps the version)
row by row, so a bad row 7 would leave rows 1-6 stored. Here one transaction runs the
repository's own rules (its ``_tenant``, ``_prepare``, ``_insert``, ``_bump`` on a shared
connection) for every row, so an imported row is checked exactly like one created through
the admin API, rows of one file see each other (a username twice is a conflict on the
second line), the version grows once, and any error, or a dry run, rolls it all back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, select

from hibiki.directory import csvio
from hibiki.directory.csvio import Item, Lookups, Record, RowError, Spec
from hibiki.directory.errors import ConfigStoreError
from hibiki.directory.storage.repository import Change, ConfigRepository, Row
from hibiki.directory.storage.tables import contacts, devices, dids, ring_groups, schedules, service_classes, users

TABLES: dict[str, Table] = {"users": users, "devices": devices, "dids": dids, "phonebook": contacts}
UNIQUE = ("username", "extension", "sip_username", "number")   # for "also on line N" in conflict messages


@dataclass(frozen=True)
class ImportResult:
    """What an import found: data rows read, every row error, and the committed change (None: nothing stored)."""

    rows: int
    errors: list[RowError]
    change: Change | None


class BulkStore:
    def __init__(self, repository: ConfigRepository) -> None:
        self.repo = repository

    def export_rows(self, spec: Spec, tenant_id: str) -> tuple[list[Row], Lookups]:
        """The tenant's rows in creation order and kind -> id -> name, read in one snapshot."""
        table = TABLES[spec.name]
        with self.repo.engine.connect() as conn:
            self.repo._tenant(conn, tenant_id)
            query = select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.created_at, table.c.id)
            rows = [dict(r) for r in conn.execute(query).mappings()]
            names = {kind: {v: k for k, v in found.items()} for kind, found in _lookups(conn, tenant_id).items()}
        return rows, names

    def import_rows(self, spec: Spec, tenant_id: str, records: Sequence[Record], dry_run: bool) -> ImportResult:
        """Validate and insert every row in one transaction; commit only without errors and not dry."""
        table = TABLES[spec.name]
        with self.repo.engine.connect() as conn:
            with conn.begin() as transaction:
                tenant = self.repo._tenant(conn, tenant_id)
                items, errors = csvio.validate(spec, records, _lookups(conn, tenant_id))
                ids = self._insert_all(conn, spec, table, tenant, items, errors)
                if errors or dry_run or not ids:
                    transaction.rollback()
                    return ImportResult(len(records), sorted(errors, key=lambda e: e.line), None)
                change = self.repo._bump(conn, tenant_id, table.name[:-1], tuple(ids))
        return ImportResult(len(records), [], change)

    def _insert_all(self, conn: Connection, spec: Spec, table: Table, tenant: Row, items: Sequence[Item],
                    errors: list[RowError]) -> list[str]:
        ids: list[str] = []
        seen: dict[tuple[str, Any], int] = {}
        start = datetime.now(UTC)
        for n, item in enumerate(items):
            try:
                prepared = self.repo._prepare(conn, table, tenant, item.values, None)
                # strictly increasing, so exports list the rows in the file's order
                row = {"id": str(uuid.uuid4()), "tenant_id": tenant["id"],
                       "created_at": start + timedelta(microseconds=n), **prepared}
                self.repo._insert(conn, table, row)
            except ConfigStoreError as exc:
                errors.append(_row_error(spec, item, exc, seen))
                if exc.error_id == "conflict":   # a constraint fired: the transaction may be unusable (PostgreSQL)
                    errors.append(RowError(item.line, None, "not-checked", "rows after this line were not checked"))
                    break
                continue
            ids.append(row["id"])
            for key in UNIQUE:
                for value in (item.values.get(key), prepared.get(key)):
                    if value:
                        seen.setdefault((key, value), item.line)
        return ids


def _row_error(spec: Spec, item: Item, exc: ConfigStoreError, seen: dict[tuple[str, Any], int]) -> RowError:
    message = exc.message
    earlier = seen.get((exc.field or "", item.values.get(exc.field or "")))
    if earlier is not None:
        message += f" (line {earlier} of this file)"
    return RowError(item.line, spec.column_of(exc.field), exc.error_id, message)


def _lookups(conn: Connection, tenant_id: str) -> dict[str, dict[str, str]]:
    """kind -> name -> id of what CSV columns may name: users by username, schedules and ring groups by name."""
    return {
        "user": {r.username: r.id for r in conn.execute(
            select(users.c.id, users.c.username).where(users.c.tenant_id == tenant_id))},
        "schedule": {r.name: r.id for r in conn.execute(
            select(schedules.c.id, schedules.c.name).where(schedules.c.tenant_id == tenant_id))},
        "ring_group": {r.name: r.id for r in conn.execute(
            select(ring_groups.c.id, ring_groups.c.name).where(ring_groups.c.tenant_id == tenant_id))},
        "service_class": {r.name: r.id for r in conn.execute(
            select(service_classes.c.id, service_classes.c.name).where(service_classes.c.tenant_id == tenant_id))},
    }
