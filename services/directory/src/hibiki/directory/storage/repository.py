"""Reading and changing the configuration of record, one tenant at a time.

Every change runs in one transaction that also increments the tenant's version, so a
replica can tell whether its view is current. Uniqueness is checked inside the
transaction (clear field errors) and enforced by constraints (the last word).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hibiki.common import dialstring
from hibiki.directory.errors import Conflict, Invalid, NotFound
from hibiki.directory import ivrs as ivr_rules
from hibiki.directory.storage import gateways as gateway_rules
from hibiki.directory.storage.database import a1_hash
from hibiki.directory.numbers import InvalidNumber, classify, did_number
from hibiki.directory.schedules import Schedule, ScheduleError
from hibiki.directory.storage.tables import (contacts, devices, dids, gateways, ivrs, ring_groups, schedules,
                                             service_classes, tenants, users)

Row = dict[str, Any]
QUEUE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")    # the ACD's ids (its HTTP API takes no other)
SOUND = dialstring.SOUND


@dataclass(frozen=True)
class Change:
    """What a committed change did: the tenant, its new version, the kind and ids touched."""

    tenant: str
    version: int
    kind: str
    ids: tuple[str, ...]


def _now() -> datetime:
    return datetime.now(UTC)


def _did_number(values: Mapping[str, Any], field: str) -> str:
    try:
        return did_number(values[field])
    except InvalidNumber as exc:
        raise Invalid("invalid-number", str(exc), field) from None


def _numbers(values: Mapping[str, Any], field: str) -> Row:
    """``values`` with ``field`` (a representative or direct number) normalized like a DID; empty: none."""
    row = dict(values)
    if row.get(field):
        row[field] = _did_number(row, field)
    return row


class ConfigRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- tenants -------------------------------------------------------------------
    def list_tenants(self) -> list[Row]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(tenants).order_by(tenants.c.id)).mappings()]

    def get_tenant(self, tenant_id: str) -> Row:
        with self.engine.connect() as conn:
            return self._tenant(conn, tenant_id)

    def _tenant(self, conn: Connection, tenant_id: str) -> Row:
        row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).mappings().first()
        if row is None:
            raise NotFound("tenant-not-found", f"no tenant {tenant_id!r}")
        return dict(row)

    def create_tenant(self, values: Mapping[str, Any]) -> tuple[Row, Change]:
        with self.engine.begin() as conn:
            if conn.execute(select(tenants.c.id).where(tenants.c.id == values["id"])).first():
                raise Conflict("tenant-id-taken", f"tenant {values['id']!r} exists", "id")
            domain = values["domain"].lower()
            if conn.execute(select(tenants.c.id).where(func.lower(tenants.c.domain) == domain)).first():
                raise Conflict("domain-taken", f"domain {domain!r} belongs to another tenant", "domain")
            row = {"outbound_gateway": "", "language": "ja", "trusted_networks": [], "recording_policy": {},
                   **_numbers(values, "representative_number"), "domain": domain, "version": 1, "created_at": _now()}
            self._insert(conn, tenants, row)
        return row, Change(row["id"], 1, "tenant", (row["id"],))

    def patch_tenant(self, tenant_id: str, values: Mapping[str, Any]) -> tuple[Row, Change]:
        with self.engine.begin() as conn:
            self._tenant(conn, tenant_id)
            values = _numbers(values, "representative_number")
            if values:
                conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(**values))
            change = self._bump(conn, tenant_id, "tenant", (tenant_id,))
            return self._tenant(conn, tenant_id), change

    def delete_tenant(self, tenant_id: str) -> Change:
        with self.engine.begin() as conn:
            tenant = self._tenant(conn, tenant_id)
            for table in (ivrs, gateways, contacts, dids, schedules, ring_groups, devices, users, service_classes):
                conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
            conn.execute(delete(tenants).where(tenants.c.id == tenant_id))
        return Change(tenant_id, int(tenant["version"]) + 1, "tenant", (tenant_id,))

    # --- users and devices ---------------------------------------------------------
    def list(self, table: Table, tenant_id: str, limit: int = 100, offset: int = 0) -> list[Row]:
        with self.engine.connect() as conn:
            self._tenant(conn, tenant_id)
            query = select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.created_at, table.c.id)
            return [dict(r) for r in conn.execute(query.limit(limit).offset(offset)).mappings()]

    def get(self, table: Table, tenant_id: str, item_id: str) -> Row:
        with self.engine.connect() as conn:
            return self._get(conn, table, tenant_id, item_id)

    def _get(self, conn: Connection, table: Table, tenant_id: str, item_id: str) -> Row:
        row = conn.execute(select(table).where(table.c.tenant_id == tenant_id, table.c.id == item_id)).mappings().first()
        if row is None:
            raise NotFound(f"{table.name[:-1].replace('_', '-')}-not-found", f"no {table.name[:-1]} {item_id!r} in tenant {tenant_id!r}")
        return dict(row)

    def create(self, table: Table, tenant_id: str, values: Mapping[str, Any]) -> tuple[Row, Change]:
        with self.engine.begin() as conn:
            tenant = self._tenant(conn, tenant_id)
            row = {"id": str(uuid.uuid4()), "tenant_id": tenant_id, "created_at": _now(),
                   **self._prepare(conn, table, tenant, values, None)}
            self._insert(conn, table, row)
            return row, self._bump(conn, tenant_id, table.name[:-1], (row["id"],))

    def patch(self, table: Table, tenant_id: str, item_id: str, values: Mapping[str, Any]) -> tuple[Row, Change]:
        with self.engine.begin() as conn:
            tenant = self._tenant(conn, tenant_id)
            current = self._get(conn, table, tenant_id, item_id)
            changes = self._prepare(conn, table, tenant, values, current)
            if changes:
                try:
                    conn.execute(update(table).where(table.c.id == item_id).values(**changes))
                except IntegrityError as exc:
                    raise Conflict("conflict", f"the change conflicts with stored data: {exc.orig}") from None
            change = self._bump(conn, tenant_id, table.name[:-1], (item_id,))
            return self._get(conn, table, tenant_id, item_id), change

    def remove(self, table: Table, tenant_id: str, item_id: str) -> Change:
        with self.engine.begin() as conn:
            self._tenant(conn, tenant_id)
            item = self._get(conn, table, tenant_id, item_id)
            if table is gateways:
                gateway_rules.check_unused(conn, tenant_id, item)
            if table is users:
                self._referenced(conn, tenant_id, item_id, ("user", "voicemail"), "user")
                conn.execute(delete(devices).where(devices.c.user_id == item_id))
            if table is ring_groups:
                self._referenced(conn, tenant_id, item_id, ("ring_group",), "ring_group")
            if table is service_classes and conn.execute(select(users.c.username).where(
                    users.c.tenant_id == tenant_id, users.c.service_class_id == item_id)).first():
                raise Conflict("service-class-in-use", "users are in this class of service: move them first", "id")
            if table is ivrs:
                self._referenced(conn, tenant_id, item_id, ("ivr",), "ivr")
            if table is schedules:
                for ivr in conn.execute(select(ivrs).where(ivrs.c.tenant_id == tenant_id)).mappings():
                    if item_id in ivr_rules.schedules_used(ivr_rules.from_row(dict(ivr))):
                        raise Conflict("schedule-in-use", f"IVR {ivr['name']!r} branches on this schedule: change it first",
                                       "id")
                conn.execute(update(dids).where(dids.c.schedule_id == item_id).values(schedule_id=None))
            conn.execute(delete(table).where(table.c.id == item_id))
            return self._bump(conn, tenant_id, table.name[:-1], (item_id,))

    # --- rules per table -----------------------------------------------------------
    def _prepare(self, conn: Connection, table: Table, tenant: Row, values: Mapping[str, Any],
                 current: Row | None) -> Row:
        row = dict(values)
        if table is users:
            row = _numbers(row, "direct_number")
            for field in ("username", "extension"):
                if row.get(field):
                    self._unique(conn, users, tenant["id"], field, row[field], current)
            if row.get("extension"):
                self._extension_free(conn, ring_groups, tenant["id"], row["extension"])
            if row.get("service_class_id") and not conn.execute(select(service_classes.c.id).where(
                    service_classes.c.tenant_id == tenant["id"], service_classes.c.id == row["service_class_id"])).first():
                raise Invalid("invalid-service_class_id", f"no class of service {row['service_class_id']!r} in this tenant",
                              "service_class_id")
        elif table is service_classes:
            if row.get("name"):
                self._unique(conn, service_classes, tenant["id"], "name", row["name"], current)
        elif table is ring_groups:
            for field in ("name", "extension"):
                if row.get(field):
                    self._unique(conn, ring_groups, tenant["id"], field, row[field], current)
            if row.get("extension"):
                self._extension_free(conn, users, tenant["id"], row["extension"])
            for member in row.get("members") or ():
                self._get_user(conn, tenant["id"], member, "members")
            merged = {**(current or {}), **row}
            if merged.get("no_answer_kind"):
                self._check_target(conn, tenant["id"], "no_answer_target", merged["no_answer_kind"],
                                   merged.get("no_answer_target"))
        elif table is schedules:
            if "name" in row:
                self._unique(conn, schedules, tenant["id"], "name", row["name"], current)
            if "definition" in row:
                try:
                    row["definition"] = Schedule.from_dict(row["definition"]).to_dict()
                except ScheduleError as exc:
                    raise Invalid("invalid-definition", f"definition.{exc}", "definition") from None
        elif table is dids:
            self._prepare_did(conn, tenant, row, current)
        elif table is contacts and "numbers" in row:
            normalized = []
            for i, number in enumerate(row["numbers"]):
                try:
                    normalized.append(classify(number).normalized)
                except InvalidNumber as exc:
                    raise Invalid("invalid-numbers", f"numbers.{i}: {exc}", f"numbers.{i}") from None
            row["numbers"] = normalized
        elif table is gateways:
            gateway_rules.prepare(conn, tenant, row, current)
        elif table is ivrs:
            self._prepare_ivr(conn, tenant, row, current)
        elif table is devices:
            if "user_id" in row:
                self._get_user(conn, tenant["id"], row["user_id"])
            if "sip_username" in row:
                self._unique(conn, devices, tenant["id"], "sip_username", row["sip_username"], current)
            merged = {**(current or {}), **row}
            if merged.get("phone") is not None and ("phone" in row or "line_key" in row):
                query = select(devices.c.id).where(devices.c.tenant_id == tenant["id"], devices.c.phone == merged["phone"],
                                                   devices.c.line_key == merged.get("line_key"))
                if current is not None:
                    query = query.where(devices.c.id != current["id"])
                if conn.execute(query).first():
                    raise Conflict("line-key-taken", f"line key {merged.get('line_key')} of {merged['phone']} is taken",
                                   "line_key")
            password = row.pop("password", None)
            if password is not None:
                username = row.get("sip_username") or (current or {}).get("sip_username", "")
                row["a1_hash"] = a1_hash(username, tenant["domain"], password)
        return row

    def _prepare_ivr(self, conn: Connection, tenant: Row, row: Row, current: Row | None) -> None:
        """Fold the menus into ``definition`` and check the whole IVR (menus, prompts, branches, schedules)."""
        if row.get("id") is None:
            row.pop("id", None)
        elif current is None and conn.execute(select(ivrs.c.id).where(ivrs.c.id == row["id"])).first():
            raise Conflict("id-taken", f"IVR id {row['id']!r} is taken", "id")
        if "name" in row:
            self._unique(conn, ivrs, tenant["id"], "name", row["name"], current)
        definition = dict((current or {}).get("definition") or {})
        for key in ivr_rules.DEFINITION_KEYS:
            if key in row:
                definition[key] = row.pop(key)
        if definition.get("recording_notice") is None:
            definition.pop("recording_notice", None)
        ivr = ivr_rules.parse({**definition, "id": row.get("id") or (current or {}).get("id") or "new",
                               "name": row.get("name") or (current or {}).get("name") or ""})

        def schedule_exists(schedule_id: str) -> bool:
            return conn.execute(select(schedules.c.id).where(schedules.c.tenant_id == tenant["id"],
                                                             schedules.c.id == schedule_id)).first() is not None

        ivr_rules.validate(ivr, schedule_exists)
        row["definition"] = ivr_rules.definition(ivr)

    def _prepare_did(self, conn: Connection, tenant: Row, row: Row, current: Row | None) -> None:
        if "number" in row:
            row["number"] = _did_number(row, "number")
            taken = conn.execute(select(dids.c.id, dids.c.tenant_id).where(dids.c.number == row["number"])).first()
            if taken is not None and (current is None or taken.id != current["id"]):
                raise Conflict("number-taken", f"{row['number']} is already routed on this platform", "number")
        if row.get("schedule_id"):
            found = conn.execute(select(schedules.c.id).where(schedules.c.tenant_id == tenant["id"],
                                                              schedules.c.id == row["schedule_id"])).first()
            if found is None:
                raise Invalid("invalid-schedule_id", f"no schedule {row['schedule_id']!r} in this tenant", "schedule_id")
        merged = {**(current or {}), **row}
        targets = [("target", merged.get("target_kind"), merged.get("target"))]
        if merged.get("closed_kind"):
            targets.append(("closed_target", merged["closed_kind"], merged.get("closed_target")))
        for branch, spec in (merged.get("branches") or {}).items():
            targets.append((f"branches.{branch}", spec["kind"], spec["target"]))
        for field, kind, target in targets:
            self._check_target(conn, tenant["id"], field, kind, target)

    def _check_target(self, conn: Connection, tenant_id: str, field: str, kind: str | None, target: Any) -> None:
        if kind in ("user", "voicemail"):
            self._get_user(conn, tenant_id, str(target), field)
        elif kind == "ring_group":
            if not conn.execute(select(ring_groups.c.id).where(ring_groups.c.tenant_id == tenant_id,
                                                               ring_groups.c.id == str(target))).first():
                raise Invalid(f"invalid-{field}", f"no ring group {target!r} in this tenant", field)
        elif kind == "ivr":
            if not conn.execute(select(ivrs.c.id).where(ivrs.c.tenant_id == tenant_id, ivrs.c.id == str(target))).first():
                raise Invalid(f"invalid-{field}", f"no IVR {target!r} in this tenant", field)
        elif kind in ("announcement", "queue") and not target:
            raise Invalid(f"invalid-{field}", f"a route to {kind} needs a target", field)
        elif kind == "announcement" and not SOUND.fullmatch(str(target)):
            raise Invalid(f"invalid-{field}", "an announcement is a sound path of letters, digits, _ . / - (no ..)",
                          field)
        elif kind == "queue" and not QUEUE_ID.fullmatch(str(target)):
            raise Invalid(f"invalid-{field}", "a queue id is 1-64 letters, digits, '-' or '_'", field)

    def _get_user(self, conn: Connection, tenant_id: str, user_id: str, field: str = "user_id") -> None:
        if not conn.execute(select(users.c.id).where(users.c.tenant_id == tenant_id, users.c.id == user_id)).first():
            raise Invalid(f"invalid-{field}", f"no user {user_id!r} in tenant {tenant_id!r}", field)

    def _referenced(self, conn: Connection, tenant_id: str, item_id: str, kinds: tuple[str, ...], noun: str) -> None:
        """Refuse to delete what a DID or a ring group still routes to (nothing dangles)."""
        for did in conn.execute(select(dids).where(dids.c.tenant_id == tenant_id)).mappings():
            targets = [(did["target_kind"], did["target"]), (did["closed_kind"], did["closed_target"])]
            targets += [(b["kind"], b["target"]) for b in (did["branches"] or {}).values()]
            if any(kind in kinds and target == item_id for kind, target in targets):
                raise Conflict(f"{noun}-in-use", f"DID {did['number']} routes to this {noun}: change it first", "id")
        for group in conn.execute(select(ring_groups).where(ring_groups.c.tenant_id == tenant_id)).mappings():
            member = noun == "user" and item_id in (group["members"] or [])
            if member or (group["no_answer_kind"] in kinds and group["no_answer_target"] == item_id):
                raise Conflict(f"{noun}-in-use", f"ring group {group['name']!r} uses this {noun}: change it first", "id")

    def _extension_free(self, conn: Connection, table: Table, tenant_id: str, extension: str) -> None:
        if conn.execute(select(table.c.id).where(table.c.tenant_id == tenant_id, table.c.extension == extension)).first():
            raise Conflict("extension-taken", f"extension {extension!r} is already used in this tenant", "extension")

    def _unique(self, conn: Connection, table: Table, tenant_id: str, field: str, value: Any, current: Row | None) -> None:
        query = select(table.c.id).where(table.c.tenant_id == tenant_id, table.c[field] == value)
        if current is not None:
            query = query.where(table.c.id != current["id"])
        if conn.execute(query).first():
            raise Conflict(f"{field.replace('_', '-')}-taken", f"{field} {value!r} is already used in this tenant", field)

    def _insert(self, conn: Connection, table: Table, row: Row) -> None:
        try:
            conn.execute(insert(table).values(**row))
        except IntegrityError as exc:
            raise Conflict("conflict", f"the change conflicts with stored data: {exc.orig}") from None

    def _bump(self, conn: Connection, tenant_id: str, kind: str, ids: tuple[str, ...]) -> Change:
        conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(version=tenants.c.version + 1))
        version = conn.execute(select(tenants.c.version).where(tenants.c.id == tenant_id)).scalar_one()
        return Change(tenant_id, int(version), kind, ids)
