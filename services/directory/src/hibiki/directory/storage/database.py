"""Opening the store, migrating it to the newest schema, and compiling tenants for the view."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Select, Table, create_engine, event, select
from sqlalchemy.exc import SQLAlchemyError

from hibiki.common.errors import StartupError
from hibiki.directory.schedules import Schedule
from hibiki.directory.v1 import ivr_pb2
from hibiki.directory.storage import gateways as gateway_rules
from hibiki.directory.storage.journal import Journal
from hibiki.directory import ivrs as ivr_rules
from hibiki.directory.storage.stored_numbers import caller_id, normalize_stored
from hibiki.directory.storage.tables import (devices, dids, ivrs, ring_groups, schedules, service_classes, tenants,
                                             users)
from hibiki.directory.recording import RecordingPolicy
from hibiki.directory.view import DeviceEntry, DidEntry, RingGroupEntry, Route, TenantView, UserEntry, trusted_networks

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def open_store(url: str, journal: Path | None = None) -> Engine:
    """Engine for the store, migrated to head; a clear :class:`StartupError` if it cannot be.
    A SQLite store appends every committed change to ``journal`` when given (storage/journal.py)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        if journal is not None and engine.dialect.name == "sqlite":
            Journal(journal).attach(engine)   # before migrating: a backup is rolled forward through upgrades too
        migrate(engine)
    except SQLAlchemyError as exc:
        raise StartupError(f"configuration store {engine_safe(url)}: {exc.__class__.__name__}: {exc.args[0] if exc.args else exc}") from None
    return engine


def engine_safe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<malformed database URL>"


