"""The directory's store on a real PostgreSQL (production): the logical dump a generation holds
restores exactly, and the point-in-time recovery README documents (base backup, WAL archive,
recovery_target_time) brings the store back to just before a failure."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from hibiki.directory.storage.database import open_store
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.stack.lifecycle import postgres
from hibiki.directory.lifecycle.settings import Settings
from support.postgres import PostgresServer, binaries, postgres_cluster



def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"))]
            return {n: sorted((tuple(r) for r in conn.execute(text(f'SELECT * FROM "{n}"'))), key=repr) for n in names}
    finally:
        engine.dispose()


def changes(engine: Engine, prefix: str, count: int) -> None:
    repo = ConfigRepository(engine)
    for n in range(count):
        repo.create_tenant({"id": f"{prefix}{n}", "domain": f"{prefix}{n}.example.jp", "name": f"市{n}"})


def test_a_generations_dump_restores_the_store_exactly(postgres_server: PostgresServer, tmp_path: Path) -> None:
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    try:
        engine = open_store(url)
        changes(engine, "zama", 3)
        settings = Settings.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_DIRECTORY_DATABASE_URL": url,
                                      "HIBIKI_BACKUP_PG_DUMP": str(binaries() / "pg_dump")})
        about = postgres.dump(settings, tmp_path / "directory.pgdump")
        expected = snapshot(url)
        assert about["rows"]["tenants"] == 3
        changes(engine, "later", 2)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM tenants WHERE id = 'zama1'"))
        engine.dispose()
        restored = postgres.restore(settings, tmp_path / "directory.pgdump")
        assert restored["rows"]["tenants"] == 3 and snapshot(url) == expected
    finally:
        postgres_server.drop_database(name)


def _as_server(server: PostgresServer, path: Path) -> None:
    if server.account is not None:
        for item in [path, *path.rglob("*")]:
            os.chown(item, server.account.pw_uid, server.account.pw_gid)


def test_point_in_time_recovery_to_just_before_a_failure(tmp_path: Path) -> None:
    with postgres_cluster() as server:
        archive = server.root / "wal-archive"
        archive.mkdir()
        _as_server(server, archive)
        server.stop()
        with (server.data / "postgresql.conf").open("a") as conf:      # README: what production sets
            conf.write(f"wal_level = replica\narchive_mode = on\narchive_command = 'cp %p {archive}/%f'\n")
        server.start()
        url = server.url()
        engine = open_store(url)
        changes(engine, "before", 3)
        base = server.root / "base"
        done = server._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
                           "-D", str(base), "-X", "stream", "--checkpoint=fast")
        assert done.returncode == 0, done.stderr
        changes(engine, "after", 2)                        # after the base backup: only the WAL holds them
        with engine.begin() as conn:
            conn.execute(text("UPDATE tenants SET name = '更新' WHERE id = 'before0'"))
        time.sleep(0.2)
        with engine.connect() as conn:
            target = conn.execute(text("SELECT now()")).scalar_one()
        expected = snapshot(url)
        time.sleep(0.2)
        with engine.begin() as conn:                       # the failure: a mistaken mass deletion
            conn.execute(text("DELETE FROM tenants"))
        with engine.connect() as conn:
            wal = conn.execute(text("SELECT pg_walfile_name(pg_switch_wal())")).scalar_one()
        deadline = time.monotonic() + 30
        while not (archive / wal).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (archive / wal).exists(), "the WAL segment was not archived"
        engine.dispose()
        server.stop()
        shutil.rmtree(server.data)                         # the store is lost
        shutil.copytree(base, server.data)
        with (server.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"restore_command = 'cp {archive}/%f %p'\nrecovery_target_time = '{target.isoformat()}'\n"
                       "recovery_target_action = 'promote'\n")
        (server.data / "recovery.signal").touch()
        _as_server(server, server.data)
        os.chmod(server.data, 0o700)
        server.start()
        deadline = time.monotonic() + 60
        while True:
            with contextlib.closing(server.connect()) as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    break
            assert time.monotonic() < deadline, "recovery did not finish"
            time.sleep(0.2)
        assert snapshot(url) == expected
        assert len(expected["tenants"]) == 5
        print(f"PITR: base backup + WAL replayed to {target.isoformat()}: {len(expected['tenants'])} tenants back")
