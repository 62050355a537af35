"""The directory's store on PostgreSQL: a logical dump per generation (pg_dump, custom format)
and its restore (pg_restore). Restoring to a moment is PostgreSQL's own point-in-time recovery
from a base backup and the WAL archive (README: Backups, export and deletion)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from hibiki.stack.lifecycle.errors import BackupError
from hibiki.directory.lifecycle.settings import Settings


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (``postgresql+psycopg://`` -> ``postgresql://``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(settings: Settings, name: str) -> str:
    configured = settings.pg_dump if name == "pg_dump" else str(Path(settings.pg_dump).with_name(name))
    found = shutil.which(configured)
    if found is None:
        raise BackupError(f"{configured} not found: install PostgreSQL's client tools, point HIBIKI_BACKUP_PG_DUMP "
                          "at pg_dump, or set it to off (the WAL archive alone then holds the directory)")
    return found


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")


def rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = sorted(inspect(conn).get_table_names())
            return {n: int(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}
    finally:
        engine.dispose()


def dump(settings: Settings, target: Path) -> dict[str, Any]:
    target.parent.mkdir(parents=True, exist_ok=True)
    _run([_tool(settings, "pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target),
          libpq_url(settings.database_url)], "pg_dump")
    _run([_tool(settings, "pg_restore"), "--list", str(target)], "pg_restore --list (checking the dump)")
    return {"store": "postgresql", "dump": "pg_dump custom format", "rows": rows(settings.database_url)}


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """The dump back into the configured database, whole or not at all."""
    _run([_tool(settings, "pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--dbname", libpq_url(settings.database_url), str(source)], "pg_restore")
    return {"store": "postgresql", "rows": rows(settings.database_url)}
