"""The recording service end to end in one process with real NATS and chdb: RecordingStopped in,
then search, play with ranges, download, delete, the audit trail, the roles (REC-04, REC-06),
retention (3 years, after handling), key rotation, and hostile input."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.events.v1 import agent_pb2, meta_pb2
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from support.clickhouse_server import ClickHouseServer, binary
from support.recording import decode_ogg, make_wav, publish_stopped, spool_path, stopped
from support.servers import free_port, running

pytestmark = pytest.mark.slow


async def _until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def _count(js: Any, subject: str) -> int:
    info = await js.stream_info("HIBIKI_EVENTS", subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


class Api:
    def __init__(self, base: str, authority: TokenAuthority, tenant: str) -> None:
        self.base, self.authority, self.tenant = base, authority, tenant

    def client(self, *roles: str, tenant: str | None = None, user: str = "kato") -> httpx.AsyncClient:
        token = self.authority.issue(Claims(user, "user", tenant or self.tenant, roles))
        return httpx.AsyncClient(base_url=f"{self.base}/api/v1/tenants/{self.tenant}",
                                 headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(params=["chdb", pytest.param("clickhouse-server", marks=pytest.mark.clickhouse_server)])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The index in chdb (the default) or on a real ClickHouse server (Debian's 18.16: the legacy
    dialect, whole seconds, deletions as mutations): the same queries, the same answers."""
    if request.param == "chdb":
        yield ""
        return
    if binary() is None:
        pytest.skip("Debian's clickhouse-server is not installed")
    server = ClickHouseServer(tmp_path / "clickhouse")
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


