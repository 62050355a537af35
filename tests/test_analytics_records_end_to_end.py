"""Each kind of call made through the services and the emulator (directory, callcontrol, ACD,
real NATS, nothing stubbed) leaves in analytics' ClickHouse (chdb) exactly the call record a
person expects: DID -> IVR -> queue -> agent with wrap-up and disposition, abandoned in the
queue, an IVR test call, extension -> extension, voicemail, a refused premium number, out
through the carrier."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hibiki.analytics.app import main
from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.storage import Store, open_store
from hibiki.common.auth import TokenAuthority
from hibiki.acd.v1 import acd_pb2
from support.servers import NatsServer, free_port, running
from test_acd_end_to_end import DOMAIN, NUMBER, Center, center, seat
from test_call_records_end_to_end import user_call
from tools import ivr_test

COLUMNS = ("direction", "caller_number", "callee_number", "did", "agent_id", "result", "queues", "ivr_path",
           "disposition", "test_mode", "legs")


@dataclasses.dataclass
class Records:
    center: Center
    store: Store
    users: dict[str, str]

    async def of(self, call_id: str, *, until: str = "", timeout: float = 20.0) -> dict[str, Any]:
        """The call's row once analytics has it (and, with ``until``, once that column is set)."""
        names = ", ".join(COLUMNS + ("answer_time", "start_time", "end_time", "wait_ms", "talk_ms", "acw_ms"))
        deadline = time.monotonic() + timeout
        row: dict[str, Any] = {}
        while time.monotonic() < deadline:
            rows = await asyncio.to_thread(self.store.query, f"SELECT {names} FROM hibiki.calls FINAL "
                                           "WHERE tenant = %(t)s AND call_id = %(c)s",
                                           {"t": self.center.tenant, "c": call_id})
            if rows:
                row = dict(zip([n.strip() for n in names.split(",")], rows[0], strict=True))
                if not until or row[until]:
                    return row
            await asyncio.sleep(0.1)
        raise AssertionError(f"no record of {call_id} with {until or 'anything'} in {timeout} s: {row}")


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A NATS of this test's own: on the session's, the new durable consumer reads every earlier
    test's events before this test's (20 s were not enough in a full run)."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def records(tmp_path: Path, nats_server: Any, nats_client: Any,
                  authority: TokenAuthority) -> AsyncIterator[Records]:
    queues = [{"id": "night"}, {"id": "water", "skills": {"water": 1}}]
    config = dataclasses.replace(
        AnalyticsConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path / "analytics"), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), batch_wait=0.05)
    async with center(tmp_path, nats_server, nats_client, authority, queues) as c, running(main, config):
        admin = c.admin
        assert admin is not None
        await admin.post(f"/api/v1/tenants/{c.tenant}/gateways", {"name": "carrier1", "proxy": "192.0.2.9",
                                                                  "register": False})
        await admin.patch(f"/api/v1/tenants/{c.tenant}", {"outbound_gateway": "carrier1",
                                                          "representative_number": "0762205555"})
        listed = (await admin.api.get(f"/api/v1/tenants/{c.tenant}/users")).json()
        users = {u["extension"]: u["id"] for u in (listed["items"] if isinstance(listed, dict) else listed)}
        store = open_store(config.clickhouse_url)      # the same chdb as the service's, in this process
        try:
            yield Records(c, store, users)
        finally:
            store.close()


def pick(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in COLUMNS)


async def test_a_queued_call_answered_wrapped_up_and_disposed(records: Records) -> None:
    c = records.center
    c.endpoints[seat("a1")] = 0.5
    await c.login("a1")
    call = await c.dial(["1", "1", "3"])
    await asyncio.wait_for(call.finished, 15)
    row = await records.of(call.uuid)
    assert pick(row) == ("inbound", "09011112222", NUMBER, NUMBER, "a1", "answered", ["water"],
                         ["main:1", "services:1", "detail:3"], "", 0, 2)
    assert row["start_time"] <= row["answer_time"] <= row["end_time"]
    assert 0 < row["wait_ms"] < 5_000 and 300 <= row["talk_ms"] <= 2_000
    await asyncio.sleep(0.3)                            # after-call work
    await c.acd.SaveDisposition(acd_pb2.SaveDispositionRequest(
        tenant=c.tenant, agent_id="a1", call_uuid=call.uuid, case_type="開栓"), metadata=c.metadata)
    row = await records.of(call.uuid, until="acw_ms")  # the late events rewrite the row
    assert row["disposition"] == "開栓" and row["acw_ms"] >= 300
    states = records.store.query("SELECT state FROM hibiki.agent_states FINAL WHERE tenant = %(t)s "
                                 "AND agent_id = 'a1' ORDER BY start_time", {"t": c.tenant})
    assert ("talking",) in states and ("after_call_work",) in states


async def test_abandoned_in_queue_and_an_ivr_test_call(records: Records) -> None:
    c = records.center
    call = await c.dial(["1", "1", "3"])
    await c.bus.wait("queued", lambda m: m.meta.call_uuid == call.uuid)
    await asyncio.sleep(0.3)
    call.hangup_by_caller()
    row = await records.of(call.uuid)
    assert (row["result"], row["queues"], row["answer_time"], row["test_mode"]) == (
        "abandoned_queue", ["water"], None, 0)
    assert 200 <= row["wait_ms"] < 5_000
    path = {"keys": ["1", "1", "3"], "at": "2026-11-24T10:00:00+09:00", "end": "queue:water"}
    started = time.time()
    await ivr_test.run_path(c.emu, path, c.tenant, "suido", f"127.0.0.1:{c.callcontrol.esl_port}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tests = records.store.query("SELECT count() FROM hibiki.calls FINAL WHERE tenant = %(t)s AND test_mode = 1 "
                                    "AND end_time >= %(s)s", {"t": c.tenant, "s": started - 5})
        if tests[0][0]:
            break
        await asyncio.sleep(0.1)
    assert tests == [(1,)]


async def test_extension_voicemail_refused_and_outbound_calls(records: Records) -> None:
    c, users = records.center, records.users
    internal = await user_call(c, users, "2201", "2202", **{f"user/2202@{DOMAIN}": 0.3})
    voicemail = await user_call(c, users, "2201", "2100", **{f"user/2100@{DOMAIN}": "USER_BUSY"})
    premium = await user_call(c, users, "2201", "0990123456")
    out = await user_call(c, users, "2201", "0312345678", **{"sofia/gateway/carrier1/0312345678": 0.3})
    expected = {
        internal: ("internal", "2201", "2202", "", "", "answered", [], [], "", 0, 2),
        voicemail: ("internal", "2201", "2100", "", "", "voicemail", [], [], "", 0, 1),
        premium: ("outbound", "2201", "0990123456", "", "", "refused", [], [], "", 0, 1),
        out: ("outbound", "2201", "0312345678", "", "", "answered", [], [], "", 0, 2),
    }
    for call, want in expected.items():
        assert pick(await records.of(call.uuid)) == want, call.destination
    row = await records.of(out.uuid)
    assert row["answer_time"] is not None and 200 <= row["talk_ms"] <= 2_000


