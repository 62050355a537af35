"""A staff member's own page through the real directory (HTTP, NATS, SQLite; issue 14): a console
user linked to one directory user, with the role self-service, logs in and reads and changes only
that user's devices, forwarding and voicemail; every other user's is refused (403) and the
administrator's API stays closed to them. The link is checked (same tenant, needed by
self-service), and changing it ends the user's sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from support.directory import Directory, directory_config, running_directory
from support.servers import NatsServer

PASSWORD = "kawa-no-nagare-2026"
T = "/api/v1/tenants/zama"


@pytest.fixture
async def directory(tmp_path: Path, nats_server: NatsServer, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as d:
        for tenant in ("zama", "ebina"):
            await d.post("/api/v1/tenants", {"id": tenant, "domain": f"{tenant}.example.jp"})
        yield d


async def people(d: Directory) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    mine = await d.post(f"{T}/users", {"username": "tanaka", "display_name": "田中", "extension": "2001"})
    theirs = await d.post(f"{T}/users", {"username": "sato", "extension": "2002"})
    elsewhere = await d.post("/api/v1/tenants/ebina/users", {"username": "kato", "extension": "2001"})
    for user, sip in ((mine, "tanaka-desk"), (theirs, "sato-desk")):
        await d.post(f"{T}/devices", {"user_id": user["id"], "sip_username": sip, "password": "a-long-sip-password-1",
                                      "label": "窓口"})
    return mine, theirs, elsewhere


async def test_the_link_is_checked_and_needed_by_self_service(directory: Directory) -> None:
    mine, _, elsewhere = await people(directory)
    body = {"login": "tanaka", "password": PASSWORD, "roles": ["self-service"]}
    for link, why in ((None, "needs"), (elsewhere["id"], "no such user"), ("no-such-user", "no such user")):
        reply = await directory.api.post(f"{T}/console_users", json={**body, "directory_user_id": link})
        assert reply.status_code == 422, reply.text
        assert reply.json()["details"]["field"] == "directory_user_id" and why in reply.json()["message"]
    bad = await directory.api.post(f"{T}/console_users", json={**body, "directory_user_id": "x' OR 1=1"})
    assert bad.status_code == 422
    made = await directory.api.post(f"{T}/console_users", json={**body, "directory_user_id": mine["id"]})
    assert made.status_code == 201 and made.json()["directory_user_id"] == mine["id"]
    cleared = await directory.api.patch(f"{T}/console_users/{made.json()['id']}", json={"directory_user_id": ""})
    assert cleared.status_code == 422                     # self-service without its user
    integration = await directory.api.post(f"{T}/api_tokens", json={"name": "x", "kind": "integration",
                                                                    "roles": ["self-service"]})
    assert integration.status_code == 422 and integration.json()["details"]["field"] == "roles"


async def test_a_staff_member_reaches_only_their_own_page(directory: Directory, authority: TokenAuthority) -> None:
    mine, theirs, elsewhere = await people(directory)
    user = (await directory.api.post(f"{T}/console_users", json={
        "login": "tanaka", "password": PASSWORD, "roles": ["self-service"], "directory_user_id": mine["id"]})).json()
    async with httpx.AsyncClient(base_url=directory.url) as web:
        login = await web.post("/api/v1/auth/login", json={"tenant": "zama", "login": "tanaka", "password": PASSWORD})
        assert login.status_code == 200, login.text
        csrf = {"X-Hibiki-CSRF": login.json()["csrf"]}
        me = (await web.get("/api/v1/auth/me")).json()
        assert me["directory_user"] == mine["id"] and me["roles"] == ["self-service"]

        own = await web.get(f"{T}/users/{mine['id']}/own")
        assert own.status_code == 200, own.text
        assert own.json()["user"]["username"] == "tanaka"
        assert [d["sip_username"] for d in own.json()["devices"]] == ["tanaka-desk"]
        assert "password" not in own.text and "a1_hash" not in own.text and "voicemail_pin" not in own.text
        forwarding = {"forward_always": "", "forward_busy": "2002", "forward_no_answer": "09012345678",
                      "forward_no_answer_seconds": 15, "forward_unregistered": ""}
        assert (await web.put(f"{T}/users/{mine['id']}/forwarding", json=forwarding)).status_code == 403   # no CSRF
        saved = await web.put(f"{T}/users/{mine['id']}/forwarding", json=forwarding, headers=csrf)
        assert saved.status_code == 200, saved.text
        stored = await directory.api.get(f"{T}/users/{mine['id']}")
        assert {k: stored.json()[k] for k in forwarding} == forwarding
        hostile = await web.put(f"{T}/users/{mine['id']}/forwarding", headers=csrf,
                                json={**forwarding, "forward_always": "2001;bridge(sofia/x)"})
        assert hostile.status_code == 422 and hostile.json()["details"]["field"] == "forward_always"
        sneaky = await web.put(f"{T}/users/{mine['id']}/forwarding", headers=csrf,
                               json={**forwarding, "extension": "2999"})
        assert sneaky.status_code == 422                                     # only forwarding here
        assert (await directory.api.get(f"{T}/users/{mine['id']}")).json()["extension"] == "2001"
        # the voicemail of their own mailbox passes the check (no store configured here: 503)
        assert (await web.get(f"{T}/users/{mine['id']}/voicemail")).status_code == 503

        # anyone else's: refused before anything is read
        attempts = [("GET", f"{T}/users/{theirs['id']}/own", None),
                    ("PUT", f"{T}/users/{theirs['id']}/forwarding", forwarding),
                    ("GET", f"{T}/users/{theirs['id']}/voicemail", None),
                    ("GET", f"{T}/users/{theirs['id']}/voicemail/00000000-0000-0000-0000-000000000001/audio", None),
                    ("DELETE", f"{T}/users/{theirs['id']}/voicemail/00000000-0000-0000-0000-000000000001", None),
                    ("GET", f"{T}/users/no-such-user/own", None),
                    ("GET", f"/api/v1/tenants/ebina/users/{elsewhere['id']}/own", None),
                    ("GET", f"/api/v1/tenants/ebina/users/{mine['id']}/own", None),
                    # the administrator's API: not theirs at all, not even their own row
                    ("GET", f"{T}/users", None), ("GET", f"{T}/users/{mine['id']}", None),
                    ("PATCH", f"{T}/users/{mine['id']}", {"forward_always": "2002"}),
                    ("GET", f"{T}/devices", None),
                    ("POST", f"{T}/devices", {"user_id": mine["id"], "sip_username": "extra",
                                              "password": "a-long-sip-password-2"}),
                    ("GET", f"{T}/console_users", None),
                    ("PATCH", f"{T}/console_users/{user['id']}", {"directory_user_id": theirs["id"]})]
        for method, path, body in attempts:
            reply = await web.request(method, path, json=body, headers=csrf)
            assert reply.status_code == 403, (method, path, reply.status_code, reply.text)
        assert (await directory.api.get(f"{T}/users/{theirs['id']}")).json()["forward_always"] == ""

        # a user API token of theirs carries the link too
        token = (await directory.api.post(f"{T}/api_tokens", json={"name": "phone app", "kind": "user",
                                                                   "user_id": user["id"]})).json()["token"]
        assert jwt.decode(token, options={"verify_signature": False})["duser"] == mine["id"]
        async with httpx.AsyncClient(base_url=directory.url, headers={"Authorization": f"Bearer {token}"}) as app:
            assert (await app.get(f"{T}/users/{mine['id']}/own")).status_code == 200
            assert (await app.get(f"{T}/users/{theirs['id']}/own")).status_code == 403

        # the administrator moves the link: the session ends at once (its token named the old user)
        moved = await directory.api.patch(f"{T}/console_users/{user['id']}", json={"directory_user_id": theirs["id"]})
        assert moved.status_code == 200 and moved.json()["directory_user_id"] == theirs["id"]
        assert (await web.get(f"{T}/users/{mine['id']}/own")).status_code == 401


async def test_administrators_reach_every_page_and_a_delegate_writes_only_its_scope(
        directory: Directory, authority: TokenAuthority) -> None:
    mine, theirs, _ = await people(directory)
    forwarding = {"forward_always": "2002"}

    def bearer(*roles: str, scope: tuple[str, ...] = ()) -> dict[str, str]:
        return {"Authorization": f"Bearer {authority.issue(Claims('x', 'user', 'zama', roles, scope=scope))}"}

    async with httpx.AsyncClient(base_url=directory.url) as web:
        for roles, reads, writes in ((("tenant-admin",), 200, 200), (("viewer",), 200, 403), (("auditor",), 200, 403),
                                     (("supervisor",), 403, 403), (("agent",), 403, 403),
                                     (("self-service",), 403, 403)):         # self-service without a link
            headers = bearer(*roles)
            assert (await web.get(f"{T}/users/{theirs['id']}/own", headers=headers)).status_code == reads, roles
            put = await web.put(f"{T}/users/{theirs['id']}/forwarding", json=forwarding, headers=headers)
            assert put.status_code == writes, (roles, put.text)
        delegate = bearer("delegated-admin", scope=("user:tanaka",))
        assert (await web.put(f"{T}/users/{mine['id']}/forwarding", json=forwarding, headers=delegate)).status_code == 200
        assert (await web.put(f"{T}/users/{theirs['id']}/forwarding", json=forwarding,
                              headers=delegate)).status_code == 403