async def test_store_search_play_delete_audit_retention(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                        authority: TokenAuthority, index_url: str) -> None:
    tenant, handled_tenant = f"zama{uuid.uuid4().hex[:6]}", f"toshima{uuid.uuid4().hex[:6]}"
    spool = tmp_path / "spool"
    config = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "var"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(spool), "HIBIKI_RECORDING_CONSUMER": f"rec-{tenant}",
        "HIBIKI_RECORDING_RETENTION": f"default=1095,{handled_tenant}=after-handling",
        "HIBIKI_RECORDING_RETENTION_INTERVAL": "0.5", "HIBIKI_RECORDING_INDEX_URL": index_url}), port=free_port())
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    now = datetime.now(UTC)

    async def record(t: str, started: datetime, **fields: Any) -> tuple[str, Path, str]:
        rid = str(uuid.uuid4())
        event = stopped(t, rid, Path("/"), started=started, **fields)
        path = make_wav(spool_path(spool, t, rid, started), seconds=2.0)
        event.spool_path = str(path)
        await publish_stopped(js, event)
        return rid, path, event.call_id

    async with running(main, config):
        api = Api(f"http://127.0.0.1:{config.port}", authority, tenant)
        admin, viewer = api.client("recording-admin"), api.client("recording-viewer", user="sato")
        r1, p1, call1 = await record(tenant, now - timedelta(hours=2), agent_id="agent-1", queue_id="juminka")
        r2, p2, _ = await record(tenant, now - timedelta(hours=1), agent_id="agent-2", queue_id="zeimu",
                                 caller_number="09012345678")
        old, p_old, _ = await record(tenant, now - timedelta(days=1096), agent_id="agent-1")   # past 3 years
        done, p_done, call_done = await record(handled_tenant, now - timedelta(minutes=5))
        # hostile: another tenant's spool, a path outside the spool, a malformed id
        victim = make_wav(spool_path(spool, handled_tenant, str(uuid.uuid4()), now))
        outside = make_wav(tmp_path / "elsewhere" / f"{uuid.uuid4()}.wav")
        for target in (victim, outside):
            bad = stopped(tenant, target.stem, target)
            await publish_stopped(js, bad)
        await bus.publish(js, bus.subject(tenant, "agent", "disposition_saved"), agent_pb2.DispositionSaved(
            meta=meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=tenant, call_uuid=call1), agent_id="agent-1",
            queue_id="juminka", case_type="complaint").SerializeToString(), str(uuid.uuid4()))
        await bus.publish(js, bus.subject(handled_tenant, "agent", "disposition_saved"), agent_pb2.DispositionSaved(
            meta=meta_pb2.EventMeta(id=str(uuid.uuid4()), tenant=handled_tenant, call_uuid=call_done),
            agent_id="a", case_type="done").SerializeToString(), str(uuid.uuid4()))

        await _until(lambda: _gone(p1, p2, p_old, p_done))
        await _until(lambda: _deleted(js, tenant, handled_tenant))
        async with admin, viewer:
            async def ids(**params: Any) -> list[str]:
                answer = await admin.get("/recordings", params=params)
                assert answer.status_code == 200, answer.text
                return [r["recording_id"] for r in answer.json()["recordings"]]

            assert await _until(lambda: _disposition(admin, r1)) == "complaint"
            assert await ids() == [r2, r1]                         # newest first; the 3-year-old one is gone
            assert await ids(agent="agent-1") == [r1]
            assert await ids(queue="zeimu") == [r2]
            assert await ids(number="09012345678") == [r2]
            assert await ids(disposition="complaint") == [r1]
            assert await ids(**{"from": (now - timedelta(minutes=90)).isoformat(), "to": now.isoformat()}) == [r2]
            row = (await admin.get(f"/recordings/{r1}")).json()
            assert (row["caller_number"], row["did"], row["channels"], row["codec"]) == ("0311112222", "0462511111", 2, "opus")
            assert 1900 <= row["duration_ms"] <= 2100 and len(row["sha256"]) == 64
            assert row["delete_after"].startswith(str((now - timedelta(hours=2) + timedelta(days=1095)).date()))

            whole = await viewer.get(f"/recordings/{r1}/audio")
            assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
            audio = whole.content
            wav = decode_ogg(audio, tmp_path)
            assert wav.getnchannels() == 2 and abs(wav.getnframes() / wav.getframerate() - 2.0) < 0.1
            part = await viewer.get(f"/recordings/{r1}/audio", headers={"Range": "bytes=10-99"})
            assert part.status_code == 206 and part.content == audio[10:100]
            assert part.headers["content-range"] == f"bytes 10-99/{len(audio)}"
            tail = await viewer.get(f"/recordings/{r1}/audio", headers={"Range": "bytes=-7"})
            assert tail.status_code == 206 and tail.content == audio[-7:]
            beyond = await viewer.get(f"/recordings/{r1}/audio", headers={"Range": f"bytes={len(audio)}-"})
            assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(audio)}"
            file = await admin.get(f"/recordings/{r1}/download")
            assert file.content == audio and file.headers["content-disposition"] == f'attachment; filename="{r1}.ogg"'
            stored = next((tmp_path / "var" / "recording" / "store" / tenant).rglob(f"{r1}.ogg.hbr")).read_bytes()
            assert b"OggS" not in stored and audio[100:132] not in stored   # encrypted at rest

            # roles: the configuration administrator and other tenants see nothing; a viewer may not delete
            async with api.client("admin") as config_admin, api.client("recording-admin", tenant="other") as other:
                for client in (config_admin, other):
                    for method, url in (("GET", "/recordings"), ("GET", f"/recordings/{r1}/audio"),
                                        ("DELETE", f"/recordings/{r1}"), ("GET", "/recording-audit")):
                        answer = await client.request(method, url)
                        assert answer.status_code == 403 and answer.json()["error_id"] == "forbidden"
            assert (await viewer.delete(f"/recordings/{r1}")).status_code == 403
            assert (await viewer.get("/recording-audit")).status_code == 403

            # hostile input: a clear 4xx naming the field
            for params, field in (({"from": "yesterday"}, "from"), ({"limit": "0"}, "limit"),
                                  ({"from": "2026-01-01T00:00:00"}, "from"), ({"agent": "x" * 500}, "agent")):
                answer = await admin.get("/recordings", params=params)
                assert answer.status_code == 422 and answer.json()["details"]["field"] == field, answer.text
            assert (await admin.get("/recordings/..%2F..%2Fetc/audio")).status_code == 404
            for rid in ("not-a-uuid", "%27%20OR%201%3D1", str(uuid.uuid4())):
                answer = await admin.get(f"/recordings/{rid}/audio")
                assert answer.status_code in (404, 422) and answer.json()["details"]["field"] == "recording_id"
            assert victim.exists() and outside.exists()
            assert await ids() == [r2, r1]

            # key rotation: a recording after it is written with the new key, the old one still plays
            old_key = row_key = (await admin.post("/recording-keys/rotate")).json()
            assert len(row_key["key_ids"]) == 2
            r3, p3, _ = await record(tenant, now)
            await _until(lambda: _gone(p3))
            assert (await viewer.get(f"/recordings/{r3}/audio")).status_code == 200
            assert (await viewer.get(f"/recordings/{r1}/audio")).content == audio
            assert old_key["key_id"] in old_key["key_ids"]

            # delete: no audio, no row, one audit entry
            assert (await admin.delete(f"/recordings/{r2}")).status_code == 204
            assert (await admin.get(f"/recordings/{r2}")).status_code == 404
            assert not list((tmp_path / "var" / "recording" / "store" / tenant).rglob(f"{r2}.ogg.hbr"))
            trail = (await admin.get("/recording-audit")).json()["entries"]
        assert (tmp_path / "var" / "recording" / "chdb").exists() == (not index_url)   # the server held the index
        actions = [(e["action"], e["recording_id"], e["actor"]) for e in trail]
        assert actions.count(("delete", r2, "kato")) == 1
        assert ("delete", old, "retention") in actions
        assert ("play", r1, "sato") in actions and ("download", r1, "kato") in actions
        assert sum(1 for a in actions if a[0] == "search") >= 7
        assert all(e["remote"] == "127.0.0.1" for e in trail if e["actor"] != "retention")
        assert await _count(js, f"hibiki.{tenant}.recording.deleted") == 2
        assert await _count(js, f"hibiki.{tenant}.recording.accessed") >= len([a for a in actions if a[1] != old])
        print(f"audit entries: {len(trail)}; stored: {await _count(js, f'hibiki.{tenant}.recording.stored')}; "
              f"deleted: 2 (retention 1, admin 1); after-handling tenant deleted: 1")


async def _gone(*paths: Path) -> bool:
    return not any(p.exists() for p in paths)


async def _deleted(js: Any, tenant: str, handled_tenant: str) -> bool:
    return (await _count(js, f"hibiki.{tenant}.recording.deleted") == 1
            and await _count(js, f"hibiki.{handled_tenant}.recording.deleted") == 1)


async def _disposition(client: httpx.AsyncClient, rid: str) -> str:
    return str((await client.get(f"/recordings/{rid}")).json()["disposition"])
