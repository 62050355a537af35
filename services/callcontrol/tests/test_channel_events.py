"""callcontrol with an inbound event socket to a FreeSWITCH node (the emulator): calls of a tenant
answered and ended anywhere on the switch are published on NATS, once, with their times."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx

from fsemu import FreeSwitchEmulator
from fsemu.events import CoreInfo
from hibiki.callcontrol.app import main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.callcontrol.esl.model import NodeAddress
from hibiki.callcontrol.esl.nodes import FsNodeSettings
from hibiki.events.v1 import call_pb2
from support.servers import free_port, running


def answered_then_hangup(tenant: str | None) -> str:
    tag = f'<action application="set" data="hibiki_tenant={tenant}"/>' if tenant else ""
    return ('<document type="freeswitch/xml"><section name="dialplan"><context name="default">'
            '<extension name="x"><condition field="destination_number" expression="^(2001)$">'
            f'{tag}<action application="set" data="hibiki_callee=u-2001"/><action application="answer"/>'
            '<action application="sleep" data="50"/><action application="hangup" data="NORMAL_CLEARING"/>'
            '</condition></extension></context></section></document>')


async def test_answered_and_ended_calls_of_a_tenant_are_published(tmp_path: Path, nats_server: Any,
                                                                  nats_client: Any) -> None:
    answered = await nats_client.subscribe("hibiki.zama.call.answered")
    ended = await nats_client.subscribe("hibiki.zama.call.ended")
    anything = await nats_client.subscribe("hibiki.*.call.*")
    await nats_client.flush()
    async with FreeSwitchEmulator(core=CoreInfo(hostname="fs-a", switchname="fs-a")) as emu:
        config = dataclasses.replace(
            CallControlConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
            port=free_port(), esl_port=free_port(),
            freeswitch=FsNodeSettings((NodeAddress("fs-a", "127.0.0.1", emu.esl_port),)))
        async with running(main, config):
            async with httpx.AsyncClient() as client:     # ready once the node is connected
                for _ in range(100):
                    reply = await client.get(f"http://127.0.0.1:{config.port}/readyz")
                    if reply.status_code == 200 and reply.json()["checks"].get("freeswitch"):
                        break
                    await asyncio.sleep(0.05)
                assert reply.json()["checks"] == {"nats": True, "freeswitch": True, "event_socket": True,
                                                  "accepting_calls": True}
            foreign = await emu.place_call(destination="2001", dialplan_xml=answered_then_hangup(None))
            call = await emu.place_call(destination="2001", dialplan_xml=answered_then_hangup("zama"))
            await asyncio.wait_for(asyncio.gather(foreign.finished, call.finished), 10)
            up = call_pb2.CallAnswered.FromString((await answered.next_msg(timeout=5)).data)
            down = call_pb2.CallEnded.FromString((await ended.next_msg(timeout=5)).data)
    assert (up.meta.call_uuid, up.meta.tenant, up.answered_by, up.meta.node) == (call.uuid, "zama", "u-2001", "fs-a")
    assert down.meta.call_uuid == call.uuid and down.hangup_cause == "NORMAL_CLEARING"
    assert down.started_at.ToMicroseconds() <= down.answered_at.ToMicroseconds() <= down.ended_at.ToMicroseconds()
    assert down.answered_at.ToMicroseconds() > 0
    await asyncio.sleep(0.2)
    seen = []
    while True:
        try:
            seen.append((await anything.next_msg(timeout=0.2)).subject)
        except Exception:
            break
    assert sorted(seen) == ["hibiki.zama.call.answered", "hibiki.zama.call.ended"]   # nothing for the foreign call
    for sub in (answered, ended, anything):
        await sub.unsubscribe()
