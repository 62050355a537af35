"""Issue 10, items 2 and 11, replayed against the real directory (two replicas on one store, real
NATS): password guessing through /fsapi as an authenticated FreeSWITCH forwards it.

- item 2: an attacker interleaving its own valid logins (another tenant's device) every 9 guesses
  used to reset the guard and found the password at guess 190; now the guessed username is blocked
  after 10 and the password is never found;
- item 11: one block used to lock out every phone behind the address (a city hall's NAT) in every
  tenant; now only the guessed username is blocked there, an address-wide block needs a scanner
  (many usernames), a tenant's trusted office networks are never blocked for it as a whole, and
  admins list and lift blocks over the API on every replica.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fsemu.xml_curl import XmlCurlClient
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main
from support.directory import Directory, directory_config, fsapi_url, running_directory, sip_auth
from support.servers import running

CITY, OTHER = "city.example.jp", "other.example.jp"
NAT = "203.0.113.10"             # the city hall's one public address
VICTIM_PASSWORD = "kamome-2026-desk!"


@dataclasses.dataclass
class Platform:
    directory: Directory
    fsapi: list[XmlCurlClient]          # one per replica
    admin: httpx.AsyncClient            # the city's admin
    viewer: httpx.AsyncClient           # the city's viewer
    other_admin: httpx.AsyncClient      # the other tenant's admin

    async def blocks(self, client: httpx.AsyncClient | None = None, tenant: str = "city") -> list[dict[str, Any]]:
        reply = await (client or self.admin).get(f"/api/v1/tenants/{tenant}/auth_blocks")
        assert reply.status_code == 200, reply.text
        return list(reply.json()["items"])


@pytest.fixture
async def platform(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Platform]:
    configs = [directory_config(tmp_path, nats_server) for _ in range(2)]   # one store, two replicas
    async with running_directory(configs[0], nats_client, authority) as d, running(main, configs[1]):
        await d.post("/api/v1/tenants", {"id": "city", "domain": CITY})
        await d.post("/api/v1/tenants", {"id": "other", "domain": OTHER})
        for tenant, extension, device, password in (("city", "1001", "1001", VICTIM_PASSWORD),
                                                    ("city", "1002", "1002", "colleague password"),
                                                    ("city", "1003", "1003", "third desk password"),
                                                    ("other", "2001", "2001", "attacker's own phone")):
            user = await d.post(f"/api/v1/tenants/{tenant}/users", {"username": f"u{extension}", "extension": extension})
            await d.post(f"/api/v1/tenants/{tenant}/devices", {"user_id": user["id"], "sip_username": device,
                                                               "password": password})
        for _ in range(8):   # the second replica applied the eight changes too
            await d.applied.next_msg(timeout=5)

        def client(claims: Claims) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=d.url, headers={"Authorization": f"Bearer {authority.issue(claims)}"})

        async with client(Claims("alice", "user", "city", ("admin",))) as admin, \
                client(Claims("vic", "user", "city", ("viewer",))) as viewer, \
                client(Claims("oscar", "user", "other", ("admin",))) as other_admin:
            yield Platform(d, [XmlCurlClient(fsapi_url(c)) for c in configs], admin, viewer, other_admin)


async def test_interleaved_valid_logins_do_not_reset_the_count(platform: Platform) -> None:
    fsapi = platform.fsapi[0]
    guesses = [f"guess-{n}" for n in range(189)] + [VICTIM_PASSWORD] + ["after"] * 10   # found at 190 before
    valid_logins = 0
    blocked_after = None
    found = False
    for n, guess in enumerate(guesses, start=1):
        if n % 9 == 0:   # the attacker's own phone (another tenant) logs in correctly from the same address
            assert not (await sip_auth(fsapi, "2001", OTHER, "attacker's own phone", ip=NAT)).not_found
            valid_logins += 1
        reply = await sip_auth(fsapi, "1001", CITY, guess, ip=NAT)
        found = found or not reply.not_found
        if blocked_after is None and any(b["username"] == f"1001@{CITY}" for b in await platform.blocks()):
            blocked_after = n
    print(f"\nguesses before a block: {blocked_after} (with {valid_logins} valid logins interleaved); "
          f"password found: {found}")
    assert blocked_after == 10
    assert not found
    # the attacker's own phone and the victim's colleague behind the same address go on
    assert not (await sip_auth(fsapi, "2001", OTHER, "attacker's own phone", ip=NAT)).not_found
    assert not (await sip_auth(fsapi, "1002", CITY, "colleague password", ip=NAT)).not_found


async def test_a_block_at_a_shared_address_keeps_the_colleagues_registered(platform: Platform, nats_client: Any) -> None:
    first, second = platform.fsapi
    for n in range(10):                        # one phone with an old password behind the city hall's NAT
        await sip_auth(first, "1003", CITY, f"old password {n}", ip=NAT)
    refused_colleagues = 0
    for fsapi in (first, second):              # every replica
        for user, domain, password in (("1002", CITY, "colleague password"), ("2001", OTHER, "attacker's own phone")):
            deadline = time.monotonic() + 5
            while (refused := (await sip_auth(fsapi, user, domain, password, ip=NAT)).not_found) \
                    and time.monotonic() < deadline:
                await nats_client.flush()
            refused_colleagues += refused
    deadline = time.monotonic() + 5            # the right password of the blocked phone is refused on both
    while not (await sip_auth(second, "1003", CITY, "third desk password", ip=NAT)).not_found:
        assert time.monotonic() < deadline, "the second replica never applied the block"
        await nats_client.flush()
    assert (await sip_auth(first, "1003", CITY, "third desk password", ip=NAT)).not_found
    print(f"\nphones behind the blocked address refused: {refused_colleagues} of 4 (1 phone blocked)")
    assert refused_colleagues == 0
    assert [(b["address"], b["username"], b["address_wide"]) for b in await platform.blocks()] == \
        [(NAT, f"1003@{CITY}", False)]
    # the other tenant does not see the city's blocked username
    assert await platform.blocks(platform.other_admin, "other") == []


async def test_a_scanner_is_blocked_address_wide_but_not_for_a_tenant_that_trusts_the_address(
        platform: Platform, nats_client: Any) -> None:
    first, second = platform.fsapi
    scanner = "198.51.100.66"
    checked = 0
    for n in range(60):                        # a scanner: every username 100..159, one password each
        reply = await sip_auth(first, str(100 + n), CITY, "1234", ip=scanner)
        checked += 1
        if any(b["address_wide"] and b["address"] == scanner for b in await platform.blocks()):
            break
    print(f"\nscanner guesses before an address-wide block: {checked}")
    assert checked == 10
    assert (await sip_auth(first, "1002", CITY, "colleague password", ip=scanner)).not_found
    # the city lists that address as one of its offices: its phones register from there again
    await platform.directory.patch("/api/v1/tenants/city", {"trusted_networks": ["198.51.100.0/24"]})
    for fsapi in (first, second):              # every replica, once it has applied the change
        deadline = time.monotonic() + 5
        while (await sip_auth(fsapi, "1002", CITY, "colleague password", ip=scanner)).not_found:
            assert time.monotonic() < deadline, "a replica still refuses the trusted office"
            await nats_client.flush()
    assert (await sip_auth(first, "2001", OTHER, "attacker's own phone", ip=scanner)).not_found   # not trusted there
    # from a trusted address, failures block only the username: never the whole address
    office = "198.51.100.7"
    for n in range(40):
        await sip_auth(first, str(300 + n), CITY, "1234", ip=office)
    assert not any(b["address"] == office and b["address_wide"] for b in await platform.blocks())
    assert not (await sip_auth(first, "1002", CITY, "colleague password", ip=office)).not_found
    # a platform administrator lifts the scanner's address-wide block (a tenant admin may not)
    assert (await platform.admin.delete(f"/api/v1/auth_blocks?address={scanner}")).status_code == 403
    assert (await platform.directory.api.delete(f"/api/v1/auth_blocks?address={scanner}")).status_code == 204
    for fsapi in (first, second):
        deadline = time.monotonic() + 5
        while (await sip_auth(fsapi, "2001", OTHER, "attacker's own phone", ip=scanner)).not_found:
            assert time.monotonic() < deadline, "a replica kept the lifted address-wide block"
            await nats_client.flush()
    bad = await platform.admin.patch("/api/v1/tenants/city", json={"trusted_networks": ["not a network"]})
    assert bad.status_code == 422 and bad.json()["details"]["field"] == "trusted_networks"


async def test_admins_list_and_lift_blocks_on_every_replica(platform: Platform, nats_client: Any) -> None:
    first, second = platform.fsapi
    for n in range(10):
        await sip_auth(first, "1001", CITY, f"wrong {n}", ip=NAT)
    listed = await platform.blocks()
    assert [(b["address"], b["username"], b["failures"]) for b in listed] == [(NAT, f"1001@{CITY}", 10)]
    assert 590 <= listed[0]["seconds_left"] <= 600 and listed[0]["last_user"] == "1001"
    assert (await platform.blocks(platform.viewer)) == listed                     # a viewer may read
    lift = f"/api/v1/tenants/city/auth_blocks?address={NAT}&username=1001@{CITY}"
    refused = await platform.viewer.delete(lift)
    assert refused.status_code == 403 and refused.json()["error_id"] == "forbidden"
    assert (await platform.other_admin.delete(lift)).status_code == 403             # another tenant's admin
    foreign = await platform.other_admin.delete(f"/api/v1/tenants/other/auth_blocks?address={NAT}&username=1001@{CITY}")
    assert foreign.status_code == 400 and foreign.json()["details"]["field"] == "username"
    address_wide = await platform.admin.delete(f"/api/v1/tenants/city/auth_blocks?address={NAT}")
    assert address_wide.status_code == 403                                         # platform administrators only
    assert (await platform.admin.delete(lift)).status_code == 204
    assert (await platform.admin.delete(lift)).status_code == 404
    for fsapi in (first, second):                                                   # every replica forgot it
        deadline = time.monotonic() + 5
        while (await sip_auth(fsapi, "1001", CITY, VICTIM_PASSWORD, ip=NAT)).not_found:
            assert time.monotonic() < deadline, "a replica kept the lifted block"
            await nats_client.flush()
    assert await platform.blocks() == []
    everything = await platform.directory.api.get("/api/v1/auth_blocks")
    assert everything.status_code == 200 and everything.json() == {"items": []}
    assert (await platform.admin.get("/api/v1/auth_blocks")).status_code == 403


async def test_guesses_spread_over_replicas_add_up(platform: Platform, nats_client: Any) -> None:
    first, second = platform.fsapi
    checked = 0
    for n in range(30):                     # a guesser alternating between the two replicas
        await sip_auth((first, second)[n % 2], "1001", CITY, f"guess {n}", ip=NAT)
        checked += 1
        await nats_client.flush()           # the failure reached NATS; give the other replica a moment
        await asyncio.sleep(0.02)
        if any(b["username"] == f"1001@{CITY}" for b in await platform.blocks()):
            break
    print(f"\nguesses spread over 2 replicas before a block: {checked}")
    assert checked == 10
    for fsapi in (first, second):
        assert (await sip_auth(fsapi, "1001", CITY, VICTIM_PASSWORD, ip=NAT)).not_found
