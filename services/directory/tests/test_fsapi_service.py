"""The directory service for real: HTTP, SQLite store, NATS watch, asked by the emulator's
mod_xml_curl client exactly as FreeSWITCH 1.10 asks."""

from __future__ import annotations

import hashlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fsemu.xml_curl import XmlCurlClient, digest_response, find_user, verify_digest
from hibiki.common.auth import TokenAuthority
from hibiki.directory import documents
from hibiki.directory.app import main
from hibiki.directory.config import DirectoryConfig
from hibiki.events.v1 import config_pb2
from support.directory import directory_config, fsapi_url, running_directory, sip_auth, sip_auth_body
from support.servers import FIXTURES, running

NOT_FOUND = documents.NOT_FOUND.encode()


@pytest.fixture
async def directory(tmp_path: Path, nats_server: Any, authority: Any) -> AsyncIterator[DirectoryConfig]:
    config = directory_config(tmp_path, nats_server)
    async with running(main, config):
        yield config


def fsapi(config: DirectoryConfig) -> str:
    return fsapi_url(config)


async def post_raw(config: DirectoryConfig, body: bytes, **headers: str) -> httpx.Response:
    credentials = (config.fsapi_user, config.fsapi_password) if config.fsapi_user and config.fsapi_password else None
    async with httpx.AsyncClient(auth=credentials) as client:
        return await client.post(fsapi(config), content=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded", **headers})


async def test_every_capture_of_an_unknown_user_gets_the_exact_not_found(directory: DirectoryConfig) -> None:
    client = XmlCurlClient(fsapi(directory))
    for path in sorted((FIXTURES / "xml_curl").glob("*.body")):
        reply = await client.post(path.read_bytes())
        assert reply.status == 200, path.name
        assert reply.body == NOT_FOUND, path.name


async def test_a_user_added_through_the_admin_api_answers_on_the_next_request(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority, tenant) as directory:
        client = XmlCurlClient(directory.fsapi)
        assert (await client.directory(user="desk1001", domain="127.0.0.1", action="sip_auth")).not_found

        async def call(method: str, path: str, body: Any = None) -> Any:
            """A change and its confirmation, which names the replica that applied it."""
            reply = await directory.api.request(method, path, json=body)
            assert reply.status_code in (200, 201, 204), reply.text
            applied = await directory.applied.next_msg(timeout=5)
            confirmation = config_pb2.ConfigurationChanged.FromString(applied.data)
            assert confirmation.meta.source.startswith("directory@")
            return reply.json() if reply.content else None

        await call("POST", "/api/v1/tenants", {"id": tenant, "domain": "127.0.0.1", "name": "長岡市",
                                               "representative_number": "0258123456"})
        user = await call("POST", f"/api/v1/tenants/{tenant}/users", {
            "username": "sato", "display_name": '佐藤 "代表" <&>', "extension": "1001", "voicemail_pin": "4321"})
        desk = await call("POST", f"/api/v1/tenants/{tenant}/devices", {
            "user_id": user["id"], "sip_username": "desk1001", "password": "correct horse battery",
            "kind": "desk_phone"})
        await call("POST", f"/api/v1/tenants/{tenant}/devices", {
            "user_id": user["id"], "sip_username": "mobile1001", "password": "another long secret",
            "kind": "smartphone"})
        assert "password" not in desk and "a1_hash" not in desk

        # REGISTER from the desk phone: mod_sofia gets the device's a1-hash and the user's variables.
        reply = await sip_auth(client, "desk1001", "127.0.0.1", "correct horse battery")
        assert not reply.not_found and reply.xml is not None
        entry = find_user(reply.xml, "desk1001", "127.0.0.1")
        assert entry is not None and "password" not in entry.params
        assert entry.params["a1-hash"] == hashlib.md5(b"desk1001:127.0.0.1:correct horse battery").hexdigest()
        assert entry.variables["effective_caller_id_name"] == '佐藤 "代表" <&>'
        assert entry.variables["effective_caller_id_number"] == "1001"
        assert entry.variables["outbound_caller_id_number"] == "0258123456"
        assert entry.variables["hibiki_tenant"] == tenant
        nonce, uri = "abc123", "sip:127.0.0.1"
        good = digest_response(hashlib.md5(b"desk1001:127.0.0.1:correct horse battery").hexdigest(), "REGISTER", uri,
                               nonce)
        bad = digest_response(hashlib.md5(b"desk1001:127.0.0.1:guess").hexdigest(), "REGISTER", uri, nonce)
        assert verify_digest(entry, method="REGISTER", uri=uri, nonce=nonce, response=good)
        assert not verify_digest(entry, method="REGISTER", uri=uri, nonce=nonce, response=bad)

        # bridge user/1001@127.0.0.1 rings every device of the user at once (PBX-03).
        ringing = await client.directory(user="1001", domain="127.0.0.1", action="user_call")
        assert ringing.xml is not None
        ring = find_user(ringing.xml, "1001", "127.0.0.1")
        assert ring is not None
        assert ring.params["dial-string"].endswith(
            "${sofia_contact(*/desk1001@127.0.0.1)},${sofia_contact(*/mobile1001@127.0.0.1)}")
        voicemail = find_user((await client.directory(user="1001", domain="127.0.0.1", action="voicemail-lookup")).xml,
                              "1001", "127.0.0.1")
        assert voicemail is not None and voicemail.params["vm-password"] == "4321"

        # Fail closed: other domain, unknown device, and a device once disabled.
        assert (await sip_auth(client, "desk1001", "other.example", "correct horse battery")).body == NOT_FOUND
        assert (await sip_auth(client, "9999", "127.0.0.1", "correct horse battery")).body == NOT_FOUND
        # ... and a wrong password or no digest at all: no a1-hash (it is a secret too)
        assert (await sip_auth(client, "desk1001", "127.0.0.1", "guess")).body == NOT_FOUND
        assert (await client.directory(user="desk1001", domain="127.0.0.1", action="sip_auth")).body == NOT_FOUND
        await call("PATCH", f"/api/v1/tenants/{tenant}/devices/{desk['id']}", {"enabled": False})
        assert (await sip_auth(client, "desk1001", "127.0.0.1", "correct horse battery")).body == NOT_FOUND
        await call("PATCH", f"/api/v1/tenants/{tenant}/users/{user['id']}", {"caller_id_policy": "direct",
                                                                             "direct_number": "0258123999"})
        reply = await sip_auth(client, "mobile1001", "127.0.0.1", "another long secret")
        assert find_user(reply.xml, "mobile1001", "127.0.0.1").variables["outbound_caller_id_number"] == "0258123999"
        await call("DELETE", f"/api/v1/tenants/{tenant}")
        assert (await sip_auth(client, "mobile1001", "127.0.0.1", "another long secret")).body == NOT_FOUND


@pytest.mark.parametrize("body", [
    b"", b"section=", b"section=directory&user=%00", b"\xff\xfe\x00", b"section=phrases&x=1",
    b"section=directory&tag_name=domain&key_name=name&key_value=x'%22%3E%3C&user=1000&domain=%3Cevil%3E",
    b"section=dialplan&Caller-Destination-Number=1000",  # not served yet: fail closed
])
async def test_bad_input_is_answered_not_found_never_a_crash(directory: DirectoryConfig, body: bytes) -> None:
    reply = await post_raw(directory, body)
    assert reply.status_code == 200
    assert reply.content == NOT_FOUND
    assert reply.headers["content-type"].startswith("text/xml")


async def test_truncated_capture_and_oversized_body(directory: DirectoryConfig) -> None:
    body = (FIXTURES / "xml_curl" / "xml_curl_directory_sip_auth_INVITE.body").read_bytes()
    for cut in (1, len(body) // 3, len(body) - 5):
        assert (await post_raw(directory, body[:cut])).content == NOT_FOUND
    assert (await post_raw(directory, body + b"&pad=" + b"x" * 70_000)).content == NOT_FOUND
    # the service is still there afterwards
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{directory.port}/healthz")).status_code == 200


async def test_fsapi_refuses_addresses_outside_the_allow_list(tmp_path: Path, nats_server: Any, authority: Any) -> None:
    import ipaddress

    config = directory_config(tmp_path, nats_server, fsapi_allow=(ipaddress.ip_network("192.0.2.0/24"),))
    async with running(main, config):
        body = (FIXTURES / "xml_curl" / "xml_curl_directory_user_exists.body").read_bytes()
        reply = await post_raw(config, body)
        assert reply.status_code == 403
        assert "may not use /fsapi" in reply.text
        # FreeSWITCH counts a non-200 answer as no result: the user does not register.
        assert (await XmlCurlClient(fsapi(config)).post(body)).not_found


async def test_fsapi_basic_auth_as_mod_xml_curl_sends_it(tmp_path: Path, nats_server: Any, authority: Any) -> None:
    config = directory_config(tmp_path, nats_server, fsapi_user="freeswitch", fsapi_password="pa:ss")
    async with running(main, config):
        body = (FIXTURES / "xml_curl" / "xml_curl_directory_user_exists.body").read_bytes()
        plain = f"http://127.0.0.1:{config.port}/fsapi"
        assert (await XmlCurlClient(plain).post(body)).status == 401
        assert (await XmlCurlClient(plain, basic_auth=("freeswitch", "wrong")).post(body)).status == 401
        ok = await XmlCurlClient(plain, basic_auth=("freeswitch", "pa:ss")).post(body)
        assert ok.status == 200 and ok.body == NOT_FOUND


async def test_everything_but_fsapi_and_probes_needs_a_token(directory: DirectoryConfig, service_token: str) -> None:
    base = f"http://127.0.0.1:{directory.port}"
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/healthz")).json() == {"service": "directory", "status": "ok"}
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"nats": True}
        for path in ("/metrics", "/api/v1/info"):
            refused = await client.get(base + path)
            assert refused.status_code == 401
            assert refused.json()["error_id"] == "unauthenticated"
            forged = await client.get(base + path, headers={"Authorization": "Bearer x.y.z"})
            assert forged.status_code == 401
        metrics = await client.get(f"{base}/metrics", headers={"Authorization": f"Bearer {service_token}"})
        assert metrics.status_code == 200 and "hibiki_fsapi_requests_total" in metrics.text
        info = await client.get(f"{base}/api/v1/info", headers={"Authorization": f"Bearer {service_token}"})
        assert info.json() == {"service": "directory", "tenants": 0, "caller": "tests"}


def element_paths(node: ET.Element, prefix: str = "") -> set[str]:
    path = f"{prefix}/{node.tag}"
    attrs = "".join(f"[@{a}]" for a in sorted(node.attrib) if a in ("name", "type", "id"))
    paths = {path + attrs}
    for child in node:
        paths |= element_paths(child, path)
    return paths


async def test_directory_answers_have_the_shape_freeswitch_accepted(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                                    authority: TokenAuthority) -> None:
    """The served document a real FreeSWITCH 1.10 accepted for user 2000 (captured) and ours for the
    same lookup have the same element structure: domain, params, groups/group/users/user, params, variables."""
    served = ET.parse(FIXTURES / "xml_curl" / "served_directory_response_user2000.xml").getroot()
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority, "shape") as directory:
        await directory.post("/api/v1/tenants", {"id": "shape", "domain": "127.0.0.1"})
        user = await directory.post("/api/v1/tenants/shape/users", {"username": "u2000", "extension": "2000"})
        await directory.post("/api/v1/tenants/shape/devices", {
            "user_id": user["id"], "sip_username": "2000", "password": "secret2000secret"})
        # the replica has applied the three changes (it answers from memory)
        client = XmlCurlClient(directory.fsapi)   # INVITE auth of 2000, as in the capture
        reply = await client.post(sip_auth_body(client, "2000", "127.0.0.1", "secret2000secret", method="INVITE"))
    assert reply.xml is not None and not reply.not_found
    ours, theirs = element_paths(reply.xml), element_paths(served)
    assert {p.replace("[@name]", "") for p in theirs if "/section" in p} <= {p.replace("[@name]", "") for p in ours}
    assert find_user(reply.xml, "2000", "127.0.0.1") is not None
