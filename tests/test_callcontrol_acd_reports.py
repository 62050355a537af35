"""callcontrol's reports to the ACD from a call's greenlet (``queue.services.AcdLine``), against a
real ACD service over gRPC, through the real hand-off (``LoopBridge``) from a gevent hub thread.

On the real switch ~every answered queue call logged ``acd_report_failed`` (EndCall NOT_FOUND
"no call <uuid>"): the ACD's ``call.ended`` safety net (the channel's hang-up on NATS) had
often ended the call first. The call did end: an info line, not a warning (issue 11)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.acd.app import main as acd_main
from hibiki.acd.config import AcdConfig
from hibiki.callcontrol.esl.hub import GeventThread
from hibiki.callcontrol.ivr.bridge import LoopBridge
from hibiki.callcontrol.ivr.instructions import PromptRef
from hibiki.callcontrol.ivr.source import ServiceToken
from hibiki.callcontrol.queue.client import AcdClient
from hibiki.callcontrol.queue.router import AcdDecisions
from hibiki.callcontrol.queue.services import AcdLine, QueueServices
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.logging import call_context, configure
from support.servers import free_port, running


async def _no_prompts(tenant: str, ref: PromptRef) -> str:
    raise AssertionError("no prompt is played here")


def _lines(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = []
    for line in capfd.readouterr().err.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


async def test_an_end_the_acd_applied_first_is_an_info_line_and_a_lost_acd_a_warning(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
        capfd: pytest.CaptureFixture[str]) -> None:
    configure("callcontrol")     # JSON lines on stderr (whatever an earlier test configured), which capfd reads
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    acd = dataclasses.replace(AcdConfig.from_env(env), port=free_port(), grpc_port=free_port())
    tenant, ended, other = f"t{uuid.uuid4().hex[:10]}", str(uuid.uuid4()), str(uuid.uuid4())
    loop = asyncio.get_running_loop()
    hub = GeventThread("test-hub")
    quit_hub: Any = None

    def hub_main() -> None:
        nonlocal quit_hub
        from gevent.event import Event

        quit_hub = Event()
        quit_hub.wait()

    hub.start(hub_main)

    def line_of(client: AcdClient, call_uuid: str) -> AcdLine:
        services = QueueServices(acd=client, decisions=AcdDecisions(nats_client), bridge=LoopBridge(loop),
                                 resolve=_no_prompts, acd_timeout=2.0)
        line = AcdLine(services, tenant, call_uuid)
        line.queue_id = "water"
        return line

    def end_on_hub(line: AcdLine) -> Any:
        def end() -> None:
            with call_context(tenant, line.call_uuid):
                line.end()
        return asyncio.wrap_future(hub.call(end))

    try:
        async with running(acd_main, acd):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{acd.port}/api/v1/tenants/{tenant}", headers={
                    "Authorization": f"Bearer {authority.issue(Claims('setup', 'service'))}"}) as admin:
                reply = await admin.put("/queues/water", json={"id": "water"})    # the ACD now serves the tenant
                assert reply.status_code in (200, 201), reply.text
            client = AcdClient(f"127.0.0.1:{acd.grpc_port}", ServiceToken(authority))
            await client.start()
            try:
                capfd.readouterr()
                await end_on_hub(line_of(client, ended))   # the ACD has no such call (any more): NOT_FOUND
                lines = [entry for entry in _lines(capfd) if entry.get("call_uuid") == ended]
            finally:
                await client.stop()
        assert [entry["event"] for entry in lines] == ["acd_call_already_ended"], lines
        assert lines[0]["level"] == "info" and lines[0]["tenant"] == tenant and lines[0]["queue_id"] == "water"
        assert "NOT_FOUND" in lines[0]["detail"]

        gone = AcdClient(f"127.0.0.1:{acd.grpc_port}", ServiceToken(authority), timeout=0.5)   # the ACD is stopped
        await gone.start()
        try:
            await end_on_hub(line_of(gone, other))
            lines = [entry for entry in _lines(capfd) if entry.get("call_uuid") == other]
        finally:
            await gone.stop()
        assert [(entry["event"], entry["level"]) for entry in lines] == [("acd_report_failed", "warning")]
        assert lines[0]["request"] == "EndCall" and lines[0]["tenant"] == tenant
    finally:
        if quit_hub is not None:
            hub.spawn(quit_hub.set)
        hub.join(5)
