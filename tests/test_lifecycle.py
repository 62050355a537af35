"""Data lifecycle (ADM-03, ADM-09) through the real services: a backup, more changes, a failure,
the restore to just before it compared row by row; a tenant's export and its verified deletion
with another tenant untouched."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import re
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.acd.app import main as acd_main
from hibiki.acd.config import AcdConfig
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.lifecycle import export, manifest
from hibiki.stack.lifecycle import backup, certificate, deletion, restore
from hibiki.directory.lifecycle.platform import Platform
from hibiki.directory.lifecycle.settings import Settings
from support.analytics import analytics_process
from support.directory import directory_config, running_directory
from support.recording import ServiceProcess, make_wav, publish_stopped, spool_path, stopped
from support.servers import free_port, running

pytestmark = pytest.mark.slow


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: what "the same data" means."""
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        conn.close()


def settings_for(data: Path, directory_port: int, acd_port: int, analytics_port: int, recording_port: int = 1,
                 **env: str) -> Settings:
    return Settings.from_env({"HIBIKI_DATA_DIR": str(data), "HIBIKI_DIRECTORY_PORT": str(directory_port),
                              "HIBIKI_ACD_PORT": str(acd_port), "HIBIKI_ANALYTICS_PORT": str(analytics_port),
                              "HIBIKI_RECORDING_PORT": str(recording_port), "HIBIKI_BACKUP_GENERATIONS": "2", **env})


def acd_config(data: Path, nats_url: str, directory_grpc: int) -> AcdConfig:
    env = {"HIBIKI_DATA_DIR": str(data / "acd"), "HIBIKI_NATS_URL": nats_url}
    return dataclasses.replace(AcdConfig.from_env(env), port=free_port(), grpc_port=free_port(),
                               directory_grpc=f"127.0.0.1:{directory_grpc}")


