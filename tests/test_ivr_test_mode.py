"""The IVR test mode (tools/ivr_test.py, `./dev ivr-test`): every branch the directory lists is run
as a call against the real directory and callcontrol at the moment that leads there: a weekday,
a public holiday, New Year and the busy season, and each ends where the directory said."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hibiki.callcontrol.app import main as callcontrol_main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.common.auth import TokenAuthority
from support.directory import directory_config, running_directory
from support.fsnode import emulator_node
from support.servers import free_port, running
from tools import ivr_test

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
KANAZAWA = {"weekly": {d: [{"start": "08:45", "end": "18:00"}] for d in WEEKDAYS},
            "seasons": [{"name": "busy", "start": "03-01", "end": "04-30",
                         "weekly": {d: [{"start": "08:00", "end": "19:00"}] for d in WEEKDAYS}}]}


def water_bureau(schedule_id: str, group_id: str) -> dict[str, Any]:
    fast = {"timeout_seconds": 1, "max_tries": 1}
    return {
        "id": "water", "name": "上下水道局", "root_menu": "top",
        "recording_notice": {"sound": "ivr/ivr-this_call_may_be_recorded.wav"},
        "menus": [
            {"id": "top", "name": "トップ", "greeting": {"sound": "ivr/top.wav"}, **fast,
             "choices": {"1": {"menu": "move"},
                         "2": {"schedule": {"schedule_id": schedule_id,
                                            "branches": {"open": {"ring_group": group_id},
                                                         "season:busy": {"queue": {"queue_id": "busy-season"}},
                                                         "holiday": {"message": {"prompt": {"sound": "ivr/holiday.wav"}}},
                                                         "new_year": {"voicemail": "3001"}},
                                            "otherwise": {"message": {"prompt": {"sound": "ivr/closed.wav"}}}}}},
             "on_failure": {"extension": "3001"}},
            {"id": "move", "name": "引越し", "greeting": {"sound": "ivr/move.wav"}, **fast,
             "choices": {"1": {"menu": "start"}, "9": {"back": True}}},
            {"id": "start", "name": "使用開始", "greeting": {"sound": "ivr/start.wav"}, **fast,
             "choices": {"1": {"queue": {"queue_id": "water", "priority": 1}}, "2": {"external": "0762201234"}}},
        ],
    }


async def test_every_branch_ends_where_the_directory_says(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                          authority: TokenAuthority) -> None:
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    control = dataclasses.replace(CallControlConfig.from_env(env), port=free_port(), esl_port=free_port())
    config = directory_config(tmp_path, nats_server)
    node_port = free_port()       # the tool's emulator is one of callcontrol's nodes
    control = dataclasses.replace(control, directory_grpc=f"127.0.0.1:{config.grpc_port}",
                                  freeswitch=emulator_node(node_port, "ivr-test"))
    async with running_directory(config, nats_client, authority, "kanazawa") as directory, \
            running(callcontrol_main, control):
        await directory.post("/api/v1/tenants", {"id": "kanazawa", "domain": "kanazawa.example.jp"})
        desk = await directory.post("/api/v1/tenants/kanazawa/users", {"username": "madoguchi", "extension": "3001"})
        group = await directory.post("/api/v1/tenants/kanazawa/ring_groups", {"name": "料金", "members": [desk["id"]]})
        hours = await directory.post("/api/v1/tenants/kanazawa/schedules", {"name": "窓口", "definition": KANAZAWA})
        await directory.post("/api/v1/tenants/kanazawa/ivrs", water_bureau(hours["id"], group["id"]))

        outcomes = await ivr_test.run(directory.url, f"127.0.0.1:{control.esl_port}", "kanazawa", "water",
                                      directory.token, start="2026-11-24T10:00:00+09:00", node_port=node_port)
    print(ivr_test.report(outcomes))
    ends = {o.expected for o in outcomes}
    assert {f"ring_group:{group['id']}", "queue:busy-season", "message", "voicemail:3001", "queue:water",
            "external:0762201234", "extension:3001"} <= ends
    assert all(o.ok for o in outcomes), ivr_test.report(outcomes)
    moments = {o.expected: o.at for o in outcomes}
    assert moments["queue:busy-season"].startswith("2027-03-01")     # the first moment of the busy season
    assert moments["voicemail:3001"].startswith("2026-12-2")         # Dec 29: the year-end closure begins
