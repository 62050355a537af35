"""What analytics keeps on disk beside ClickHouse: SLA targets per tenant and daily reports.

    <data dir>/analytics/sla/<tenant>.json                  the tenant's SLA targets
    <data dir>/analytics/daily/<tenant>/<YYYY-MM-DD>.json   the daily report, once generated

Tenant ids are checked before they become a path (letters, digits, '-', '_'); files are written
to a temporary name and renamed, so a reader never sees half a file. On Kubernetes the data dir
is the analytics pod's volume (one replica writes daily reports: see README).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

_TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BadTenant(ValueError):
    pass


def _tenant_dir(root: Path, kind: str, tenant: str) -> Path:
    if not _TENANT.fullmatch(tenant):
        raise BadTenant(tenant[:64])
    return root / kind / tenant


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def sla(self, tenant: str) -> dict[str, Any] | None:
        data = _read(_tenant_dir(self.root, "sla", tenant).with_suffix(".json"))
        return data if isinstance(data, dict) else None

    def save_sla(self, tenant: str, data: dict[str, Any]) -> None:
        _write(_tenant_dir(self.root, "sla", tenant).with_suffix(".json"), data)

    def daily(self, tenant: str, day: date) -> dict[str, Any] | None:
        data = _read(_tenant_dir(self.root, "daily", tenant) / f"{day.isoformat()}.json")
        return data if isinstance(data, dict) else None

    def save_daily(self, tenant: str, day: date, data: dict[str, Any]) -> None:
        _write(_tenant_dir(self.root, "daily", tenant) / f"{day.isoformat()}.json", data)

    def daily_days(self, tenant: str) -> list[str]:
        folder = _tenant_dir(self.root, "daily", tenant)
        if not folder.is_dir():
            return []
        return sorted((p.stem for p in folder.glob("????-??-??.json")), reverse=True)
