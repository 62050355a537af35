"""``hibiki tenant export``: everything of one tenant in generic formats, with a manifest.

    directory/tenant.json, directory/{users,devices,dids,phonebook}.csv  (the directory's CSV formats)
    directory/<resource>.csv and .json      every other resource (nested values as JSON text in CSV)
    directory/console_users.{csv,json}      console users (no password hashes, no TOTP secrets),
    directory/api_tokens.{csv,json}         API tokens (never the token), identity_policy.json,
    directory/audit.csv, audit_verify.json  the tenant's audit trail (hash-chained) and its check
    acd/queues.{csv,json}, acd/agents.{csv,json}
    recordings/<recording id>.<ogg|wav|...> decrypted audio (the recordings API), recordings/recordings.csv
    voicemail/<user>/msg_*.wav ...          FreeSWITCH's voicemail files of the tenant's domain, and
    voicemail/voicemail_{msgs,prefs}.csv    mod_voicemail's rows of it (PINs left out)
    calls/<table>.csv                       the analytics store's rows of the tenant (call records,
                                            legs, agent states, events, ...)
    manifest.json                           counts, and size and SHA-256 of every file
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hibiki.common.errors import HibikiError
from hibiki.directory.lifecycle import manifest, voicemail
from hibiki.directory.lifecycle.platform import Platform

CSV_RESOURCES = ("users", "devices", "dids", "phonebook")
JSON_RESOURCES = ("service_classes", "ring_groups", "schedules", "ivrs", "gateways")


class ExportError(HibikiError):
    """The tenant cannot be exported."""


def _csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                         for k, v in row.items()})
    return "\ufeff" + out.getvalue()


def _both(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1, sort_keys=True))
    (folder / f"{name}.csv").write_text(_csv(rows), encoding="utf-8")


def _recordings(platform: Platform, tenant: str, folder: Path) -> int:
    base = f"{platform.settings.recording_url}/api/v1/tenants/{tenant}/recordings"
    seen: dict[str, dict[str, Any]] = {}
    end: str | None = None
    while True:
        params = {"limit": 500, **({"to": end} if end else {})}
        page = platform.json("GET", base, params=params)["recordings"]
        fresh = [r for r in page if r["recording_id"] not in seen]
        for r in fresh:
            seen[r["recording_id"]] = r
        if len(page) < 500 or not fresh:
            break
        end = min(r["start_time"] for r in page)
    folder.mkdir(parents=True, exist_ok=True)
    for rid, r in sorted(seen.items()):
        answer = platform.request("GET", f"{base}/{rid}/download")
        name = answer.headers.get("content-disposition", "").rpartition("filename=")[2].strip('"') or f"{rid}.audio"
        (folder / Path(name).name).write_bytes(answer.content)
    (folder / "recordings.csv").write_text(_csv(list(seen.values())), encoding="utf-8")
    return len(seen)


def export(platform: Platform, tenant: str, out: Path, recordings: bool = True) -> Path:
    """The export folder ``<out>/<tenant>-<UTC time>/``; ``recordings=False`` leaves the audio out
    (the manifest says so)."""
    settings = platform.settings
    about = platform.tenant(tenant)
    if about is None:
        raise ExportError(f"no tenant {tenant!r}")
    target = out / f"{tenant}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    if target.exists():
        raise ExportError(f"{target} exists")
    counts: dict[str, int] = {}
    directory = target / "directory"
    directory.mkdir(parents=True)
    (directory / "tenant.json").write_text(json.dumps(about, ensure_ascii=False, indent=1, sort_keys=True))
    base = f"{settings.directory_url}/api/v1/tenants/{tenant}"
    for resource in CSV_RESOURCES:
        (directory / f"{resource}.csv").write_bytes(platform.request("GET", f"{base}/{resource}.csv").content)
        counts[f"directory.{resource}"] = len(list(platform.listed(tenant, resource)))
    for resource in JSON_RESOURCES:
        rows = list(platform.listed(tenant, resource))
        _both(directory, resource, rows)
        counts[f"directory.{resource}"] = len(rows)
    for name in ("console_users", "api_tokens"):
        rows = platform.json("GET", f"{base}/{name}")["items"]
        _both(directory, name, rows)
        counts[f"directory.{name}"] = len(rows)
    (directory / "identity_policy.json").write_text(json.dumps(platform.json("GET", f"{base}/identity_policy"),
                                                               indent=1, sort_keys=True))
    (directory / "audit.csv").write_bytes(platform.request("GET", f"{base}/audit/csv").content)
    check = platform.json("GET", f"{base}/audit/verify")
    (directory / "audit_verify.json").write_text(json.dumps(check, indent=1, sort_keys=True))
    counts["directory.audit"] = int(check["entries"])
    for kind, items in platform.acd_config(tenant).items():
        _both(target / "acd", kind, items)
        counts[f"acd.{kind}"] = len(items)
    about_recordings = "included (decrypted)"
    if recordings:
        counts["recordings"] = _recordings(platform, tenant, target / "recordings")
    else:
        about_recordings = "left out: the request's token has no recording-admin role (REC-06)"
    voicemail.export(settings, about["domain"], target / "voicemail")
    counts.update(voicemail.held(settings, about["domain"]))
    tables = f"{settings.analytics_url}/api/v1/lifecycle/tables"
    (target / "calls").mkdir()
    for item in platform.json("GET", tables)["items"]:
        if item["table"] == "schema_migrations":
            continue
        lines = platform.request("GET", f"{tables}/{item['table']}", params={"tenant": tenant}).text.splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        if rows:
            (target / "calls" / f"{item['table']}.csv").write_text(_csv(rows), encoding="utf-8")
        counts[f"calls.{item['table']}"] = len(rows)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)     # people's data: the operator's eyes only
    manifest.write(target, "tenant-export", tenant=tenant, domain=about["domain"],
                   exported_at=datetime.now(UTC).isoformat(), counts=counts,
                   recordings=about_recordings)
    return target
