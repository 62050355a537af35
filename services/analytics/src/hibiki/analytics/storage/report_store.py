"""What the reports keep beside the call tables, in ClickHouse so every analytics replica shares
it: a tenant's SLA targets (``report_settings``) and its kept daily reports (``daily_reports``),
each a JSON document; the newest version of a (tenant, kind) or (tenant, day) wins, so two
replicas generating the same day's report at the set time leave one. Tenant ids are checked
before use (letters, digits, '-', '_') like everywhere else.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from typing import Any, Protocol

from hibiki.analytics.storage.report_sql import Queryable

_TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BadTenant(ValueError):
    pass


class Writable(Queryable, Protocol):
    def insert(self, table: str, columns: Any, rows: Any) -> None: ...


def _checked(tenant: str) -> str:
    if not _TENANT.fullmatch(tenant):
        raise BadTenant(tenant[:64])
    return tenant


class ReportStore:
    def __init__(self, store: Writable) -> None:
        self._store = store

    def _latest(self, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
        rows = self._store.query(sql, params)
        if not rows:
            return None
        data = json.loads(str(rows[0][0]))
        return data if isinstance(data, dict) else None

    def sla(self, tenant: str) -> dict[str, Any] | None:
        return self._latest("SELECT argMax(body, version) FROM hibiki.report_settings WHERE tenant = %(tenant)s "
                            "AND kind = 'sla' GROUP BY tenant", {"tenant": _checked(tenant)})

    def save_sla(self, tenant: str, data: dict[str, Any]) -> None:
        self._store.insert("report_settings", ("tenant", "kind", "version", "body"),
                           [(_checked(tenant), "sla", time.time_ns(), json.dumps(data, ensure_ascii=False))])

    def daily(self, tenant: str, day: date) -> dict[str, Any] | None:
        return self._latest("SELECT argMax(body, version) FROM hibiki.daily_reports WHERE tenant = %(tenant)s "
                            "AND day = %(day)s GROUP BY tenant", {"tenant": _checked(tenant), "day": day})

    def save_daily(self, tenant: str, day: date, data: dict[str, Any]) -> None:
        self._store.insert("daily_reports", ("tenant", "day", "version", "body"),
                           [(_checked(tenant), day, time.time_ns(), json.dumps(data, ensure_ascii=False))])

    def daily_days(self, tenant: str) -> list[str]:
        rows = self._store.query("SELECT DISTINCT toString(day) AS d FROM hibiki.daily_reports "
                                 "WHERE tenant = %(tenant)s ORDER BY d DESC", {"tenant": _checked(tenant)})
        return [str(r[0]) for r in rows]
