"""``hibiki restore``: a generation back into the stores, the directory's up to a moment.

The directory (stopped first: it holds the file open) gets the generation's SQLite copy, then
every journal entry after the copy's ``user_version`` written up to ``--until`` (default: all
of them), in order and without a gap, each in its own transaction; the result replaces the store
only when it passes SQLite's integrity check. The journal is cut after the last entry replayed
(the rest is kept beside it as ``directory.journal.discarded-<time>``), so the next writes
continue the restored history. The ACD's queues and agents and the analytics tables (both
services running) are made equal to the generation's over their APIs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hibiki.directory.storage import journal as change_journal
from hibiki.directory.lifecycle import manifest
from hibiki.stack.lifecycle import postgres
from hibiki.stack.lifecycle.backup import generations
from hibiki.stack.lifecycle.errors import BackupError
from hibiki.directory.lifecycle.platform import Platform

PARTS = ("directory", "acd", "analytics")


def pick(root: Path, name: str | None, until: datetime | None) -> Path:
    """The named generation, else the newest taken before ``until``, else the newest."""
    found = generations(root)
    if name:
        chosen = root / name
        if chosen not in found:
            raise BackupError(f"no generation {name!r} in {root}")
        return chosen
    if until is not None:
        found = [g for g in found if datetime.fromisoformat(manifest.load(g)["taken_at"]) <= until]
    if not found:
        raise BackupError(f"no generation in {root}" + (f" taken before {until.isoformat()}" if until else ""))
    return found[-1]


def _replay(db: Path, journal: Path | None, until: datetime | None) -> dict[str, Any]:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=OFF")     # the journal replays the original order
        base = seq = int(conn.execute("PRAGMA user_version").fetchone()[0])
        last_at = None
        for entry in change_journal.entries(journal) if journal and journal.is_file() else ():
            if entry["seq"] <= base:
                continue
            if until is not None and datetime.fromisoformat(entry["at"]) > until:
                break
            if entry["seq"] != seq + 1:
                raise BackupError(f"the journal has no entry {seq + 1} (next is {entry['seq']}): cannot replay past {seq}")
            conn.execute("BEGIN IMMEDIATE")
            for sql, params in change_journal.statements(entry):
                conn.execute(sql, params)
            conn.execute(f"PRAGMA user_version = {entry['seq']}")
            conn.execute("COMMIT")
            seq, last_at = entry["seq"], entry["at"]
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the replayed store fails SQLite's integrity check")
        if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise BackupError("the replayed store breaks a foreign key")
    finally:
        conn.close()
    return {"from_seq": base, "to_seq": seq, "replayed": seq - base, "last_change_at": last_at}


def _cut_journal(journal: Path, seq: int) -> None:
    if not journal.is_file():
        return
    kept: list[str] = []
    dropped: list[str] = []
    for entry in change_journal.entries(journal):
        (kept if entry["seq"] <= seq else dropped).append(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
    if dropped:
        aside = journal.with_name(f"{journal.name}.discarded-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
        aside.write_text("\n".join(dropped) + "\n")
    tmp = journal.with_name(f".{journal.name}.tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.chmod(tmp, 0o600)
    os.replace(tmp, journal)


def restore_directory(platform: Platform, generation: Path, until: datetime | None) -> dict[str, Any]:
    settings = platform.settings
    target = settings.sqlite_path
    if target is None:
        if until is not None:
            raise BackupError("the directory's store is PostgreSQL: restore it to a moment with PostgreSQL's "
                              "point-in-time recovery (recovery_target_time), not --until")
        if not (generation / "directory" / "directory.pgdump").is_file():
            raise BackupError(f"generation {generation.name} holds no dump of the directory's PostgreSQL")
        return postgres.restore(settings, generation / "directory" / "directory.pgdump")
    copy = generation / "directory" / "directory.sqlite"
    work = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(copy, work)
    journal = settings.journal if settings.journal.is_file() else generation / "directory" / "directory.journal"
    report = _replay(work, journal, until)
    for leftover in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        leftover.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work, target)
    _cut_journal(settings.journal, report["to_seq"])
    return report


def queue_order(queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ordered: list[dict[str, Any]] = []
    left = list(queues)
    while left:
        ready = [q for q in left if not (isinstance(q.get("overflow"), dict) and
                 q["overflow"].get("queue_id") in {x["id"] for x in left if x is not q})]
        ready = ready or left[:1]
        ordered += ready
        left = [q for q in left if q not in ready]
    return ordered


def restore_acd(platform: Platform, generation: Path) -> dict[str, dict[str, int]]:
    url, done = platform.settings.acd_url, {}
    saved = {p.stem: json.loads(p.read_text()) for p in sorted((generation / "acd").glob("*.json"))}
    for tenant in sorted(set(saved) | {t["id"] for t in platform.tenants()}):
        want = saved.get(tenant, {"queues": [], "agents": []})
        have = platform.acd_config(tenant)
        base = f"{url}/api/v1/tenants/{tenant}"
        wanted_agents = {a["id"] for a in want["agents"]}
        for agent in have["agents"]:
            if agent["id"] not in wanted_agents:
                platform.request("DELETE", f"{base}/agents/{agent['id']}", (204,))
        wanted_queues = {q["id"] for q in want["queues"]}
        for queue in reversed(queue_order(have["queues"])):
            if queue["id"] not in wanted_queues:
                platform.request("DELETE", f"{base}/queues/{queue['id']}", (204,))
        for queue in queue_order(want["queues"]):
            platform.request("PUT", f"{base}/queues/{queue['id']}", (200, 201), json=queue)
        for agent in want["agents"]:
            platform.request("PUT", f"{base}/agents/{agent['id']}", (200, 201),
                             json={k: v for k, v in agent.items() if k != "id"})
        if want["queues"] or want["agents"]:
            done[tenant] = {"queues": len(want["queues"]), "agents": len(want["agents"])}
    return done


def restore_analytics(platform: Platform, generation: Path) -> dict[str, int]:
    base, done = f"{platform.settings.analytics_url}/api/v1/lifecycle/tables", {}
    for path in sorted((generation / "analytics").glob("*.jsonl")):
        if path.stem == "schema_migrations":
            continue
        done[path.stem] = platform.json("PUT", f"{base}/{path.stem}", content=path.read_bytes(),
                                        headers={"Content-Type": "application/x-ndjson"})["rows"]
    return done


def restore(platform: Platform, generation: Path, until: datetime | None, parts: tuple[str, ...] = PARTS) -> dict[str, Any]:
    problems = manifest.verify(generation)
    if problems:
        raise BackupError(f"generation {generation.name} does not verify: " + "; ".join(map(str, problems)))
    report: dict[str, Any] = {"generation": generation.name, "until": until.isoformat() if until else None}
    if "directory" in parts:
        report["directory"] = restore_directory(platform, generation, until)
    if "acd" in parts:
        report["acd"] = restore_acd(platform, generation)
    if "analytics" in parts:
        report["analytics"] = restore_analytics(platform, generation)
    return report
