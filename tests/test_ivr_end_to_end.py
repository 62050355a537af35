"""IVRs across services, nothing stubbed: an admin builds an IVR, a schedule and a number
through the directory's admin API; a caller dials the number (the emulator asks the
directory's /fsapi); the dialplan hands the call to callcontrol, which asks the directory for
the IVR over gRPC (GetIvr, schedule switches decided by the directory), walks it with the
caller's keys, and transfers the call to ``hibiki_route_*`` destinations the directory routes,
or queues it (QueueEntered on NATS). An edit applies to the next call."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fsemu import FreeSwitchEmulator
from fsemu.emulator import Call
from hibiki.callcontrol.app import main as callcontrol_main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.common.auth import TokenAuthority
from hibiki.events.v1 import call_pb2
from support.directory import Directory, directory_config, running_directory
from support.fsnode import emulator_node, vouching
from support.servers import free_port, running

DOMAIN = "zama.example.jp"
NUMBER = "0462521111"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = {"weekly": {d: [{"start": "00:00", "end": "24:00"}] for d in DAYS},
               "closed_on_public_holidays": False, "year_end": None}
ALWAYS_CLOSED = {"weekly": {}, "closed_on_public_holidays": False, "year_end": None}


def hotline(open_id: str, closed_id: str, group_id: str) -> dict[str, Any]:
    """Three levels; key 3 of the root branches on a schedule that is always open, key 4 on
    one that is always closed."""
    def switch(schedule_id: str) -> dict[str, Any]:
        return {"schedule": {"schedule_id": schedule_id, "branches": {"open": {"ring_group": group_id}},
                             "otherwise": {"message": {"prompt": {"sound": "ivr/ivr-not_available.wav"}}}}}
    return {
        "id": "hotline", "name": "代表", "root_menu": "main",
        "recording_notice": {"sound": "ivr/ivr-this_call_may_be_recorded.wav"},
        "menus": [
            {"id": "main", "name": "トップ", "greeting": {"sound": "ivr/ivr-welcome.wav"},
             "choices": {"1": {"menu": "services"}, "3": switch(open_id), "4": switch(closed_id)},
             "on_failure": {"voicemail": "2100"}},
            {"id": "services", "name": "手続き", "greeting": {"sound": "ivr/ivr-services.wav"},
             "choices": {"1": {"menu": "detail"}, "0": {"back": True}}},
            {"id": "detail", "name": "詳細", "greeting": {"sound": "ivr/ivr-detail.wav"},
             "choices": {"1": {"extension": "2100"}, "2": {"voicemail": "2100"},
                         "3": {"queue": {"queue_id": "water", "priority": 2, "skills": ["water"]}}}},
        ],
    }


class Caller:
    """Presses one scripted key per play_and_get_digits (None: no key)."""

    def __init__(self, emu: FreeSwitchEmulator, call: Call, script: list[str | None]) -> None:
        self.call, self.script, self.reads = call, script, 0
        emu.switch.sinks.append(self._event)

    def _event(self, event: Any) -> None:
        if (event.name == "CHANNEL_EXECUTE" and event.get("Unique-ID") == self.call.uuid
                and event.get("Application") == "play_and_get_digits"):
            self.reads += 1
            if self.reads <= len(self.script) and self.script[self.reads - 1]:
                self.call.send_dtmf(str(self.script[self.reads - 1]))


@dataclasses.dataclass
class City:
    directory: Directory
    emu: FreeSwitchEmulator

    async def change(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.directory.change(method, f"/api/v1{path}", body)

    async def dial(self, script: list[str | None], *, wait: bool = True) -> Call:
        call = await self.emu.place_call(destination=NUMBER, caller_id_number="09011112222", context="public",
                                         dialplan_url=self.directory.fsapi)
        Caller(self.emu, call, script)
        if wait:
            await asyncio.wait_for(call.finished, 20)
        return call


@contextlib.asynccontextmanager
async def city(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[City]:
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    control = dataclasses.replace(CallControlConfig.from_env(env), port=free_port(), esl_port=free_port())
    config = directory_config(tmp_path, nats_server, callcontrol_address=f"127.0.0.1:{control.esl_port}")
    fs_port = free_port()
    control = dataclasses.replace(control, directory_grpc=f"127.0.0.1:{config.grpc_port}",
                                  freeswitch=emulator_node(fs_port))
    async with running_directory(config, nats_client, authority, "zama") as directory, \
            FreeSwitchEmulator(port=fs_port) as emu, running(callcontrol_main, control):
        await vouching(control.port)
        yield City(directory, emu)


async def test_an_ivr_built_in_the_directory_runs_on_calls(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                           authority: TokenAuthority) -> None:
    queued = await nats_client.subscribe("hibiki.zama.call.queue_entered")
    await nats_client.flush()  # the server knows the subscription before we act
    async with city(tmp_path, nats_server, nats_client, authority) as c:
        await c.change("POST", "/tenants", {"id": "zama", "domain": DOMAIN})
        staff = await c.change("POST", "/tenants/zama/users", {"username": "madoguchi", "extension": "2100"})
        group = await c.change("POST", "/tenants/zama/ring_groups", {"name": "窓口", "members": [staff["id"]]})
        opened = await c.change("POST", "/tenants/zama/schedules", {"name": "常時", "definition": ALWAYS_OPEN})
        closed = await c.change("POST", "/tenants/zama/schedules", {"name": "休止", "definition": ALWAYS_CLOSED})
        await c.change("POST", "/tenants/zama/ivrs", hotline(opened["id"], closed["id"], group["id"]))
        await c.change("POST", "/tenants/zama/dids", {"number": "046-252-1111", "target_kind": "ivr",
                                                      "target": "hotline", "closed_kind": "voicemail",
                                                      "closed_target": staff["id"]})

        to_desk = await c.dial(["1", "1", "1"])
        to_voicemail = await c.dial(["1", "1", "2"])
        to_group = await c.dial(["3"])
        closed_now = await c.dial(["4"])
        to_queue = await c.dial(["1", "1", "3"], wait=False)
        event = call_pb2.QueueEntered.FromString((await queued.next_msg(timeout=10)).data)
        to_queue.hangup_by_caller()
        await asyncio.wait_for(to_queue.finished, 10)

        changed = hotline(opened["id"], closed["id"], group["id"])
        changed["menus"][0]["choices"]["1"] = {"extension": "2100"}
        await c.change("PUT", "/tenants/zama/ivrs/hotline", changed)
        after_edit = await c.dial(["1"])

    assert ("transfer", "2100 XML public") in to_desk.executed
    assert any(app == "bridge" and f"2100@{DOMAIN}" in data for app, data in to_desk.executed)
    assert to_desk.variables["hibiki_ivr_path"] == "main:1>services:1>detail:1"
    assert ("transfer", "hibiki_route_voicemail_2100 XML public") in to_voicemail.executed
    assert to_voicemail.executed[-1] == ("voicemail", f"default {DOMAIN} 2100")
    assert ("transfer", f"hibiki_route_ring_group_{group['id']} XML public") in to_group.executed
    assert any(app == "bridge" and f"2100@{DOMAIN}" in data for app, data in to_group.executed)
    assert ("playback", "ivr/ivr-not_available.wav") in closed_now.executed
    assert closed_now.executed[-1] == ("hangup", "NORMAL_CLEARING")
    assert [(s.menu_id, s.digits) for s in event.ivr_path] == [("main", "1"), ("services", "1"), ("detail", "3")]
    assert event.queue_id == "water" and event.meta.call_uuid == to_queue.uuid
    assert ("transfer", "2100 XML public") in after_edit.executed and after_edit.variables["hibiki_ivr_path"] == "main:1"
    for call in (to_desk, to_voicemail, to_group, closed_now, to_queue, after_edit):
        notice = call.executed.index(("playback", "ivr/ivr-this_call_may_be_recorded.wav"))
        # then recording starts (REC-02: the caller has heard the notice), then the first menu
        record = [app for app, _ in call.executed].index("record_session", notice)
        assert {app for app, _ in call.executed[notice + 1:record]} == {"set"}   # stereo, reason, path, id
        assert call.executed[record + 1][0] == "play_and_get_digits"
        path = call.executed[record][1]             # <spool>/<tenant>/<yyyy>/<mm>/<dd>/<recording id>.wav
        assert call.variables["RECORD_STEREO"] == "true"
        assert path == call.variables["hibiki_recording_path"]
        assert path.endswith(f"/zama/{time.strftime('%Y/%m/%d', time.gmtime())}/"
                             f"{call.variables['hibiki_recording_id']}.wav")
        assert call.variables["hibiki_recording_id"] != call.uuid
    await queued.unsubscribe()
