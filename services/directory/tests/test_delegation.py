"""ADM-02 through the real directory: a delegated administrator (a console user logged in with
the role ``delegated-admin`` and a scope) changes only their groups, users and numbers; every
other write is refused (403), reads are allowed. Printed: writes tried in and out of scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common.auth import TokenAuthority
from support.directory import Directory, directory_config, running_directory
from support.servers import NatsServer

PASSWORD = "kawa-no-nagare-2026"


@pytest.fixture
async def directory(tmp_path: Path, nats_server: NatsServer, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as d:
        await d.post("/api/v1/tenants", {"id": "nagaoka", "domain": "nagaoka.example.jp"})
        yield d


async def test_a_delegated_admin_changes_only_their_scope(directory: Directory) -> None:
    d, t = directory, "/api/v1/tenants/nagaoka"
    mine = await d.post(f"{t}/users", {"username": "suido-1", "extension": "3001"})
    theirs = await d.post(f"{t}/users", {"username": "zeimu-1", "extension": "4001"})
    group = await d.post(f"{t}/ring_groups", {"name": "suido", "extension": "3000", "strategy": "simultaneous",
                                              "ring_seconds": 20, "members": [mine["id"]]})
    other_group = await d.post(f"{t}/ring_groups", {"name": "zeimu", "extension": "4000", "strategy": "simultaneous",
                                                    "ring_seconds": 20, "members": [theirs["id"]]})
    made = await d.api.post(f"{t}/console_users", json={
        "login": "kacho", "password": PASSWORD, "roles": ["delegated-admin"],
        "scope": [f"user:{mine['id']}", "user:suido-2", "group:suido", "number:0258391*"]})
    assert made.status_code == 201, made.text
    async with httpx.AsyncClient(base_url=d.url) as web:
        csrf = (await web.post("/api/v1/auth/login", json={"tenant": "nagaoka", "login": "kacho",
                                                           "password": PASSWORD})).json()["csrf"]
        h = {"X-Hibiki-CSRF": csrf}
        allowed = [
            ("PATCH", f"{t}/users/{mine['id']}", {"display_name": "水道課 1"}),
            ("POST", f"{t}/users", {"username": "suido-2", "extension": "3002"}),
            ("POST", f"{t}/devices", {"user_id": mine["id"], "sip_username": "s3001", "password": "long enough pw"}),
            ("PATCH", f"{t}/ring_groups/{group['id']}", {"ring_seconds": 25}),
            ("POST", f"{t}/dids", {"number": "0258391234", "target_kind": "user", "target": mine["id"]}),
        ]
        refused = [
            ("PATCH", f"{t}/users/{theirs['id']}", {"display_name": "x"}),
            ("DELETE", f"{t}/users/{theirs['id']}", None),
            ("POST", f"{t}/users", {"username": "zeimu-2", "extension": "4002"}),
            ("POST", f"{t}/devices", {"user_id": theirs["id"], "sip_username": "s4001", "password": "long enough pw"}),
            ("PATCH", f"{t}/ring_groups/{other_group['id']}", {"ring_seconds": 25}),
            ("PATCH", f"{t}/ring_groups/{group['id']}", {"members": [mine["id"], theirs["id"]]}),
            ("POST", f"{t}/dids", {"number": "0258401234", "target_kind": "user", "target": mine["id"]}),
            ("PATCH", t, {"name": "Nagaoka"}),
            ("POST", f"{t}/schedules", {"name": "s", "definition": {}}),
            ("POST", f"{t}/console_users", {"login": "x", "password": PASSWORD, "roles": ["viewer"]}),
            ("PUT", f"{t}/recording_policy", {}),
        ]
        answers = []
        for method, path, body in allowed:
            reply = await web.request(method, path, json=body, headers=h)
            answers.append(reply.status_code)
            assert reply.status_code in (200, 201, 204), (method, path, reply.text)
            await d.applied.next_msg(timeout=5)
        for method, path, body in refused:
            reply = await web.request(method, path, json=body, headers=h)
            answers.append(reply.status_code)
            assert reply.status_code == 403, (method, path, reply.status_code, reply.text)
        assert (await web.get(f"{t}/users")).status_code == 200
        me = (await web.get("/api/v1/auth/me")).json()
        assert me["roles"] == ["delegated-admin"] and "group:suido" in me["scope"]
    print(f"\ndelegated admin: {len(allowed)} writes in scope accepted, {len(refused)} outside refused (403)")
