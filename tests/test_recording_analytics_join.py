"""Issue 13's "one row per recording in ClickHouse joined to the call record", across the two
services on one real ClickHouse server (Debian's 18.16, both databases' tables in ``hibiki``) and
a real NATS of the test's own: a queue call's events (as callcontrol and the ACD publish them) go
to analytics; the two caller/agent pairs of the call (agent a1, then the transfer target a2) are
recorded, stored by the recording service from the spool and indexed; analytics' call row takes
the recording id from ``hibiki.<tenant>.recording.stored`` (keyed by the agent's leg, resolved to
its call); and a SQL join of ``hibiki.recordings`` with ``hibiki.calls`` on (tenant, call_id) gives
each recording its call, with the ACD's disposition on both sides."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.analytics.app import main as analytics_main
from hibiki.analytics.config import AnalyticsConfig
from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.recording.app import main as recording_main
from hibiki.recording.config import RecordingConfig
from hibiki.recording.index.stores import open_index
from support.analytics import publish
from support.call_events import Call
from support.clickhouse_server import ClickHouseServer, binary
from support.recording import make_wav, publish_stopped, spool_path, stopped
from support.servers import NatsServer, free_port, running

pytestmark = [pytest.mark.slow, pytest.mark.clickhouse_server,
              pytest.mark.skipif(binary() is None, reason="Debian's clickhouse-server is not installed")]

JOIN = """SELECT recording_id, call_id, agent_id, call_recording, call_agent, disposition, result
FROM (SELECT tenant, call_id, recording_id, agent_id FROM hibiki.recordings FINAL WHERE tenant = %(t)s)
ALL INNER JOIN (SELECT tenant, call_id, recording_id AS call_recording, agent_id AS call_agent, disposition, result
                FROM hibiki.calls FINAL WHERE tenant = %(t)s) USING (tenant, call_id)
ORDER BY agent_id"""


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A NATS of this test's own (analytics' new durable consumer would read the session's backlog first)."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


async def _until(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_each_recording_joins_its_call_record(tmp_path: Path, nats_server: NatsServer, nats_client: Any,
                                                    authority: TokenAuthority) -> None:
    clickhouse = ClickHouseServer(tmp_path / "clickhouse")
    clickhouse.start()
    try:
        await _joined(tmp_path, nats_server, nats_client, authority, clickhouse.url)
    finally:
        clickhouse.kill()


async def _joined(tmp_path: Path, nats_server: NatsServer, nats_client: Any, authority: TokenAuthority,
                  url: str) -> None:
    tenant = f"kanazawa{uuid.uuid4().hex[:6]}"
    spool = tmp_path / "spool"
    analytics = dataclasses.replace(AnalyticsConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "analytics"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_ANALYTICS_CLICKHOUSE_URL": url}), port=free_port(), batch_wait=0.05)
    recording = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "recording"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(spool), "HIBIKI_RECORDING_INDEX_URL": url}), port=free_port())
    js = nats_client.jetstream()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    call = Call(tenant, start=start)
    call.started(destination="0762201111")
    call.queued(2, "suido")
    call.agent_answered(10, "suido", "a1", 8000)
    a1_leg = call.leg(end=60, b=True, answer=10, bridged=10, agent_id="a1", queue_id="suido")
    a2_leg = call.leg(end=120, b=True, start=61, answer=62, bridged=62, user="u-a2")
    call.leg(end=120, answer=1, caller_number="0312345678", destination_number="0762201111", did="0762201111")
    call.disposition(125, "a1", "開栓", "suido")
    async with running(analytics_main, analytics), running(recording_main, recording):
        await bus.ensure_events_stream(js)
        await publish(js, call.events)
        index = open_index(url)
        try:
            await index_ready(index)
            await _until(lambda: index.query("SELECT count() FROM hibiki.calls FINAL WHERE tenant = %(t)s "
                                             "AND call_id = %(c)s AND disposition != ''",
                                             {"t": tenant, "c": call.call_id})[0][0])
            # the two pairs' recordings land in the spool, as FreeSWITCH writes them when each agent's leg ends
            rids = {}
            for agent, leg, begin, seconds in (("a1", a1_leg, 10, 50.0), ("a2", a2_leg, 62, 58.0)):
                rid = str(uuid.uuid4())
                at = start + timedelta(seconds=begin)
                event = stopped(tenant, rid, make_wav(spool_path(spool, tenant, rid, at), seconds=2.0),
                                started=at, seconds=2.0, call_id=call.call_id, agent_id=agent, queue_id="suido",
                                caller_number="0312345678", did="0762201111")
                event.leg_uuid = event.meta.call_uuid = leg
                await publish_stopped(js, event)
                rids[agent] = rid
                # analytics' call row follows each recording as it is stored
                await _until(lambda: index.query("SELECT recording_id FROM hibiki.calls FINAL WHERE tenant = %(t)s "
                                                 "AND call_id = %(c)s", {"t": tenant, "c": call.call_id})
                             == [(rid,)])
            joined = await _until(lambda: (rows := index.query(JOIN, {"t": tenant})) and len(rows) == 2 and rows)
        finally:
            index.close()
        token = authority.issue(Claims("kato", "user", tenant, ("recording-viewer",)))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{recording.port}/api/v1/tenants/{tenant}",
                                     headers={"Authorization": f"Bearer {token}"}) as api:
            shown = {agent: (await api.get(f"/recordings/{rid}")).json() for agent, rid in rids.items()}
    print(f"\n  joined: {joined}")
    assert [(r[0], r[1], r[2]) for r in joined] == [(rids["a1"], call.call_id, "a1"), (rids["a2"], call.call_id, "a2")]
    for row in joined:       # the one call record: its agent (the ACD's), its disposition, its last recording
        assert (row[3], row[4], row[5], row[6]) == (rids["a2"], "a1", "開栓", "answered"), row
    assert {a: (s["call_id"], s["disposition"]) for a, s in shown.items()} == {
        "a1": (call.call_id, "開栓"), "a2": (call.call_id, "開栓")}


async def index_ready(index: Any) -> None:
    """Both services have migrated their tables on the shared server."""
    await _until(lambda: index.query("SELECT count() FROM system.tables WHERE database = 'hibiki' "
                                     "AND name IN ('calls', 'recordings')")[0][0] == 2)
