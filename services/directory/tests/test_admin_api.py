"""The admin API over HTTP: roles, tenant isolation, validation and conflicts with
stable error ids, paging, the OpenAPI document, and the schema its migrations build."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main
from hibiki.directory.config import DirectoryConfig
from hibiki.directory.storage.database import open_store
from hibiki.directory.storage.tables import metadata
from support.servers import free_port, running


@pytest.fixture
async def api(tmp_path: Path, nats_server: Any, authority: TokenAuthority) -> AsyncIterator[httpx.AsyncClient]:
    config = dataclasses.replace(
        DirectoryConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), grpc_port=free_port())
    async with running(main, config):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{config.port}") as client:
            yield client


def bearer(authority: TokenAuthority, subject: str, tenant: str, *roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + authority.issue(Claims(subject, "user", tenant, roles))}


async def make_tenant(api: httpx.AsyncClient, platform: dict[str, str], name: str) -> str:
    reply = await api.post("/api/v1/tenants", json={"id": name, "domain": f"{name}.example.jp"}, headers=platform)
    assert reply.status_code == 201, reply.text
    return name


async def test_roles_and_tenant_isolation(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    platform = bearer(authority, "root", "*", "platform-admin")
    a = await make_tenant(api, platform, f"a{uuid.uuid4().hex[:6]}")
    b = await make_tenant(api, platform, f"b{uuid.uuid4().hex[:6]}")
    admin_a = bearer(authority, "alice", a, "admin")
    viewer_a = bearer(authority, "val", a, "viewer")
    recording_a = bearer(authority, "rec", a, "recording-admin")

    created = await api.post(f"/api/v1/tenants/{a}/users", json={"username": "sato", "extension": "2001"}, headers=admin_a)
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert (await api.get(f"/api/v1/tenants/{a}/users/{user_id}", headers=viewer_a)).json()["username"] == "sato"

    for headers, method, path, body in (
        (viewer_a, "POST", f"/api/v1/tenants/{a}/users", {"username": "x"}),
        (viewer_a, "PATCH", f"/api/v1/tenants/{a}/users/{user_id}", {"display_name": "x"}),
        (recording_a, "GET", f"/api/v1/tenants/{a}/users", None),          # REC-06: not a config admin
        (admin_a, "GET", f"/api/v1/tenants/{b}/users", None),              # another tenant
        (admin_a, "GET", f"/api/v1/tenants/{b}", None),
        (admin_a, "POST", "/api/v1/tenants", {"id": "zz", "domain": "zz.example"}),
        (admin_a, "GET", "/api/v1/tenants", None),
        (admin_a, "DELETE", f"/api/v1/tenants/{a}", None),                 # only the platform deletes tenants
    ):
        reply = await api.request(method, path, json=body, headers=headers)
        assert reply.status_code == 403, (method, path, reply.text)
        assert reply.json()["error_id"] == "forbidden"
    # b's data cannot be reached through a's URL either
    assert (await api.get(f"/api/v1/tenants/{b}/users/{user_id}", headers=platform)).status_code == 404
    assert (await api.get(f"/api/v1/tenants/{a}/users", headers={})).status_code == 401


async def test_validation_errors_name_the_field(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    platform = bearer(authority, "root", "*", "platform-admin")
    t = await make_tenant(api, platform, f"v{uuid.uuid4().hex[:6]}")
    cases = [
        ("/api/v1/tenants", {"id": "Bad Id", "domain": "x.example"}, "invalid-id", "id"),
        ("/api/v1/tenants", {"id": "ok1", "domain": "not a domain"}, "invalid-domain", "domain"),
        (f"/api/v1/tenants/{t}/users", {"username": "u1", "extension": "0123"}, "invalid-extension", "extension"),
        (f"/api/v1/tenants/{t}/users", {"username": "u1", "extension": "119"}, "invalid-extension", "extension"),
        (f"/api/v1/tenants/{t}/users", {"username": "u1", "unknown": 1}, "invalid-unknown", "unknown"),
        (f"/api/v1/tenants/{t}/users", {"username": "u1", "voicemail_pin": "12a4"}, "invalid-voicemail_pin", "voicemail_pin"),
        (f"/api/v1/tenants/{t}/devices", {"user_id": "nobody", "sip_username": "d1", "password": "x" * 12},
         "invalid-user_id", "user_id"),
        (f"/api/v1/tenants/{t}/devices", {"user_id": "x", "sip_username": "d1", "password": "short"},
         "invalid-password", "password"),
    ]
    for path, body, error_id, field in cases:
        reply = await api.post(path, json=body, headers=platform)
        assert reply.status_code == 422, (body, reply.text)
        assert reply.json()["error_id"] == error_id
        assert reply.json()["details"]["field"] == field
    reply = await api.post(f"/api/v1/tenants/{t}/users", content=b"{not json", headers=platform)
    assert reply.status_code == 400 and reply.json()["error_id"] == "invalid-json"
    assert (await api.get(f"/api/v1/tenants/{t}/users", headers=platform)).json()["items"] == []  # nothing stored


async def test_conflicts_and_what_is_stored_stays(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    platform = bearer(authority, "root", "*", "platform-admin")
    t = await make_tenant(api, platform, f"c{uuid.uuid4().hex[:6]}")
    other = await make_tenant(api, platform, f"d{uuid.uuid4().hex[:6]}")
    first = (await api.post(f"/api/v1/tenants/{t}/users", json={"username": "u1", "extension": "3001"}, headers=platform)).json()
    second = (await api.post(f"/api/v1/tenants/{t}/users", json={"username": "u2", "extension": "3002"}, headers=platform)).json()
    for body, error_id in (({"username": "u1"}, "username-taken"), ({"username": "u3", "extension": "3001"}, "extension-taken")):
        reply = await api.post(f"/api/v1/tenants/{t}/users", json=body, headers=platform)
        assert reply.status_code == 409 and reply.json()["error_id"] == error_id
    clash = await api.patch(f"/api/v1/tenants/{t}/users/{second['id']}", json={"extension": "3001"}, headers=platform)
    assert clash.status_code == 409 and clash.json()["error_id"] == "extension-taken"
    assert (await api.get(f"/api/v1/tenants/{t}/users/{second['id']}", headers=platform)).json()["extension"] == "3002"
    # the same extension in another tenant is fine (extensions are per tenant)
    assert (await api.post(f"/api/v1/tenants/{other}/users", json={"username": "u1", "extension": "3001"},
                           headers=platform)).status_code == 201
    dup = await api.post("/api/v1/tenants", json={"id": f"e{uuid.uuid4().hex[:6]}", "domain": f"{t}.example.jp"},
                         headers=platform)
    assert dup.status_code == 409 and dup.json()["error_id"] == "domain-taken"
    assert (await api.get(f"/api/v1/tenants/{t}/users/{first['id']}", headers=platform)).json()["username"] == "u1"
    # deleting a user deletes its devices
    device = await api.post(f"/api/v1/tenants/{t}/devices", json={"user_id": first["id"], "sip_username": "d1",
                                                                  "password": "long enough pw"}, headers=platform)
    assert device.status_code == 201
    assert (await api.delete(f"/api/v1/tenants/{t}/users/{first['id']}", headers=platform)).status_code == 204
    assert (await api.get(f"/api/v1/tenants/{t}/devices/{device.json()['id']}", headers=platform)).status_code == 404
    assert (await api.get(f"/api/v1/tenants/{t}/users/{first['id']}", headers=platform)).json()["error_id"] == "user-not-found"


async def test_paging_and_versions(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    platform = bearer(authority, "root", "*", "platform-admin")
    t = await make_tenant(api, platform, f"p{uuid.uuid4().hex[:6]}")
    for n in range(7):
        assert (await api.post(f"/api/v1/tenants/{t}/users", json={"username": f"u{n}", "extension": f"40{n:02d}"},
                               headers=platform)).status_code == 201
    page = (await api.get(f"/api/v1/tenants/{t}/users?limit=3&offset=3", headers=platform)).json()
    assert [u["username"] for u in page["items"]] == ["u3", "u4", "u5"]
    assert (await api.get(f"/api/v1/tenants/{t}/users?limit=x", headers=platform)).json()["error_id"] == "invalid-paging"
    assert (await api.get(f"/api/v1/tenants/{t}", headers=platform)).json()["version"] == 8


async def test_openapi_document_lists_every_route(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    assert (await api.get("/api/v1/openapi.json")).status_code == 401
    doc = (await api.get("/api/v1/openapi.json", headers=bearer(authority, "dev", "*"))).json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/tenants", "/api/v1/tenants/{tenant}", "/api/v1/tenants/{tenant}/users",
            "/api/v1/tenants/{tenant}/users/{id}", "/api/v1/tenants/{tenant}/devices",
            "/api/v1/tenants/{tenant}/devices/{id}"} <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    assert "password" in schemas["DeviceIn"]["properties"] and "password" not in schemas["DeviceOut"]["properties"]
    for path in doc["paths"].values():
        for method, op in path.items():
            if method != "parameters":
                for ref in _refs(op):
                    assert ref.split("/")[-1] in schemas


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_migrations_build_exactly_the_declared_schema(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


async def test_a_desk_phone_carries_several_numbers_on_line_keys(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    platform = bearer(authority, "root", "*", "platform-admin")
    t = await make_tenant(api, platform, f"l{uuid.uuid4().hex[:6]}")
    own = (await api.post(f"/api/v1/tenants/{t}/users", json={"username": "kato", "extension": "5001"}, headers=platform)).json()
    section = (await api.post(f"/api/v1/tenants/{t}/users", json={"username": "shimin-ka", "extension": "5000"},
                              headers=platform)).json()
    phone = "00:15:65:aa:bb:cc"
    for key, user, name in ((1, own, "line5001"), (2, section, "line5000")):
        reply = await api.post(f"/api/v1/tenants/{t}/devices", headers=platform, json={
            "user_id": user["id"], "sip_username": name, "password": "long enough pw", "phone": phone, "line_key": key})
        assert reply.status_code == 201, reply.text
        assert (reply.json()["phone"], reply.json()["line_key"]) == (phone, key)
    taken = await api.post(f"/api/v1/tenants/{t}/devices", headers=platform, json={
        "user_id": own["id"], "sip_username": "line-x", "password": "long enough pw", "phone": phone, "line_key": 2})
    assert taken.status_code == 409 and taken.json()["error_id"] == "line-key-taken"
    half = await api.post(f"/api/v1/tenants/{t}/devices", headers=platform, json={
        "user_id": own["id"], "sip_username": "line-y", "password": "long enough pw", "phone": phone})
    assert half.status_code == 422
