"""FreeSWITCH's voicemail of one tenant's domain (mod_voicemail, profile ``default``).

Messages are files under ``$${storage_dir}/voicemail/default/<domain>/<user>/`` on the node
(``HIBIKI_VOICEMAIL_DIR`` points at ``.../voicemail/default``: a volume the nodes share, or run
this on each node), indexed in mod_voicemail's SQLite database ``<db dir>/voicemail_default.db``
(``HIBIKI_VOICEMAIL_DB``; tables ``voicemail_msgs`` and ``voicemail_prefs``, both with a
``domain`` column: read from mod_voicemail's source and the real switch's file).
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

from hibiki.directory.lifecycle.settings import Settings

TABLES = ("voicemail_msgs", "voicemail_prefs")
SECRET_COLUMNS = {"password"}       # a mailbox PIN never leaves in an export


def _folder(settings: Settings, domain: str) -> Path:
    return settings.voicemail_dir / domain


def _db(settings: Settings) -> sqlite3.Connection | None:
    if settings.voicemail_db is None or not settings.voicemail_db.is_file():
        return None
    return sqlite3.connect(settings.voicemail_db, timeout=30)


def held(settings: Settings, domain: str) -> dict[str, int]:
    folder = _folder(settings, domain)
    counts = {"voicemail.files": sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0}
    db = _db(settings)
    if db is not None:
        with db:
            for table in TABLES:
                counts[f"voicemail.{table}"] = int(db.execute(f"SELECT count(*) FROM {table} WHERE domain = ?",
                                                              (domain,)).fetchone()[0])
        db.close()
    return counts


def export(settings: Settings, domain: str, target: Path) -> None:
    folder = _folder(settings, domain)
    if folder.is_dir():
        shutil.copytree(folder, target, dirs_exist_ok=True)
    db = _db(settings)
    if db is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    with db:
        for table in TABLES:
            cursor = db.execute(f"SELECT * FROM {table} WHERE domain = ?", (domain,))
            columns = [c[0] for c in cursor.description]
            keep = [i for i, c in enumerate(columns) if c not in SECRET_COLUMNS]
            with (target / f"{table}.csv").open("w", newline="", encoding="utf-8-sig") as fh:
                writer = csv.writer(fh)
                writer.writerow([columns[i] for i in keep])
                writer.writerows([[row[i] for i in keep] for row in cursor])
    db.close()


def delete(settings: Settings, domain: str) -> None:
    folder = _folder(settings, domain)
    if folder.exists():
        shutil.rmtree(folder)
    db = _db(settings)
    if db is not None:
        with db:
            for table in TABLES:
                db.execute(f"DELETE FROM {table} WHERE domain = ?", (domain,))
        db.close()
