"""Issue 10, item 9, replayed: /fsapi used to give anyone on the allow-list (all of 127/8, no
credentials) every device's a1-hash (64 of 64 requests with no or a wrong digest), carrier
passwords in clear and voicemail PINs. Now: the credentials are required when configured (what
``hibiki up`` does), an a1-hash goes only with a digest that already verifies against it, gateway
passwords and PINs only to an authenticated FreeSWITCH, and the default allow-list is the loopback
address actually used. A directory started alone without credentials serves none of those secrets.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fsemu.xml_curl import XmlCurlClient, find_user
from hibiki.common.auth import TokenAuthority
from hibiki.directory.config import DirectoryConfig
from support.directory import Directory, directory_config, fsapi_url, running_directory, sip_auth, sip_auth_body

DOMAIN = "secrets.example.jp"
GATEWAY_PASSWORD = "carrier-trunk-password-7"
PIN = "730194"
NO_CREDENTIALS = {"HIBIKI_DIRECTORY_FSAPI_USER": "", "HIBIKI_DIRECTORY_FSAPI_PASSWORD": ""}


async def provision(d: Directory) -> None:
    await d.post("/api/v1/tenants", {"id": "sec", "domain": DOMAIN})
    user = await d.post("/api/v1/tenants/sec/users", {"username": "mori", "extension": "1001", "voicemail_pin": PIN})
    for n in range(4):
        await d.post("/api/v1/tenants/sec/devices", {"user_id": user["id"], "sip_username": f"dev{n}",
                                                     "password": f"device password {n}"})
    await d.post("/api/v1/tenants/sec/gateways", {"name": "carrier1", "proxy": "192.0.2.20", "username": "trunk",
                                                  "password": GATEWAY_PASSWORD, "register": True})


def a1(n: int) -> str:
    return hashlib.md5(f"dev{n}:{DOMAIN}:device password {n}".encode()).hexdigest()


def secrets_in(body: bytes) -> dict[str, int]:
    """Which of the tenant's secrets a document gives away."""
    text = body.decode()
    return {"a1": sum(a1(n) in text for n in range(4)), "gateway": int(GATEWAY_PASSWORD in text),
            "pin": int(f'value="{PIN}"' in text)}


async def attack(client: XmlCurlClient) -> tuple[int, dict[str, int]]:
    """64 sip_auth requests with no or a wrong digest, then the gateways and voicemail lookups:
    (requests sent, secrets returned by kind)."""
    sent, returned = 0, {"a1": 0, "gateway": 0, "pin": 0}

    async def post(body: bytes) -> None:
        nonlocal sent
        for kind, count in secrets_in((await client.post(body)).body).items():
            returned[kind] += count
        sent += 1

    for n in range(64):
        device = n % 4
        if n % 2:
            await post(client.directory_body(user=f"dev{device}", domain=DOMAIN, action="sip_auth", ip=f"192.0.2.{n}"))
        else:
            await post(sip_auth_body(client, f"dev{device}", DOMAIN, f"guess {n}", ip=f"192.0.2.{n}"))
    await post(client.directory_body(user="", domain=DOMAIN, purpose="gateways", profile="internal",
                                     tag_name="domain", key_name="name"))
    for action in ("voicemail-lookup", "message-count", ""):
        await post(client.directory_body(user="1001", domain=DOMAIN, action=action or None))
    return sent, returned


@pytest.fixture
async def protected(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority, "sec") as d:
        await provision(d)
        yield d


async def test_no_secret_without_the_credentials(protected: Directory) -> None:
    plain = f"http://127.0.0.1:{protected.config.port}/fsapi"
    totals = {}
    for label, client in (("none", XmlCurlClient(plain)),
                          ("wrong", XmlCurlClient(plain, basic_auth=("freeswitch", "guessed")))):
        sent, returned = await attack(client)
        totals[label] = (sent, sum(returned.values()))
        assert (await client.post(sip_auth_body(client, "dev0", DOMAIN, "device password 0"))).status == 401
    print(f"\nsecrets returned to /fsapi without credentials: {totals['none'][1]} of {totals['none'][0]} requests; "
          f"with wrong credentials: {totals['wrong'][1]} of {totals['wrong'][0]}")
    assert totals == {"none": (68, 0), "wrong": (68, 0)}


async def test_an_authenticated_freeswitch_gets_an_a1_hash_only_for_a_verifying_digest(protected: Directory) -> None:
    fs = XmlCurlClient(protected.fsapi)
    sent, returned = await attack(fs)
    print(f"\na1-hashes returned to an authenticated FreeSWITCH for no or a wrong digest: {returned['a1']} of 64")
    assert returned == {"a1": 0, "gateway": 1, "pin": 3}   # the gateway password and the PIN are FreeSWITCH's to have
    right = await sip_auth(fs, "dev2", DOMAIN, "device password 2")
    found = find_user(right.xml, "dev2", DOMAIN) if right.xml is not None else None
    assert found is not None and found.params["a1-hash"] == a1(2)


async def test_a_directory_alone_without_credentials_serves_no_secret(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    config = directory_config(tmp_path, nats_server, NO_CREDENTIALS)
    assert config.fsapi_user is None
    async with running_directory(config, nats_client, authority, "sec") as d:
        await provision(d)
        fs = XmlCurlClient(f"http://127.0.0.1:{config.port}/fsapi")
        sent, returned = await attack(fs)
        print(f"\nsecrets returned by a directory without /fsapi credentials: {sum(returned.values())} of {sent} requests")
        assert returned == {"a1": 0, "gateway": 0, "pin": 0}
        # what needs no secret still works: a phone that knows its password, a user's dial string
        assert not (await sip_auth(fs, "dev1", DOMAIN, "device password 1")).not_found
        ringing = await fs.directory(user="1001", domain=DOMAIN, action="user_call")
        user = find_user(ringing.xml, "1001", DOMAIN) if ringing.xml is not None else None
        assert user is not None and "vm-password" not in user.params and "dial-string" in user.params


def test_the_default_allow_list_is_the_loopback_address_in_use(tmp_path: Path, nats_server: Any) -> None:
    config = DirectoryConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url})
    assert [str(n) for n in config.fsapi_allow] == ["127.0.0.1/32", "::1/128"]


async def test_another_loopback_address_is_refused(protected: Directory) -> None:
    transport = httpx.AsyncHTTPTransport(local_address="127.3.0.5")   # another process on this host
    async with httpx.AsyncClient(transport=transport) as client:
        reply = await client.post(fsapi_url(protected.config), content=b"section=directory&user=dev0",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    print(f"\n/fsapi from 127.3.0.5 with the right credentials: HTTP {reply.status_code}")
    assert reply.status_code == 403
