"""A directory store of ``tenants`` x ``users``, written by bulk inserts (seconds, not minutes).

The schema comes from the service's own migrations (``open_store``); rows go straight into
its tables, one transaction per table. Tenant ``t000`` has domain ``t000.bench.hibiki``,
users with extensions 1000, 1001, ... and one desk phone each, SIP username ``d<extension>``,
all with the password :data:`PASSWORD`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, Boolean, Table, insert

from hibiki.directory.storage.database import a1_hash, open_store
from hibiki.directory.schedules import Schedule
from hibiki.directory.storage.tables import devices, dids, schedules, tenants, users

PASSWORD = "bench-secret-1234"
FIRST_EXTENSION = 1000
# columns newer than this file, with the values a typical tenant has
OFFICE_HOURS = {"weekly": {day: [{"start": "08:30", "end": "17:15"}] for day in ("mon", "tue", "wed", "thu", "fri")}}
KNOWN: dict[str, object] = {"outbound_gateway": "carrier",
                            "outbound_classes": ["domestic", "mobile", "free", "ip", "navi", "special"]}


@dataclass(frozen=True)
class BenchUser:
    tenant: str
    domain: str
    user_id: str
    extension: str
    sip_username: str
    a1_hash: str


def tenant_id(index: int) -> str:
    return f"t{index:03d}"


def populate(database: Path, n_tenants: int, n_users: int) -> list[BenchUser]:
    """Create the store at ``database`` and fill it; return every user (for building requests)."""
    engine = open_store(f"sqlite:///{database}")
    now = datetime.now(UTC)
    tenant_rows, user_rows, device_rows, bench = [], [], [], []
    schedule_rows: list[dict[str, object]] = []
    did_rows: list[dict[str, object]] = []
    for t in range(n_tenants):
        tid = tenant_id(t)
        domain = f"{tid}.bench.hibiki"
        tenant_rows.append({"id": tid, "domain": domain, "name": f"Bench {tid}",
                            "representative_number": f"03{5000000 + t:08d}", "version": 1, "created_at": now})
        for u in range(n_users):
            extension = str(FIRST_EXTENSION + u)
            user_id, sip_username = str(uuid.uuid4()), f"d{extension}"
            a1 = a1_hash(sip_username, domain, PASSWORD)
            user_rows.append({"id": user_id, "tenant_id": tid, "username": f"u{extension}",
                              "display_name": f"User {extension} of {tid}", "display_name_kana": "", "email": "",
                              "extension": extension, "direct_number": "", "caller_id_policy": "representative",
                              "context": "default", "voicemail_enabled": True, "voicemail_pin": "1234",
                              "created_at": now})
            device_rows.append({"id": str(uuid.uuid4()), "tenant_id": tid, "user_id": user_id, "kind": "desk_phone",
                                "sip_username": sip_username, "a1_hash": a1, "label": "", "enabled": True,
                                "created_at": now})
            bench.append(BenchUser(tid, domain, user_id, extension, sip_username, a1))
        # The representative number rings the first user in office hours, voicemail otherwise.
        schedule_id = str(uuid.uuid4())
        schedule_rows.append({"id": schedule_id, "tenant_id": tid, "name": "office", "created_at": now,
                              "definition": Schedule.from_dict(OFFICE_HOURS).to_dict()})
        first = bench[-n_users].user_id if n_users else ""
        if first:
            did_rows.append({"id": str(uuid.uuid4()), "tenant_id": tid, "number": f"03{5000000 + t:08d}",
                             "label": "representative", "schedule_id": schedule_id, "target_kind": "user",
                             "target": first, "closed_kind": "voicemail", "closed_target": first, "branches": {},
                             "created_at": now})
    with engine.begin() as conn:
        for table, rows in ((tenants, tenant_rows), (users, user_rows), (devices, device_rows),
                            (schedules, schedule_rows), (dids, did_rows)):
            if rows:
                conn.execute(insert(table), _complete(table, rows))
    engine.dispose()
    return bench


def _complete(table: Table, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Give columns this file does not name (the schema grows) their default, else an empty value."""
    extra: dict[str, object] = {}
    for column in table.columns:
        if column.name in rows[0] or column.nullable:
            continue
        if column.name in KNOWN:
            extra[column.name] = KNOWN[column.name]
        elif column.default is not None and column.default.is_scalar:
            extra[column.name] = getattr(column.default, "arg")
        else:
            extra[column.name] = [] if isinstance(column.type, JSON) else False if isinstance(column.type, Boolean) else ""
    return [{**extra, **row} for row in rows] if extra else rows


def create_empty(database: Path) -> None:
    open_store(f"sqlite:///{database}").dispose()
