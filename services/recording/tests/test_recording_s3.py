"""The audio store interface against both stores: the local filesystem and a real S3-compatible
server (moto's server mode, from PyPI ``moto[server]``, started here as a process on a loopback
port); then the whole pipeline storing into S3 (the production setting)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from hibiki.recording.storage.blobs import BlobStore, LocalBlobs, S3Blobs, StoreUnavailable, open_blobs
from support.servers import free_port as _port
from support.recording import MotoServer, make_wav, publish_stopped, spool_path, stopped
from support.servers import free_port, running


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    mp = pytest.MonkeyPatch()
    for name, value in (("AWS_ACCESS_KEY_ID", "hibiki"), ("AWS_SECRET_ACCESS_KEY", "hibiki-secret"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        mp.setenv(name, value)
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    boto3.client("s3", endpoint_url=server.endpoint).create_bucket(Bucket="recordings")
    yield server.endpoint
    server.stop()
    mp.undo()


def _stores(tmp_path: Path, endpoint: str) -> list[BlobStore]:
    return [LocalBlobs(tmp_path / "blobs"),
            open_blobs(f"s3://recordings/{uuid.uuid4().hex}?endpoint={endpoint}", tmp_path)]


def test_store_contract_on_the_filesystem_and_s3(tmp_path: Path, s3: str) -> None:
    for store in _stores(tmp_path, s3):
        assert store.get("zama/2026/12/07/a.ogg.hbr") is None
        store.put("zama/2026/12/07/a.ogg.hbr", b"one")
        store.put("zama/2026/12/07/a.ogg.hbr", b"two")          # the same key again: replaced, not a copy
        store.put("toshima/2026/12/07/b.ogg.hbr", b"\x00" * 70_000)
        assert store.get("zama/2026/12/07/a.ogg.hbr") == b"two"
        assert store.keys("zama") == ["zama/2026/12/07/a.ogg.hbr"]
        assert len(store.keys("")) == 2
        store.delete("zama/2026/12/07/a.ogg.hbr")
        store.delete("zama/2026/12/07/a.ogg.hbr")               # already gone: no error
        assert store.get("zama/2026/12/07/a.ogg.hbr") is None and store.keys("zama") == []
        for bad in ("../x", "/abs", "a//b", "a/./b", ""):
            with pytest.raises(ValueError):
                store.put(bad, b"x")
        assert isinstance(store, (LocalBlobs, S3Blobs))


def test_a_store_that_does_not_answer_is_unavailable_not_empty(tmp_path: Path, s3: str) -> None:
    """A dead S3 endpoint or a broken disk is an error the caller retries (503, a redelivered event),
    never "no such recording"."""
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    for store in (open_blobs(f"s3://recordings/x?endpoint=http://127.0.0.1:{_port()}", tmp_path),
                  LocalBlobs(blocked)):
        for call in (lambda: store.get("zama/a.ogg.hbr"), lambda: store.put("zama/a.ogg.hbr", b"x")):
            with pytest.raises(StoreUnavailable):
                call()


@pytest.mark.slow
async def test_pipeline_stores_into_s3(tmp_path: Path, s3: str, nats_server: Any, nats_client: Any,
                                       authority: TokenAuthority) -> None:
    tenant, prefix = f"kanazawa{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    spool = tmp_path / "spool"
    config = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "var"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(spool), "HIBIKI_RECORDING_CONSUMER": f"rec-{tenant}",
        "HIBIKI_RECORDING_STORE_URL": f"s3://recordings/{prefix}?endpoint={s3}"}), port=free_port())
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    async with running(main, config):
        rids = []
        for _ in range(3):
            rid = str(uuid.uuid4())
            event = stopped(tenant, rid, Path("/"))
            event.spool_path = str(make_wav(spool_path(spool, tenant, rid, event.started_at.ToDatetime())))
            await publish_stopped(js, event)
            rids.append(rid)
        for _ in range(300):
            if not any((spool / tenant).rglob("*.wav")):
                break
            await asyncio.sleep(0.2)
        token = authority.issue(Claims("kato", "user", tenant, ("recording-admin",)))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{config.port}/api/v1/tenants/{tenant}",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            found = (await client.get("/recordings")).json()["recordings"]
            audio = [(await client.get(f"/recordings/{rid}/audio")).content for rid in rids]
    objects = boto3.client("s3", endpoint_url=s3).list_objects_v2(Bucket="recordings", Prefix=f"{prefix}/{tenant}/")
    keys = sorted(o["Key"].rsplit("/", 1)[1] for o in objects.get("Contents", []))
    print(f"S3 (moto server): {len(keys)} objects for {len(rids)} recordings")
    assert keys == sorted(f"{rid}.ogg.hbr" for rid in rids)
    assert sorted(r["recording_id"] for r in found) == sorted(rids)
    assert all(a.startswith(b"OggS") for a in audio)
    assert not (tmp_path / "var" / "recording" / "store" / tenant).exists()
