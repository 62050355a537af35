"""A controller restart does not drop calls already bridged (issue 4, CC-11): the IVR hands the
call to the dialplan, the directory's dialplan bridges it to the desk, callcontrol stops and
starts again, and the conversation goes on until the caller hangs up."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from fsemu import FreeSwitchEmulator
from hibiki.callcontrol.app import main as callcontrol_main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.common.auth import TokenAuthority
from support.directory import directory_config, running_directory
from support.fsnode import emulator_node, vouching
from support.servers import free_port, running

DOMAIN = "toshima.example.jp"


async def test_bridged_calls_survive_a_controller_restart(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                          authority: TokenAuthority) -> None:
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    control = dataclasses.replace(CallControlConfig.from_env(env), port=free_port(), esl_port=free_port())
    config = directory_config(tmp_path, nats_server, callcontrol_address=f"127.0.0.1:{control.esl_port}")
    fs_port = free_port()
    control = dataclasses.replace(control, directory_grpc=f"127.0.0.1:{config.grpc_port}",
                                  freeswitch=emulator_node(fs_port))
    async with running_directory(config, nats_client, authority, "toshima") as directory, \
            FreeSwitchEmulator(port=fs_port) as emu:
        await directory.post("/api/v1/tenants", {"id": "toshima", "domain": DOMAIN})
        await directory.post("/api/v1/tenants/toshima/users", {"username": "soudan", "extension": "2300"})
        await directory.post("/api/v1/tenants/toshima/ivrs", {"id": "main", "name": "相談", "root_menu": "top", "menus": [
            {"id": "top", "greeting": {"sound": "ivr/top.wav"}, "choices": {"1": {"extension": "2300"}}}]})
        await directory.post("/api/v1/tenants/toshima/dids", {"number": "03-3981-1111", "target_kind": "ivr",
                                                              "target": "main"})

        async with running(callcontrol_main, control):
            await vouching(control.port)
            call = await emu.place_call(destination="0339811111", caller_id_number="09011112222", context="public",
                                        dialplan_url=directory.fsapi,
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
    assert ("transfer", "2300 XML public") in call.executed
    assert any(app == "bridge" and data == f"user/2300@{DOMAIN}" for app, data in call.executed)
    assert call.hangup_cause == "NORMAL_CLEARING"
