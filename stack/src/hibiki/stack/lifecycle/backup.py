"""``hibiki backup``: one generation of the configuration store (the directory's SQLite file and
the ACD's queues and agents) and the analytics store, verified after writing; N kept.

    <backup dir>/<UTC time>/directory/directory.sqlite   SQLite's online backup (a consistent copy)
                            directory/directory.journal  the change journal as it was then
                            directory/directory.pgdump   or, on PostgreSQL, pg_dump's custom format
                            acd/<tenant>.json            queues and agents (the ACD's API)
                            analytics/<table>.jsonl      every row (the analytics API)
                            manifest.json                sizes, SHA-256, counts, the journal's seq

A generation is written under ``.partial-<time>``, checked (every checksum read back, SQLite's
``integrity_check`` on the copy), then renamed; the oldest beyond ``HIBIKI_BACKUP_GENERATIONS``
are removed only after the new one is in place.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hibiki.stack.lifecycle.errors import BackupError
from hibiki.directory.lifecycle import manifest
from hibiki.stack.lifecycle import postgres
from hibiki.directory.lifecycle.platform import Platform

STAMP = "%Y%m%dT%H%M%S%fZ"


def generations(root: Path) -> list[Path]:
    """Complete generations, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / manifest.NAME).exists())


def _sqlite_copy(source: Path, target: Path) -> tuple[int, dict[str, int]]:
    """Online backup of a live SQLite database; (the journal seq it holds, rows per table)."""
    if not source.is_file():
        raise BackupError(f"configuration store {source} does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
    try:
        dst.execute("PRAGMA journal_mode=DELETE")   # one self-contained file
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"the copy of {source} fails SQLite's integrity check")
        seq = int(dst.execute("PRAGMA user_version").fetchone()[0])
        names = [r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        counts = {n: int(dst.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
    finally:
        dst.close()
    return seq, counts


def take(platform: Platform, now: datetime | None = None) -> Path:
    """Write, verify and keep one generation; returns its folder."""
    settings = platform.settings
    stamp = (now or datetime.now(UTC)).strftime(STAMP)
    root = settings.backup_dir
    partial = root / f".partial-{stamp}"
    shutil.rmtree(partial, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial.mkdir(mode=0o700)     # it holds a1-hashes, gateway passwords and people's numbers
    about: dict[str, Any] = {"taken_at": datetime.now(UTC).isoformat()}
    sqlite_path = settings.sqlite_path
    if sqlite_path is not None:
        seq, rows = _sqlite_copy(sqlite_path, partial / "directory" / "directory.sqlite")
        if settings.journal.is_file():
            shutil.copyfile(settings.journal, partial / "directory" / "directory.journal")
        about["directory"] = {"store": "sqlite", "journal_seq": seq, "rows": rows}
    elif settings.pg_dump == "off":
        about["directory"] = {"store": "postgresql", "note": "no logical dump (HIBIKI_BACKUP_PG_DUMP=off): PostgreSQL's "
                              "base backups and WAL archive hold it (README: Backups, export and deletion)"}
    else:
        about["directory"] = postgres.dump(settings, partial / "directory" / "directory.pgdump")
    acd: dict[str, dict[str, int]] = {}
    for tenant in sorted(t["id"] for t in platform.tenants()):
        config = platform.acd_config(tenant)
        if config["queues"] or config["agents"]:
            path = partial / "acd" / f"{tenant}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(config, ensure_ascii=False, indent=1, sort_keys=True))
            acd[tenant] = {kind: len(items) for kind, items in config.items()}
    about["acd"] = acd
    analytics: dict[str, int] = {}
    base = f"{settings.analytics_url}/api/v1/lifecycle/tables"
    for item in platform.json("GET", base)["items"]:
        table = item["table"]
        data = platform.request("GET", f"{base}/{table}").content
        (partial / "analytics").mkdir(exist_ok=True)
        (partial / "analytics" / f"{table}.jsonl").write_bytes(data)
        analytics[table] = data.count(b"\n")
    about["analytics"] = analytics
    for path in partial.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    manifest.write(partial, "backup", **about)
    (partial / manifest.NAME).chmod(0o600)
    problems = manifest.verify(partial)
    if problems:
        raise BackupError(f"generation {stamp} does not verify: " + "; ".join(map(str, problems)))
    final = root / stamp
    partial.rename(final)
    for old in generations(root)[:-settings.generations]:
        shutil.rmtree(old)
    return final
