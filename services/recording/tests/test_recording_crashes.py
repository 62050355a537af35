"""No recording lost, none stored twice: the service (a real process) is killed after each step
of the pipeline, started again, and what is in the spool, the store, the index and the stream is
counted."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.recording.config import STEPS
from support.recording import ServiceProcess, make_wav, publish_stopped, spool_path, stopped

pytestmark = pytest.mark.slow


async def _count(js: Any, subject: str) -> int:
    info = await js.stream_info("HIBIKI_EVENTS", subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def _wait(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_killed_after_every_step_loses_nothing_and_stores_once(tmp_path: Path, nats_server: Any,
                                                                     authority: TokenAuthority) -> None:
    tenant = f"crash{uuid.uuid4().hex[:8]}"
    data, spool = tmp_path / "var", tmp_path / "spool"
    env = {"HIBIKI_DATA_DIR": str(data), "HIBIKI_NATS_URL": nats_server.url, "HIBIKI_RECORDING_SPOOL_DIR": str(spool),
           "HIBIKI_RECORDING_CONSUMER": f"rec-{tenant}", "HIBIKI_RECORDING_ACK_WAIT": "2",
           "HIBIKI_RECORDING_RETENTION_INTERVAL": "3600"}
    service = ServiceProcess(env, tmp_path / "recording.log")
    token = authority.issue(Claims("tests", "service"))
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await bus.ensure_events_stream(js)
    ids: dict[str, str] = {}
    try:
        for step in STEPS:
            rid = str(uuid.uuid4())
            ids[step] = rid
            event = stopped(tenant, rid, Path("/"))
            path = make_wav(spool_path(spool, tenant, rid, event.started_at.ToDatetime()), seconds=1.5)
            event.spool_path = str(path)
            service.start(HIBIKI_RECORDING_KILL_AFTER=step)
            await publish_stopped(js, event)
            code = await asyncio.to_thread(service.wait_exit, 90)
            assert code == -9, f"killed after {step}: exit {code}"
            assert path.exists() or step == "spool-removed", f"spool file gone after a kill at {step}"
            service.start()
            await asyncio.to_thread(service.wait_ready)
            await _wait(lambda: not path.exists())
            service.stop()
        service.start()
        await asyncio.to_thread(service.wait_ready)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            found = (await client.get(f"/api/v1/tenants/{tenant}/recordings", params={"limit": 100})).json()["recordings"]
            rows = sorted(r["recording_id"] for r in found)
            played = {rid: (await client.get(f"/api/v1/tenants/{tenant}/recordings/{rid}/audio")) for rid in ids.values()}
    finally:
        service.stop()
    objects = sorted(p.name for p in (data / "recording" / "store" / tenant).rglob("*.hbr"))
    stored_events = await _count(js, f"hibiki.{tenant}.recording.stored")
    await nc.drain()
    leftovers = [p for p in (spool / tenant).rglob("*") if p.is_file()]
    work = [p for p in (data / "recording" / "work").rglob("*") if p.is_file()]
    print(f"kills: {len(STEPS)} (after {', '.join(STEPS)}); recordings: {len(ids)}; rows: {len(rows)}; "
          f"objects: {len(objects)}; RecordingStored: {stored_events}; spool left: {len(leftovers)}; work left: {len(work)}")
    assert rows == sorted(ids.values())
    assert objects == sorted(f"{rid}.ogg.hbr" for rid in ids.values())
    assert stored_events == len(STEPS)
    assert leftovers == [] and work == []
    for rid, answer in played.items():
        assert answer.status_code == 200 and answer.content.startswith(b"OggS"), rid