def _sqlite_pragmas(dbapi_connection: object, _: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        normalize_stored(connection)


def a1_hash(user_id: str, realm: str, password: str) -> str:
    """md5(user:realm:password), the only form of a SIP password the directory hands out."""
    return hashlib.md5(f"{user_id}:{realm}:{password}".encode()).hexdigest()  # noqa: S324 (SIP digest)


def load_tenants(engine: Engine, tenant_id: str | None = None) -> list[TenantView]:
    """Compile one tenant (or all) from the store into views."""
    def scoped(table: Table) -> Select[Any]:
        query = select(table)
        return query.where(table.c.tenant_id == tenant_id) if tenant_id is not None else query

    with engine.connect() as conn:
        query = select(tenants)
        if tenant_id is not None:
            query = query.where(tenants.c.id == tenant_id)
        rows = conn.execute(query).mappings().all()
        device_rows = conn.execute(scoped(devices)).mappings().all()
        user_rows = conn.execute(scoped(users)).mappings().all()
        class_rows = {r["id"]: r["classes"] for r in conn.execute(scoped(service_classes)).mappings()}
        schedule_rows = conn.execute(scoped(schedules)).mappings().all()
        did_rows = conn.execute(scoped(dids)).mappings().all()
        group_rows = conn.execute(scoped(ring_groups)).mappings().all()
        gateway_entries = gateway_rules.load(conn, tenant_id)
        ivr_rows = conn.execute(scoped(ivrs)).mappings().all()
    by_tenant_groups: dict[str, dict[str, RingGroupEntry]] = {}
    for g in group_rows:
        by_tenant_groups.setdefault(g["tenant_id"], {})[g["id"]] = RingGroupEntry(
            id=g["id"], name=g["name"], extension=g["extension"] or "", strategy=g["strategy"],
            ring_seconds=int(g["ring_seconds"]), members=tuple(g["members"] or ()),
            no_answer=Route(g["no_answer_kind"], g["no_answer_target"]) if g["no_answer_kind"] else None)
    compiled_schedules = {r["id"]: Schedule.from_dict(r["definition"]) for r in schedule_rows}
    by_tenant_schedules: dict[str, dict[str, Schedule]] = {}
    for r in schedule_rows:
        by_tenant_schedules.setdefault(r["tenant_id"], {})[r["id"]] = compiled_schedules[r["id"]]
    by_tenant_ivrs: dict[str, dict[str, ivr_pb2.Ivr]] = {}
    for r in ivr_rows:
        by_tenant_ivrs.setdefault(r["tenant_id"], {})[r["id"]] = ivr_rules.from_row(dict(r))
    by_tenant_dids: dict[str, dict[str, DidEntry]] = {}
    for d in did_rows:
        by_tenant_dids.setdefault(d["tenant_id"], {})[d["number"]] = DidEntry(
            number=d["number"], route=Route(d["target_kind"], d["target"]),
            schedule=compiled_schedules.get(d["schedule_id"]) if d["schedule_id"] else None,
            closed=Route(d["closed_kind"], d["closed_target"]) if d["closed_kind"] else None,
            branches={name: Route(spec["kind"], spec["target"]) for name, spec in (d["branches"] or {}).items()})
    by_tenant_devices: dict[str, dict[str, DeviceEntry]] = {}
    devices_of: dict[str, list[str]] = {}
    for d in device_rows:
        if not d["enabled"]:
            continue
        by_tenant_devices.setdefault(d["tenant_id"], {})[d["sip_username"]] = DeviceEntry(
            d["sip_username"], d["a1_hash"], d["user_id"], d["kind"])
        devices_of.setdefault(d["user_id"], []).append(d["sip_username"])
    by_tenant_users: dict[str, list[UserEntry]] = {}
    for u in user_rows:
        by_tenant_users.setdefault(u["tenant_id"], []).append(UserEntry(
            id=u["id"], username=u["username"], display_name=u["display_name"], extension=u["extension"] or "",
            direct_number=caller_id(u["direct_number"], u["tenant_id"], "direct_number"), caller_id_policy=u["caller_id_policy"], context=u["context"],
            outbound_classes=frozenset(class_rows.get(u["service_class_id"], u["outbound_classes"]) or ()),
            forward_always=u["forward_always"], forward_busy=u["forward_busy"],
            forward_no_answer=u["forward_no_answer"], forward_no_answer_seconds=int(u["forward_no_answer_seconds"]),
            forward_unregistered=u["forward_unregistered"], pickup_group=u["pickup_group"],
            park_group=u["park_group"],
            voicemail_enabled=bool(u["voicemail_enabled"]), voicemail_pin=u["voicemail_pin"],
            devices=tuple(sorted(devices_of.get(u["id"], []))),
        ))
    views = []
    for r in rows:
        tenant_users = by_tenant_users.get(r["id"], [])
        views.append(TenantView(
            tenant_id=r["id"], domain=r["domain"], version=int(r["version"]),
            representative_number=caller_id(r["representative_number"], r["id"], "representative_number"),
            outbound_gateway=r["outbound_gateway"], language=r["language"],
            trusted_networks=trusted_networks(r["trusted_networks"]),
            recording=RecordingPolicy.from_stored(r.get("recording_policy")),
            users={u.id: u for u in tenant_users},
            devices=by_tenant_devices.get(r["id"], {}),
            extensions={u.extension: u.id for u in tenant_users if u.extension},
            usernames={u.username: u.id for u in tenant_users},
            dids=by_tenant_dids.get(r["id"], {}),
            ring_groups=by_tenant_groups.get(r["id"], {}),
            group_extensions={g.extension: g.id for g in by_tenant_groups.get(r["id"], {}).values() if g.extension},
            gateways=gateway_entries.get(r["id"], ()),
            schedules=by_tenant_schedules.get(r["id"], {}),
            ivrs=by_tenant_ivrs.get(r["id"], {}),
        ))
    return views


def tenant_versions(engine: Engine) -> dict[str, int]:
    """Every tenant's current version (the replicas' safety-net check)."""
    with engine.connect() as conn:
        return {r.id: int(r.version) for r in conn.execute(select(tenants.c.id, tenants.c.version))}
