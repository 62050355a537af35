"""Issue 10, item 10, replayed: ``ip`` and ``variable_hibiki_tenant`` are fields of the POST body, so
anyone who could post to /fsapi could block any address (10 POSTs with ``ip=<victim>`` locked the
victim's correct REGISTER out on every replica) and act as any tenant's user (``*72`` changed
another tenant's forwarding and got its dialplan). Now both are believed only from an authenticated
FreeSWITCH, and the user claimed must belong to the tenant claimed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fsemu.xml_curl import XmlCurlClient
from hibiki.common.auth import TokenAuthority
from support.directory import Directory, directory_config, running_directory, sip_auth, sip_auth_body

KITA, MINAMI = "kita.example.jp", "minami.example.jp"
VICTIM = "192.0.2.77"
NO_CREDENTIALS = {"HIBIKI_DIRECTORY_FSAPI_USER": "", "HIBIKI_DIRECTORY_FSAPI_PASSWORD": ""}


@dataclass
class Tenants:
    directory: Directory
    kita_user: str       # the attacker, a user of kita
    minami_user: str     # the victim tenant's user


async def provision(d: Directory) -> Tenants:
    await d.post("/api/v1/tenants", {"id": "kita", "domain": KITA})
    await d.post("/api/v1/tenants", {"id": "minami", "domain": MINAMI})
    ids = []
    for tenant, domain in (("kita", KITA), ("minami", MINAMI)):
        user = await d.post(f"/api/v1/tenants/{tenant}/users", {"username": "taro", "extension": "1001"})
        await d.post(f"/api/v1/tenants/{tenant}/users", {"username": "hanako", "extension": "1002"})
        await d.post(f"/api/v1/tenants/{tenant}/devices", {"user_id": user["id"], "sip_username": "1001",
                                                           "password": f"password of {tenant}"})
        ids.append(user["id"])
    return Tenants(d, ids[0], ids[1])


@pytest.fixture
async def protected(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Tenants]:
    (tmp_path / "protected").mkdir()
    async with running_directory(directory_config(tmp_path / "protected", nats_server), nats_client, authority) as d:
        yield await provision(d)


@pytest.fixture
async def alone(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Tenants]:
    """A directory started by itself, without /fsapi credentials."""
    (tmp_path / "alone").mkdir()
    config = directory_config(tmp_path / "alone", nats_server, NO_CREDENTIALS)
    async with running_directory(config, nats_client, authority) as d:
        yield await provision(d)


async def forge_failures(client: XmlCurlClient, count: int) -> list[int]:
    statuses = []
    for n in range(count):
        reply = await client.post(sip_auth_body(client, "1001", MINAMI, f"wrong {n}", ip=VICTIM))
        statuses.append(reply.status)
    return statuses


async def test_a_forged_ip_blocks_no_victim(protected: Tenants, alone: Tenants) -> None:
    plain = f"http://127.0.0.1:{protected.directory.config.port}/fsapi"
    refused = await forge_failures(XmlCurlClient(plain), 30)               # no credentials: refused outright
    ignored = await forge_failures(XmlCurlClient(f"http://127.0.0.1:{alone.directory.config.port}/fsapi"), 30)
    victims_blocked = 0
    for tenants in (protected, alone):
        reply = await sip_auth(XmlCurlClient(tenants.directory.fsapi), "1001", MINAMI, "password of minami", ip=VICTIM)
        victims_blocked += reply.not_found
    blocks = [(await t.directory.api.get("/api/v1/auth_blocks")).json()["items"] for t in (protected, alone)]
    print(f"\nforged failures: {len(refused)} refused (401), {len(ignored)} with ip ignored; "
          f"victims blocked: {victims_blocked}; blocks: {sum(map(len, blocks))}")
    assert set(refused) == {401} and set(ignored) == {200}
    assert victims_blocked == 0 and blocks == [[], []]
    # the same failures from the authenticated FreeSWITCH do count (the test can fail)
    await forge_failures(XmlCurlClient(protected.directory.fsapi), 10)
    assert (await sip_auth(XmlCurlClient(protected.directory.fsapi), "1001", MINAMI, "password of minami",
                           ip=VICTIM)).not_found


async def forward(client: XmlCurlClient, tenant: str, user: str) -> Any:
    return await client.dialplan(destination_number="*7209012345678", caller_id_number="1001",
                                 variable_hibiki_tenant=tenant, variable_hibiki_user=user)


async def forwards_of(tenants: Tenants, tenant: str) -> list[str]:
    users = (await tenants.directory.api.get(f"/api/v1/tenants/{tenant}/users")).json()["items"]
    return [u["forward_always"] for u in users]


async def test_a_claimed_tenant_is_believed_only_from_freeswitch_and_only_for_its_own_users(
        protected: Tenants, alone: Tenants) -> None:
    served = 0
    attempts = [
        # (directory, client, tenant claimed, user claimed)
        (protected, XmlCurlClient(f"http://127.0.0.1:{protected.directory.config.port}/fsapi"), "minami",
         protected.minami_user),                                                      # no credentials
        (alone, XmlCurlClient(f"http://127.0.0.1:{alone.directory.config.port}/fsapi"), "minami",
         alone.minami_user),                                                          # a directory alone
        (protected, XmlCurlClient(protected.directory.fsapi), "minami", protected.kita_user),   # kita's user
    ]
    for tenants, client, tenant, user in attempts:
        reply = await forward(client, tenant, user)
        served += not reply.not_found
        dialplan = await client.dialplan(destination_number="1002", caller_id_number="1001",
                                         variable_hibiki_tenant=tenant, variable_hibiki_user=user)
        served += not dialplan.not_found
    changed = 0
    for tenants in (protected, alone):
        changed += sum(f != "" for f in await forwards_of(tenants, "minami"))
    print(f"\nanswers for another tenant's claim: {served} of {2 * len(attempts)}; users of another tenant changed: {changed}")
    assert served == 0 and changed == 0
    # the user's own FreeSWITCH call does it (the test can fail)
    mine = await forward(XmlCurlClient(protected.directory.fsapi), "kita", protected.kita_user)
    assert not mine.not_found
    await protected.directory.applied.next_msg(timeout=5)
    assert "09012345678" in await forwards_of(protected, "kita")
