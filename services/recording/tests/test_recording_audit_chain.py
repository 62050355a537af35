"""The recording access audit trail is append-only and tamper-evident (REC-04, ADM-05): hash-chained
per writer (a run of a replica), each chain's head kept apart. Through the real service on real NATS
and the real index (chdb, and Debian's ClickHouse server where two replicas write at once): the
trail verifies intact over several writers and concurrent appends; a row altered, removed from the
middle or removed from the end is found by ``GET .../recording-audit/verify`` (writer, sequence,
problem) while the tenant's export still answers; a retried deletion is recorded once."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from hibiki.recording.deletion import Deleter, Who
from hibiki.recording.index import recordings
from hibiki.recording.index.audit import AuditChain, writer_id
from hibiki.recording.index.stores import open_index
from hibiki.recording.nats.notifier import Notifier
from hibiki.recording.storage.blobs import LocalBlobs
from support.clickhouse_server import ClickHouseServer, binary
from support.servers import free_port, running

pytestmark = pytest.mark.slow


@pytest.fixture(params=["chdb", pytest.param("clickhouse-server", marks=pytest.mark.clickhouse_server)])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "chdb":
        yield f"chdb://{tmp_path / 'index'}"
        return
    if binary() is None:
        pytest.skip("Debian's clickhouse-server is not installed")
    server = ClickHouseServer(tmp_path / "clickhouse")
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


def _config(tmp_path: Path, nats_url: str, index_url: str, replica: str) -> RecordingConfig:
    return dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "var"), "HIBIKI_NATS_URL": nats_url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(tmp_path / "spool"), "HIBIKI_RECORDING_STORAGE_DIR": str(tmp_path / replica),
        "HIBIKI_RECORDING_CONSUMER": f"rec-{uuid.uuid4().hex[:8]}", "HIBIKI_RECORDING_INDEX_URL": index_url,
        "HIBIKI_RECORDING_REPLICA_ID": replica}), port=free_port())


@asynccontextmanager
async def _replicas(tmp_path: Path, nats_url: str, index_url: str, *names: str) -> AsyncIterator[list[int]]:
    async with AsyncExitStack() as stack:
        ports = []
        for name in names:
            config = _config(tmp_path, nats_url, index_url, name)
            await stack.enter_async_context(running(main, config))
            ports.append(config.port)
        yield ports


def _client(port: int, authority: TokenAuthority, tenant: str, *roles: str) -> httpx.AsyncClient:
    token = authority.issue(Claims("kato", "user", tenant, roles))
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1/tenants/{tenant}",
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)


async def _searches(ports: list[int], authority: TokenAuthority, tenant: str, each: int) -> None:
    """``each`` searches on every replica at once (each one audit row)."""
    clients = [_client(port, authority, tenant, "recording-viewer") for port in ports]
    try:
        answers = await asyncio.gather(*(c.get("/recordings", params={"agent": f"a{i}"})
                                         for c in clients for i in range(each)))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    finally:
        for c in clients:
            await c.aclose()


async def _verify(port: int, authority: TokenAuthority, tenant: str) -> dict[str, Any]:
    async with _client(port, authority, tenant, "auditor") as auditor:
        answer = await auditor.get("/recording-audit/verify")
        assert answer.status_code == 200, answer.text
        exported = await auditor.get("/recording-audit.csv")
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert all(r["writer"] and r["hash"] for r in rows) and len(rows) == answer.json()["entries"]
        result: dict[str, Any] = answer.json()
        return result


def _tamper(index_url: str, sql: str, params: dict[str, Any]) -> None:
    store = open_index(index_url)
    try:
        store.migrate()
        if "ALTER TABLE" in sql:
            store.execute(sql + (" SETTINGS mutations_sync = 2" if store.dialect.lightweight_delete else ""), params)
        else:
            store.delete_rows("recording_audit", sql, params)
    finally:
        store.close()


def _rows(index_url: str, tenant: str) -> list[tuple[Any, ...]]:
    store = open_index(index_url)
    try:
        return store.query("SELECT writer, seq, event_id FROM hibiki.recording_audit FINAL WHERE tenant = %(t)s "
                           "ORDER BY writer, seq", {"t": tenant})
    finally:
        store.close()


async def test_the_audit_trail_is_chained_and_tampering_is_found(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                                authority: TokenAuthority, index_url: str) -> None:
    await bus.ensure_events_stream(nats_client.jetstream())
    server = index_url.startswith("clickhouse")
    # two replicas appending at once where they can share the index (a server); a restart in chdb
    first = ("rec-a", "rec-b") if server else ("rec-a",)
    intact, altered, middle, last = (f"t{uuid.uuid4().hex[:6]}" for _ in range(4))
    tenants = (intact, altered, middle, last)
    async with _replicas(tmp_path, nats_server.url, index_url, *first) as ports:
        for tenant in tenants:
            await _searches(ports, authority, tenant, 6)
    async with _replicas(tmp_path, nats_server.url, index_url, "rec-a") as ports:   # restarted: a new writer
        for tenant in tenants:
            await _searches(ports, authority, tenant, 3)
        port = ports[0]
        for tenant in tenants:
            result = await _verify(port, authority, tenant)
            writers = len(first) + 1
            assert result["intact"] and result["problems"] == [], result
            assert result["entries"] == 6 * len(first) + 3 and len(result["chains"]) == writers, result
            assert sorted(c["entries"] for c in result["chains"]) == sorted([6] * len(first) + [3]), result
            assert all(c["head"] == c["entries"] for c in result["chains"]), result

    # tamper with the stored rows (as someone with write access to ClickHouse would), then ask again
    rows = {t: _rows(index_url, t) for t in tenants}
    w_alt, s_alt, _ = rows[altered][2]
    _tamper(index_url, "ALTER TABLE hibiki.recording_audit UPDATE actor = 'someone-else' "
            "WHERE tenant = %(t)s AND writer = %(w)s AND seq = %(s)s", {"t": altered, "w": w_alt, "s": s_alt})
    w_mid, s_mid, _ = rows[middle][3]
    _tamper(index_url, "tenant = %(t)s AND writer = %(w)s AND seq = %(s)s", {"t": middle, "w": w_mid, "s": s_mid})
    chain_of = [r for r in rows[last] if r[0] == rows[last][0][0]]
    w_last, s_last, _ = chain_of[-1]
    _tamper(index_url, "tenant = %(t)s AND writer = %(w)s AND seq = %(s)s", {"t": last, "w": w_last, "s": s_last})

    async with _replicas(tmp_path, nats_server.url, index_url, "rec-a") as ports:
        port = ports[0]
        assert (await _verify(port, authority, intact))["intact"]
        found = await _verify(port, authority, altered)
        assert not found["intact"] and {"writer": w_alt, "seq": s_alt, "problem": "altered"} in found["problems"]
        found = await _verify(port, authority, middle)
        assert not found["intact"] and {"writer": w_mid, "seq": s_mid, "problem": "missing"} in found["problems"]
        found = await _verify(port, authority, last)
        assert not found["intact"] and found["problems"] == [
            {"writer": w_last, "seq": s_last, "problem": "truncated"}], found
        async with _client(port, authority, altered, "recording-viewer") as viewer:
            refused = await viewer.get("/recording-audit/verify")
            assert refused.status_code == 403 and refused.json()["error_id"] == "forbidden"
    print(f"\n  {index_url.split(':')[0]}: {len(first) + 1} writers per tenant; altered, removed and truncated "
          "rows found by the verification")


async def test_a_retried_deletion_is_recorded_once_in_the_chain(tmp_path: Path, nats_client: Any) -> None:
    """The deletion's entry has an id derived from the recording: a retry after a crash (a new run,
    a new writer) finds it and does not append it again; the chain stays intact; a wrong key fails."""
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    store = open_index(f"chdb://{tmp_path / 'index'}")
    blobs = LocalBlobs(tmp_path / "store")
    try:
        store.migrate()
        now = datetime.now(UTC)
        tenant, rid = f"zama{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
        key = f"{tenant}/{now:%Y/%m/%d}/{rid}.ogg.hbr"
        blobs.put(key, b"sealed")
        row = recordings.Recording(tenant, rid, "call", "leg", 1, now, now + timedelta(seconds=3), 3000, 2,
                                   "inbound", "0311112222", "0462511111", "", "", "", "", "policy", "opus", 6,
                                   "0" * 64, key, "k1", now, now + timedelta(days=1))
        recordings.put(store, row)
        for _ in range(2):       # the first run "crashed" after the audit entry; the retry runs the deletion again
            trail = AuditChain(store, writer_id("rec-a"), b"k" * 32)
            await Deleter(store, blobs, Notifier(js), trail).delete(row, "admin",
                                                                   Who("kato", ("recording-admin",), "127.0.0.1"))
        result = AuditChain(store, writer_id("rec-a"), b"k" * 32).verify(tenant)
        assert result["intact"] and result["entries"] == 1, result
        assert recordings.get(store, tenant, rid) is None and blobs.get(key) is None
        wrong_key = AuditChain(store, writer_id("rec-a"), b"x" * 32).verify(tenant)
        assert not wrong_key["intact"] and wrong_key["problems"][0]["problem"] == "altered"
    finally:
        store.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``hibiki audit ... --recording`` as an operator runs it (the secret from the environment)."""
    return subprocess.run([sys.executable, "-m", "hibiki.stack.cli", "audit", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


async def test_the_command_line_verifies_and_exports_the_recording_trail(tmp_path: Path, nats_server: Any,
                                                                         nats_client: Any,
                                                                         authority: TokenAuthority) -> None:
    """``hibiki audit verify|export --recording --tenant T`` asks the running service: intact (exit 0)
    and the entries exported; a row altered in the index is reported (exit 1, writer and seq); a
    service that cannot be asked is exit 2, as is a missing tenant."""
    await bus.ensure_events_stream(nats_client.jetstream())
    index_url, tenant = f"chdb://{tmp_path / 'index'}", f"t{uuid.uuid4().hex[:6]}"
    async with _replicas(tmp_path, nats_server.url, index_url, "rec-a") as ports:
        await _searches(ports, authority, tenant, 4)
        url = f"http://127.0.0.1:{ports[0]}"
        verified = await asyncio.to_thread(_cli, "verify", "--recording", "--tenant", tenant, "--url", url)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        result = json.loads(verified.stdout)
        assert result["tenant"] == tenant and result["intact"] and result["entries"] == 4, result
        exported = await asyncio.to_thread(_cli, "export", "--recording", "--tenant", tenant, "--url", url)
        assert exported.returncode == 0, exported.stderr
        lines = list(csv.reader(io.StringIO(exported.stdout)))
        assert lines[0][:3] == ["at", "event_id", "actor"] and len(lines) == 5, lines
        as_json = await asyncio.to_thread(_cli, "export", "--recording", "--tenant", tenant, "--url", url,
                                          "--format", "json")
        entries = json.loads(as_json.stdout)
        assert len(entries) == 4 and {e["actor"] for e in entries} == {"kato"}, entries
        no_tenant = await asyncio.to_thread(_cli, "verify", "--recording", "--url", url)
        assert no_tenant.returncode == 2 and "--tenant" in no_tenant.stderr

    writer, seq, _ = _rows(index_url, tenant)[1]
    _tamper(index_url, "ALTER TABLE hibiki.recording_audit UPDATE actor = 'someone-else' "
            "WHERE tenant = %(t)s AND writer = %(w)s AND seq = %(s)s", {"t": tenant, "w": writer, "s": seq})
    down = await asyncio.to_thread(_cli, "verify", "--recording", "--tenant", tenant, "--url", url)
    assert down.returncode == 2 and "cannot be asked" in down.stderr, down.stderr
    async with _replicas(tmp_path, nats_server.url, index_url, "rec-a") as ports:
        caught = await asyncio.to_thread(_cli, "verify", "--recording", "--tenant", tenant,
                                         "--url", f"http://127.0.0.1:{ports[0]}")
    print(f"\n  hibiki audit verify --recording after the tamper: exit {caught.returncode}: {caught.stdout.strip()}")
    assert caught.returncode == 1, caught.stdout + caught.stderr
    found = json.loads(caught.stdout)
    assert not found["intact"] and {"writer": writer, "seq": seq, "problem": "altered"} in found["problems"], found
