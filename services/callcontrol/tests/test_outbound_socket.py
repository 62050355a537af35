"""The call controller with the FreeSWITCH emulator: a call handed over with
``socket ... async full`` is recorded on NATS and handed back to the fallback route."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import uuid
from pathlib import Path
from typing import Any

import httpx

from fsemu import FreeSwitchEmulator
from hibiki.callcontrol.app import main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.callcontrol.esl.model import NodeAddress
from hibiki.callcontrol.esl.nodes import FsNodeSettings
from hibiki.events.v1 import call_pb2
from support.servers import free_port, running


def config_for(tmp_path: Path, nats_url: str, **overrides: Any) -> CallControlConfig:
    config = CallControlConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_url})
    return dataclasses.replace(config, port=free_port(), esl_port=free_port(), **overrides)


def dialplan(esl_port: int) -> str:
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="ivr"><condition field="destination_number" expression="^(7100)$">
  <action application="set" data="hibiki_tenant=zama"/>
  <action application="socket" data="127.0.0.1:{esl_port} async full"/>
  <action application="answer"/>
  <action application="playback" data="ivr/ivr-all_circuits_busy.wav"/>
  <action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>
</condition></extension></context></section></document>"""


async def until_ready(port: int) -> None:
    """callcontrol's node is connected: it can vouch for calls."""
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            reply = await client.get(f"http://127.0.0.1:{port}/readyz")
            if reply.status_code == 200:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"not ready: {reply.text}")


FALLBACK = [("answer", ""), ("playback", "ivr/ivr-all_circuits_busy.wav"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]


async def test_call_is_published_and_handed_back_to_the_fallback(tmp_path: Path, nats_server: Any,
                                                                  nats_client: Any, authority: Any) -> None:
    started = await nats_client.subscribe("hibiki.zama.call.started")
    await nats_client.flush()  # the server knows the subscription before we act
    async with FreeSwitchEmulator() as emu:
        config = config_for(tmp_path, nats_server.url,
                            freeswitch=FsNodeSettings((NodeAddress("fs", "127.0.0.1", emu.esl_port),)))
        async with running(main, config):
            await until_ready(config.port)
            call = await emu.place_call(destination="7100", caller_id_number="0462521111", dialplan_xml=dialplan(config.esl_port))
            await asyncio.wait_for(call.finished, 10)
            msg = await started.next_msg(timeout=5)
            event = call_pb2.CallStarted.FromString(msg.data)
            assert event.meta.tenant == "zama" and event.meta.call_uuid == call.uuid
            assert event.meta.id and event.meta.source.startswith("callcontrol@")
            assert event.destination_number == "7100" and event.caller_number == "0462521111"
            assert event.direction == call_pb2.CALL_DIRECTION_INBOUND
            assert call.executed[0] == ("set", "hibiki_tenant=zama")
            assert call.executed[1][0] == "socket"
            assert call.executed[2:] == FALLBACK           # nobody left in silence
            assert call.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"http://127.0.0.1:{config.port}/healthz")).status_code == 200
                assert (await client.get(f"http://127.0.0.1:{config.port}/metrics")).status_code == 401


async def test_dead_controller_still_leaves_the_caller_on_the_fallback(tmp_path: Path) -> None:
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(destination="7100", dialplan_xml=dialplan(free_port()))
        await asyncio.wait_for(call.finished, 10)
        assert call.executed[2:] == FALLBACK


async def test_connections_from_outside_the_allow_list_are_refused(tmp_path: Path, nats_server: Any,
                                                                   nats_client: Any, authority: Any) -> None:
    config = config_for(tmp_path, nats_server.url, esl_allow=(ipaddress.ip_network("192.0.2.0/24"),))
    tenant = f"t{uuid.uuid4().hex[:8]}"
    started = await nats_client.subscribe(f"hibiki.{tenant}.call.started")
    await nats_client.flush()  # the server knows the subscription before we act
    async with running(main, config), FreeSwitchEmulator() as emu:
        call = await emu.place_call(destination="7100", dialplan_xml=dialplan(config.esl_port).replace("zama", tenant))
        await asyncio.wait_for(call.finished, 10)
        assert call.executed[2:] == FALLBACK
        await nats_client.flush()
        assert started.pending_msgs == 0


async def test_without_a_node_callcontrol_is_not_ready_and_trusts_no_session(tmp_path: Path, nats_server: Any,
                                                                            nats_client: Any, authority: Any) -> None:
    """Issue 11, defect 10: with no FreeSWITCH node configured /readyz said FreeSWITCH was ready.
    Nothing can vouch for a call then (esl.trust): not ready, and a call is handed to the fallback."""
    config = config_for(tmp_path, nats_server.url)
    started = await nats_client.subscribe("hibiki.zama.call.started")
    await nats_client.flush()
    async with running(main, config), FreeSwitchEmulator() as emu:
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{config.port}/readyz")
            alive = await client.get(f"http://127.0.0.1:{config.port}/healthz")
        call = await emu.place_call(destination="7100", dialplan_xml=dialplan(config.esl_port))
        await asyncio.wait_for(call.finished, 10)
        await nats_client.flush()
    assert ready.status_code == 503 and ready.json()["checks"] == {"nats": True, "freeswitch": False,
                                                                   "event_socket": True, "accepting_calls": True}
    assert alive.status_code == 200
    assert call.executed[2:] == FALLBACK and started.pending_msgs == 0