async def test_backup_generations_and_restore_to_just_before_a_failure(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    tenant = f"toshima{uuid.uuid4().hex[:6]}"
    data = tmp_path / "var"
    directory = directory_config(data, nats_server)
    acd = acd_config(tmp_path, nats_server.url, directory.grpc_port)
    analytics_port = free_port()
    analytics = analytics_process(tmp_path / "analytics", nats_server.url, analytics_port)
    settings = settings_for(data, directory.port, acd.port, analytics_port)
    platform = Platform(settings, authority)
    db = settings.sqlite_path
    assert db is not None and settings.journal == data / "directory.journal"
    sla = f"http://127.0.0.1:{analytics_port}/api/v1/tenants/{tenant}/reports/sla"
    try:
        async with running_directory(directory, nats_client, authority) as admin, running(acd_main, acd), \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{acd.port}/api/v1/tenants/{tenant}",
                                  headers={"Authorization": f"Bearer {admin.token}"}) as acd_api:
            await admin.post("/api/v1/tenants", {"id": tenant, "domain": f"{tenant}.example.jp"})
            users = f"/api/v1/tenants/{tenant}/users"
            for n in range(5):
                await admin.post(users, {"username": f"u{n}", "extension": f"{2000 + n}", "display_name": f"職員{n}"})
            assert (await acd_api.put("/queues/q1", json={})).status_code == 201
            assert (await acd_api.put("/agents/a1", json={"queues": ["q1"]})).status_code == 201
            assert (await admin.api.put(sla, json={"answer_seconds": 20})).status_code == 200
            first = await asyncio.to_thread(backup.take, platform)
            taken = manifest.load(first)
            assert manifest.verify(first) == []
            assert {oct(p.stat().st_mode & 0o777) for p in first.rglob("*")} <= {"0o700", "0o600"}
            assert taken["directory"]["rows"]["users"] == 5 and taken["acd"][tenant] == {"queues": 1, "agents": 1}
            # more changes after the backup: the restore must bring them back from the journal
            for n in range(5, 8):
                await admin.post(users, {"username": f"u{n}", "extension": f"{2000 + n}"})
            listed = (await admin.api.get(users)).json()["items"]
            by_name = {u["username"]: u["id"] for u in listed}
            await admin.patch(f"{users}/{by_name['u1']}", {"display_name": "窓口 一"})
            await admin.delete(f"{users}/{by_name['u2']}")
            await admin.post(f"/api/v1/tenants/{tenant}/phonebook", {"name": "市役所 代表", "numbers": ["046-251-1111"]})
            assert (await acd_api.put("/queues/q2", json={})).status_code == 201
            assert (await admin.api.put(sla, json={"answer_seconds": 30})).status_code == 200
            before_failure = datetime.now(UTC)
            expected = dump(db)
            await asyncio.sleep(0.05)
            # the failure: a mistaken mass deletion, then the store itself lost
            for name in ("u0", "u3", "u4"):
                await admin.delete(f"{users}/{by_name[name]}")
            second = await asyncio.to_thread(backup.take, platform)
        assert [g.name for g in backup.generations(settings.backup_dir)][-1] == second.name
        db.write_bytes(b"this is not a database" * 100)            # corrupted
        for leftover in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            leftover.unlink(missing_ok=True)
        # directory stopped: restore the first generation and replay up to just before the failure
        report = await asyncio.to_thread(restore.restore, platform, first, before_failure, ("directory",))
        print(f"restore: generation {first.name}, journal {report['directory']['from_seq']} -> "
              f"{report['directory']['to_seq']} ({report['directory']['replayed']} transactions replayed)")
        assert report["directory"]["replayed"] >= 6
        assert dump(db) == expected
        assert sum(len(rows) for rows in expected.values()) > 0
        # the restored store serves again, and the next change continues the journal
        async with running_directory(directory, nats_client, authority) as admin, running(acd_main, acd):
            names = sorted(u["username"] for u in (await admin.api.get(users)).json()["items"])
            assert names == ["u0", "u1", "u3", "u4", "u5", "u6", "u7"]
            await admin.post(users, {"username": "after", "extension": "2999"})
            seqs = [e["seq"] for e in restore.change_journal.entries(settings.journal)]
            # the journal goes on from the restored point (the change, then its audit entry)
            assert min(s for s in seqs if s > report["directory"]["to_seq"]) == report["directory"]["to_seq"] + 1
            assert sorted(set(seqs)) == list(range(1, max(seqs) + 1))
            # the ACD's configuration and the analytics store back to the first generation
            await asyncio.to_thread(restore.restore, platform, first, None, ("acd", "analytics"))
            config = await asyncio.to_thread(platform.acd_config, tenant)
            assert [q["id"] for q in config["queues"]] == ["q1"] and [a["id"] for a in config["agents"]] == ["a1"]
            assert (await admin.api.get(sla)).json()["answer_seconds"] == 20
            # generations: two kept (HIBIKI_BACKUP_GENERATIONS=2), a tampered one refuses to restore
            # this one as an operator (and the CronJob) takes it: the command, with the stack's environment
            env = {**os.environ, "HIBIKI_DATA_DIR": str(data), "HIBIKI_DIRECTORY_PORT": str(directory.port),
                   "HIBIKI_ACD_PORT": str(acd.port), "HIBIKI_ANALYTICS_PORT": str(analytics_port),
                   "HIBIKI_BACKUP_GENERATIONS": "2"}
            done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "hibiki.stack.cli", "backup"],
                                           env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            said = json.loads(done.stdout)
            third = Path(said["generation"])
            assert said["acd"][tenant] == {"queues": 1, "agents": 1} and said["directory"]["rows"]["users"] == 8
        assert [g.name for g in backup.generations(settings.backup_dir)] == [second.name, third.name]
        victim = third / "directory" / "directory.sqlite"
        victim.write_bytes(victim.read_bytes()[:-1] + bytes([victim.read_bytes()[-1] ^ 1]))
        assert [str(p) for p in manifest.verify(third)] == ["directory/directory.sqlite: checksum differs"]
        with pytest.raises(backup.BackupError, match="does not verify"):
            restore.restore(platform, third, None, ("directory",))
        # the analytics side is the platform's alone, and hostile input is refused before the store
        base = f"http://127.0.0.1:{analytics_port}/api/v1/lifecycle"
        async with httpx.AsyncClient() as http:
            for roles in (("admin",), ("supervisor",), ("recording-admin",)):
                token = authority.issue(Claims("mallory", "user", tenant, roles))
                for method, path in (("GET", "/tables"), ("GET", "/tables/calls"), ("DELETE", f"/tenants/{tenant}")):
                    refused = await http.request(method, base + path, headers={"Authorization": f"Bearer {token}"})
                    assert refused.status_code == 403 and refused.json()["error_id"] == "forbidden"
            root = {"Authorization": f"Bearer {authority.issue(Claims('root', 'user', '*', ('platform-admin',)))}"}
            rows = (await http.get(f"{base}/tables/report_settings", headers=root)).content
            assert rows.count(b"\n") == 1
            for method, path, body, status, field in (
                    ("GET", "/tables/system.users", None, 404, "table"),
                    ("GET", "/tables/calls;DROP", None, 404, "table"),
                    ("GET", "/tables/calls?tenant=x'%20OR%201", None, 400, "tenant"),
                    ("DELETE", "/tenants/..", None, 404, None),
                    ("PUT", "/tables/report_settings", b'{"tenant": "x"}\n', 400, "body"),
                    ("PUT", "/tables/report_settings", b"\xff\xfe", 400, "body"),
                    ("PUT", "/tables/report_settings", re.sub(rb'"version": \d+', b'"version": "late"', rows),
                     400, "body"),
                    ("PUT", "/tables/schema_migrations", b"", 409, "table")):
                answer = await http.request(method, base + path, content=body, headers=root)
                assert answer.status_code == status, (path, answer.text)
                if field:
                    assert answer.json()["details"]["field"] == field
            assert (await http.get(f"{base}/tables/report_settings", headers=root)).content == rows  # not truncated
    finally:
        platform.close()
        analytics.terminate()
        analytics.wait(30)
