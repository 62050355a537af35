"""A controller restart does not drop calls already bridged (issue 4, CC-11): the IVR hands the
call to the dialplan, the directory's dialplan bridges it to the desk, callcontrol stops and
starts again, and the conversation goes on until the caller hangs up."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx

from fsemu import FreeSwitchEmulator
from hibiki.callcontrol.app import main as callcontrol_main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main as directory_main
from hibiki.directory.config import DirectoryConfig
from support.servers import free_port, running

DOMAIN = "toshima.example.jp"


async def test_bridged_calls_survive_a_controller_restart(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                          authority: TokenAuthority) -> None:
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    control = dataclasses.replace(CallControlConfig.from_env(env), port=free_port(), esl_port=free_port())
    directory = dataclasses.replace(DirectoryConfig.from_env(env), port=free_port(), grpc_port=free_port(),
                                    callcontrol_address=f"127.0.0.1:{control.esl_port}")
    control = dataclasses.replace(control, directory_grpc=f"127.0.0.1:{directory.grpc_port}")
    token = authority.issue(Claims("setup", "service"))
    applied = await nats_client.subscribe("hibiki.toshima.config.applied")
    await nats_client.flush()
    async with running(directory_main, directory), FreeSwitchEmulator() as emu, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{directory.port}/api/v1",
                              headers={"Authorization": f"Bearer {token}"}) as api:
        async def post(path: str, body: dict[str, Any]) -> None:
            reply = await api.post(path, json=body)
            assert reply.status_code == 201, reply.text
            await applied.next_msg(timeout=5)

        await post("/tenants", {"id": "toshima", "domain": DOMAIN})
        await post("/tenants/toshima/users", {"username": "soudan", "extension": "2300"})
        await post("/tenants/toshima/ivrs", {"id": "main", "name": "相談", "root_menu": "top", "menus": [
            {"id": "top", "greeting": {"sound": "ivr/top.wav"}, "choices": {"1": {"extension": "2300"}}}]})
        await post("/tenants/toshima/dids", {"number": "03-3981-1111", "target_kind": "ivr", "target": "main"})

        async with running(callcontrol_main, control):
            call = await emu.place_call(destination="0339811111", caller_id_number="09011112222", context="public",
                                        dialplan_url=f"http://127.0.0.1:{directory.port}/fsapi",
                                        answering_endpoints={f"user/2300@{DOMAIN}": "answer"})

            def press(event: Any) -> None:
                if (event.name == "CHANNEL_EXECUTE" and event.get("Unique-ID") == call.uuid
                        and event.get("Application") == "play_and_get_digits"):
                    call.send_dtmf("1")

            emu.switch.sinks.append(press)
            for _ in range(200):                      # until the desk has answered
                if call.channel.times.get("bridged"):
                    break
                await asyncio.sleep(0.05)
            assert call.channel.times.get("bridged"), call.executed
        # callcontrol is gone (stopped); start a new one on the same port
        await asyncio.sleep(0.3)
        assert not call.finished.done(), "the bridged call was dropped with the controller"
        async with running(callcontrol_main, control):
            await asyncio.sleep(0.3)
            assert not call.finished.done()
        call.hangup_by_caller()
        await asyncio.wait_for(call.finished, 10)
    await applied.unsubscribe()
    assert ("transfer", "2300 XML public") in call.executed
    assert any(app == "bridge" and data == f"user/2300@{DOMAIN}" for app, data in call.executed)
    assert call.hangup_cause == "NORMAL_CLEARING"
