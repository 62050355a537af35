"""Across services: a caller dials a city's IVR number; the directory routes it to the call
controller with `socket ... async full`; callcontrol records the call on NATS and (with no IVR
to run yet) hands it back; the caller lands on the number's fallback route, not in silence."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from fsemu import FreeSwitchEmulator
from hibiki.callcontrol.app import main as callcontrol_main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.common.auth import TokenAuthority
from hibiki.events.v1 import call_pb2
from support.directory import directory_config, running_directory
from support.fsnode import emulator_node, vouching
from support.servers import free_port, running

DOMAIN = "zama.example.jp"


async def test_ivr_number_through_directory_and_callcontrol(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                            authority: TokenAuthority) -> None:
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    fs_port = free_port()
    control = dataclasses.replace(CallControlConfig.from_env(env), port=free_port(), esl_port=free_port(),
                                  freeswitch=emulator_node(fs_port))
    config = directory_config(tmp_path, nats_server, callcontrol_address=f"127.0.0.1:{control.esl_port}")
    started = await nats_client.subscribe("hibiki.zama.call.started")
    await nats_client.flush()  # the server knows the subscription before we act
    async with running(callcontrol_main, control), \
            running_directory(config, nats_client, authority, tenant="zama") as directory:
        await directory.post("/api/v1/tenants", {"id": "zama", "domain": DOMAIN})
        staff = await directory.post("/api/v1/tenants/zama/users", {"username": "madoguchi", "extension": "2100"})
        await directory.post("/api/v1/tenants/zama/ivrs", {
            "id": "mynumber-hotline", "name": "マイナンバー", "root_menu": "top",
            "menus": [{"id": "top", "greeting": {"text": "マイナンバーのお問い合わせです。"},
                       "choices": {"1": {"extension": "2100"}}}]})
        await directory.post("/api/v1/tenants/zama/dids", {
            "number": "046-252-1111", "target_kind": "ivr", "target": "mynumber-hotline",
            "closed_kind": "voicemail", "closed_target": staff["id"]})
        async with FreeSwitchEmulator(port=fs_port) as emu:
            await vouching(control.port)
            call = await emu.place_call(destination="0462521111", caller_id_number="09011112222", context="public",
                                        dialplan_url=directory.fsapi)
            await asyncio.wait_for(call.finished, 10)
    event = call_pb2.CallStarted.FromString((await started.next_msg(timeout=5)).data)
    assert event.meta.tenant == "zama" and event.meta.call_uuid == call.uuid
    assert event.caller_number == "09011112222" and event.destination_number == "0462521111"
    assert ("socket", f"127.0.0.1:{control.esl_port} async full") in call.executed
    assert call.executed[-1] == ("voicemail", f"default {DOMAIN} 2100")
    await started.unsubscribe()
