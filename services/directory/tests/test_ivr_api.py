"""IVRs through the admin API (CRUD, checks, the test mode's paths) and DirectoryService.GetIvr over gRPC,
against the real directory service (SQLite store, NATS, HTTP and gRPC servers)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.rpc import token_metadata
from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc, ivr_pb2
from support.directory import Directory, directory_config, running_directory

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = {"weekly": {d: [{"start": "08:30", "end": "17:15"}] for d in WEEKDAYS},
          "seasons": [{"name": "busy", "start": "03-01", "end": "04-30",
                       "weekly": {d: [{"start": "08:00", "end": "19:00"}] for d in WEEKDAYS}}]}


def city_ivr(schedule_id: str) -> dict[str, Any]:
    return {
        "name": "代表", "root_menu": "top", "recording_notice": {"text": "この通話は録音されます。"},
        "menus": [
            {"id": "top", "name": "トップ", "greeting": {"text": "お電話ありがとうございます。"},
             "choices": {"1": {"menu": "water"},
                         "2": {"schedule": {"schedule_id": schedule_id,
                                            "branches": {"open": {"extension": "2001"},
                                                         "holiday": {"message": {"prompt": {"sound": "ivr/closed.wav"}}},
                                                         "new_year": {"message": {"prompt": {"text": "年末年始は休みです。"}}}},
                                            "otherwise": {"voicemail": "2001"}}}},
             "on_failure": {"extension": "2001"}},
            {"id": "water", "name": "水道", "greeting": {"sound": "ivr/water.wav"},
             "choices": {"1": {"menu": "leak"}, "2": {"queue": {"queue_id": "water", "priority": 3, "skills": ["billing"]}},
                         "0": {"back": True}}},
            {"id": "leak", "name": "漏水", "greeting": {"sound": "ivr/leak.wav"},
             "choices": {"1": {"external": "0263520000"}, "0": {"back": True}}},
        ],
    }


@pytest.fixture
async def directory(tmp_path: Path, nats_server: Any, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as d:
        for tenant in ("shiojiri", "zama"):
            await d.post("/api/v1/tenants", {"id": tenant, "domain": f"{tenant}.example.jp"})
        yield d


async def get_ivr(d: Directory, tenant: str, ivr_id: str, at: datetime | None = None,
                  claims: Claims | None = None) -> ivr_pb2.Ivr:
    request = directory_pb2.GetIvrRequest(tenant=tenant, ivr_id=ivr_id)
    if at is not None:
        stamp = Timestamp()
        stamp.FromDatetime(at)
        request.at.CopyFrom(stamp)
    token = d.authority.issue(claims or Claims("callcontrol", "service"))
    async with grpc.aio.insecure_channel(d.grpc_address) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        return await stub.GetIvr(request, metadata=token_metadata(token), timeout=5)


async def test_ivr_crud_and_get_ivr_with_schedule_branches(directory: Directory) -> None:
    d = directory
    office = (await d.call("POST", "/api/v1/tenants/shiojiri/schedules", {"name": "office", "definition": OFFICE})).json()
    await d.call("POST", "/api/v1/tenants/shiojiri/users", {"username": "desk", "extension": "2001"})
    created = await d.call("POST", "/api/v1/tenants/shiojiri/ivrs", {"id": "main", **city_ivr(office["id"])})
    assert created.status_code == 201, created.text
    assert created.json()["menus"][1]["choices"]["2"]["queue"] == {"queue_id": "water", "priority": 3, "skills": ["billing"]}
    listed = (await d.api.get("/api/v1/tenants/shiojiri/ivrs")).json()["items"]
    assert [i["id"] for i in listed] == ["main"]

    for moment, branch in ((datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO), "open"),
                           (datetime(2026, 11, 23, 10, 0, tzinfo=TOKYO), "holiday"),
                           (datetime(2027, 1, 2, 10, 0, tzinfo=TOKYO), "new_year"),
                           (datetime(2027, 3, 15, 18, 30, tzinfo=TOKYO), "season:busy"),
                           (datetime(2026, 11, 24, 20, 0, tzinfo=TOKYO), "closed")):
        ivr = await get_ivr(d, "shiojiri", "main", moment)
        assert ivr.menus[0].choices["2"].schedule.active_branch == branch, moment
    assert ivr.tenant == "shiojiri" and ivr.version > 0 and ivr.recording_notice.text.startswith("この通話")

    replaced = copy.deepcopy(city_ivr(office["id"]))
    replaced["menus"][0]["choices"]["3"] = {"ring_group": "soumu"}
    put = await d.call("PUT", "/api/v1/tenants/shiojiri/ivrs/main", replaced)
    assert put.status_code == 200, put.text
    assert "3" in (await get_ivr(d, "shiojiri", "main")).menus[0].choices      # the next call sees it
    patched = await d.call("PATCH", "/api/v1/tenants/shiojiri/ivrs/main", {"name": "代表番号"})
    assert patched.json()["name"] == "代表番号" and len(patched.json()["menus"]) == 3

    # nothing dangles: the schedule an IVR branches on, the IVR a DID routes to
    in_use = await d.call("DELETE", f"/api/v1/tenants/shiojiri/schedules/{office['id']}")
    assert in_use.status_code == 409 and in_use.json()["error_id"] == "schedule-in-use"
    did = await d.call("POST", "/api/v1/tenants/shiojiri/dids", {"number": "0263-52-1111", "target_kind": "ivr",
                                                                 "target": "main"})
    assert did.status_code == 201, did.text
    assert (await d.call("DELETE", "/api/v1/tenants/shiojiri/ivrs/main")).json()["error_id"] == "ivr-in-use"
    await d.call("DELETE", f"/api/v1/tenants/shiojiri/dids/{did.json()['id']}")
    assert (await d.call("DELETE", "/api/v1/tenants/shiojiri/ivrs/main")).status_code == 204
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await get_ivr(d, "shiojiri", "main")
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_bad_ivrs_are_refused_with_the_field(directory: Directory) -> None:
    d = directory
    good = city_ivr("no-such-schedule")
    refused = await d.call("POST", "/api/v1/tenants/shiojiri/ivrs", good)
    assert refused.status_code == 422
    assert refused.json()["details"]["field"] == "menus[0].choices[2].schedule.schedule_id"
    broken = copy.deepcopy(good)
    broken["menus"][0]["choices"] = {"1": {"menu": "nowhere"}}
    reply = await d.call("POST", "/api/v1/tenants/shiojiri/ivrs", broken)
    assert reply.status_code == 422 and reply.json()["error_id"] == "invalid-ivr"
    assert reply.json()["details"]["field"] == "menus[0].choices[1].menu"
    unknown = await d.call("POST", "/api/v1/tenants/shiojiri/ivrs", {**broken, "colour": "red"})
    assert unknown.status_code == 422
    assert (await d.api.get("/api/v1/tenants/shiojiri/ivrs")).json()["items"] == []   # nothing was stored


async def test_get_ivr_is_tenant_scoped_and_needs_a_token(directory: Directory) -> None:
    d = directory
    await d.call("POST", "/api/v1/tenants/zama/users", {"username": "desk", "extension": "2001"})
    simple = {"name": "座間", "root_menu": "top",
              "menus": [{"id": "top", "greeting": {"sound": "ivr/hello.wav"}, "choices": {"1": {"extension": "2001"}}}]}
    assert (await d.call("POST", "/api/v1/tenants/zama/ivrs", {"id": "zama-main", **simple})).status_code == 201
    assert (await get_ivr(d, "zama", "zama-main")).menus[0].choices["1"].extension == "2001"
    other = Claims("shiojiri-admin", "user", "shiojiri", ("admin",))
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await get_ivr(d, "zama", "zama-main", claims=other)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    async with grpc.aio.insecure_channel(d.grpc_address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await directory_pb2_grpc.DirectoryServiceStub(channel).GetIvr(
                directory_pb2.GetIvrRequest(tenant="zama", ivr_id="zama-main"), timeout=5)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await get_ivr(d, "nowhere", "zama-main")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_test_mode_lists_every_branch_with_keys_and_a_moment(directory: Directory) -> None:
    d = directory
    office = (await d.call("POST", "/api/v1/tenants/shiojiri/schedules", {"name": "office", "definition": OFFICE})).json()
    assert (await d.call("POST", "/api/v1/tenants/shiojiri/ivrs", {"id": "main", **city_ivr(office["id"])})).status_code == 201
    reply = await d.api.get("/api/v1/tenants/shiojiri/ivrs/main/paths", params={"from": "2026-11-24T10:00:00+09:00"})
    assert reply.status_code == 200, reply.text
    paths = reply.json()["paths"]
    by_end = {p["end"]: p for p in paths}
    assert by_end["queue:water"]["keys"] == ["1", "2"] and by_end["queue:water"]["menus"] == ["top", "water"]
    assert by_end["external:0263520000"]["keys"] == ["1", "1", "1"]
    assert by_end["extension:2001"]["keys"] in (["2"], [""])
    holiday = next(p for p in paths if p["schedule_branches"].get(office["id"]) == "holiday")
    assert datetime.fromisoformat(holiday["at"]).astimezone(TOKYO).date().isoformat() >= "2026-11-24"
    new_year = next(p for p in paths if p["schedule_branches"].get(office["id"]) == "new_year")
    assert new_year["at"].startswith("2026-12-2")        # Dec 29 is the first day of the closure (Tokyo)
    bad = await d.api.get("/api/v1/tenants/shiojiri/ivrs/main/paths", params={"from": "tomorrow"})
    assert bad.status_code == 400 and bad.json()["error_id"] == "invalid-from"
