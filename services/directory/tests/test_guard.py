"""Password-scanner protection: the digest check against real captures, the counting
rules (per username, scanners per address), and two directory replicas refusing a guessed username together."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsemu.xml_curl import XmlCurlClient
from hibiki.common.auth import TokenAuthority
from hibiki.directory.app import main
from hibiki.directory.guard import ADDRESS_WIDE, AuthGuard, digest_matches
from hibiki.directory.xmlcurl import FsRequest, parse
from hibiki.events.v1 import security_pb2
from support.directory import directory_config, fsapi_url, running_directory
from support.servers import FIXTURES, running

CAPTURES = sorted((FIXTURES / "xml_curl").glob("*.body"))
PASSWORDS = {"1000": "1234", "1001": "1234", "2000": "secret2000"}  # vanilla FreeSWITCH and the served user 2000


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_digests_of_a_real_freeswitch_verify() -> None:
    checked = 0
    for path in CAPTURES:
        request = parse(path.read_bytes())
        if request.action != "sip_auth":
            continue
        realm = request.get("sip_auth_realm")
        right = md5(f"{request.user}:{realm}:{PASSWORDS[request.user]}")
        assert digest_matches(request, right) is True, path.name
        assert digest_matches(request, md5(f"{request.user}:{realm}:wrong")) is False, path.name
        checked += 1
    assert checked >= 10


@given(a1=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40), nonce=st.text(max_size=20),
       cnonce=st.text(max_size=20), qop=st.sampled_from(["", "auth"]), method=st.sampled_from(["REGISTER", "INVITE"]))
def test_a_response_matches_only_its_own_a1(a1: str, other: str, nonce: str, cnonce: str, qop: str, method: str) -> None:
    ha1, ha1_other = md5(a1), md5(other)
    ha2 = md5(f"{method}:sip:x")
    response = md5(f"{ha1}:{nonce}:00000001:{cnonce}:{qop}:{ha2}") if qop else md5(f"{ha1}:{nonce}:{ha2}")
    fields = {"sip_auth_response": response, "sip_auth_nonce": nonce, "sip_auth_cnonce": cnonce,
              "sip_auth_qop": qop, "sip_auth_nc": "00000001", "sip_auth_uri": "sip:x", "sip_auth_method": method}
    request = FsRequest("directory", fields)
    assert digest_matches(request, ha1) is True
    assert digest_matches(request, ha1_other) is (ha1 == ha1_other)
    assert digest_matches(FsRequest("directory", {}), ha1) is None


def test_one_username_from_one_address_is_blocked_alone() -> None:
    now = [0.0]
    guard = AuthGuard(max_failures=3, window=60, block_seconds=600, scanner_usernames=3, clock=lambda: now[0])
    victim = "1000@d"
    assert guard.failure("192.0.2.9", victim, "1000", "d") is None
    now[0] = 61  # the first failure left the window
    assert guard.failure("192.0.2.9", victim, "1000", "d") is None
    assert guard.failure("192.0.2.9", victim, "1000", "d") is None
    block = guard.failure("192.0.2.9", victim, "1000", "d", tenant="t")
    assert block is not None and (block.username, block.failures, block.tenant) == (victim, 3, "t")
    assert not block.address_wide
    assert guard.refusal("192.0.2.9", victim) is block
    assert guard.refusal("192.0.2.9", "1001@d") is None       # the colleague behind the same NAT goes on
    assert guard.refusal("192.0.2.10", victim) is None        # and the owner from elsewhere
    now[0] = 61 + 600
    assert guard.refusal("192.0.2.9", victim) is None


def test_a_success_clears_only_its_own_username() -> None:
    guard = AuthGuard(max_failures=3, window=60, block_seconds=600, clock=lambda: 0.0)
    guard.failure("192.0.2.9", "victim@d", "victim", "d")
    guard.failure("192.0.2.9", "victim@d", "victim", "d")
    guard.success("192.0.2.9", "attacker@d")                   # the attacker's own valid login
    assert guard.failure("192.0.2.9", "victim@d", "victim", "d") is not None
    guard.failure("192.0.2.9", "other@d", "other", "d")
    guard.failure("192.0.2.9", "other@d", "other", "d")
    guard.success("192.0.2.9", "other@d")                      # its own failures are forgiven
    assert guard.failure("192.0.2.9", "other@d", "other", "d") is None


def test_a_scanner_blocks_the_address_but_not_for_a_tenant_that_trusts_it() -> None:
    now = [0.0]
    guard = AuthGuard(max_failures=6, window=60, block_seconds=600, scanner_usernames=3, clock=lambda: now[0])
    assert [guard.failure("192.0.2.9", f"{n}@d", str(n), "d") for n in (1, 1, 1, 1, 1)] == [None] * 5
    block = guard.failure("192.0.2.9", "2@d", "2", "d")        # six failures, but only two usernames
    assert block is None
    block = guard.failure("192.0.2.9", "3@d", "3", "d")        # a third username: a scanner
    assert block is not None and block.address_wide and block.failures == 7
    assert guard.refusal("192.0.2.9", "anyone@x") is block
    assert guard.refusal("192.0.2.9", "anyone@x", trusted=True) is None
    # failures from a trusted office address never add up to an address-wide block
    for n in range(20):
        guard.failure("198.51.100.7", f"{n}@office", str(n), "office", trusted=True)
    assert not any(b.address_wide and b.address == "198.51.100.7" for b in guard.blocks())
    assert guard.lift("192.0.2.9", ADDRESS_WIDE) is block and guard.refusal("192.0.2.9", "anyone@x") is None


@given(st.lists(st.tuples(st.sampled_from(["192.0.2.1", "192.0.2.2"]), st.sampled_from(["a@d", "b@d", "c@d"]),
                          st.booleans(), st.floats(0, 5)), max_size=80))
def test_no_username_is_guessed_more_than_the_limit_within_a_window(steps: list[tuple[str, str, bool, float]]) -> None:
    """Whatever interleaving of failures and successes (of other usernames), one username from one
    address gets at most ``max_failures`` wrong answers checked per window before it is refused."""
    now = [0.0]
    guard = AuthGuard(max_failures=4, window=60, block_seconds=600, scanner_usernames=10, clock=lambda: now[0])
    checked: dict[tuple[str, str], int] = {}
    for address, name, right, pause in steps:
        now[0] += pause
        if guard.refusal(address, name) is not None:
            continue
        if right and name != "a@d":        # anyone but the victim may log in correctly
            guard.success(address, name)
            continue
        if name == "a@d":
            checked[(address, name)] = checked.get((address, name), 0) + 1
        guard.failure(address, name, name[0], "d")
    assert all(count <= 4 for count in checked.values())


@dataclasses.dataclass
class Replicas:
    urls: list[str]


@pytest.fixture
async def replicas(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Replicas]:
    configs = [directory_config(tmp_path, nats_server, {"HIBIKI_DIRECTORY_AUTH_MAX_FAILURES": "3"})
               for _ in range(2)]   # one store, two replicas
    async with running_directory(configs[0], nats_client, authority, "lab") as directory, running(main, configs[1]):
        await directory.post("/api/v1/tenants", {"id": "lab", "domain": "127.0.0.1"})
        user = await directory.post("/api/v1/tenants/lab/users", {"username": "u1001", "extension": "1001"})
        await directory.post("/api/v1/tenants/lab/devices", {
            "user_id": user["id"], "sip_username": "1001", "password": "right password!"})
        for _ in range(3):   # three more config.applied: with the three awaited above, both replicas applied all
            await directory.applied.next_msg(timeout=5)
        yield Replicas([fsapi_url(c) for c in configs])


async def test_a_guessed_username_is_refused_by_every_replica(replicas: Replicas, nats_client: Any) -> None:
    blocked = await nats_client.subscribe("hibiki.lab.security.address_blocked")
    await nats_client.flush()  # the server knows the subscription before we act
    first, second = (XmlCurlClient(url) for url in replicas.urls)
    # The captured REGISTER of 1001 carries a digest made with another password: a failure each time.
    scan = (FIXTURES / "xml_curl" / "xml_curl_directory_sip_auth_REGISTER.body").read_bytes()
    for _ in range(3):
        reply = await first.post(scan)
        assert reply.not_found   # no a1-hash for a digest that does not verify
    event = security_pb2.AddressBlocked.FromString((await blocked.next_msg(timeout=5)).data)
    assert (event.address, event.failures, event.last_user, event.meta.tenant) == ("127.0.0.1", 3, "1001", "lab")
    assert event.username == "1001@127.0.0.1"   # that username from that address, not the whole address
    assert (await first.post(scan)).not_found
    # The other replica heard it too; even the right password is refused from that address now.
    right = good_register(second)
    deadline = time.monotonic() + 5   # until the second replica has applied the event it was sent
    while not (refused := (await second.post(right)).not_found) and time.monotonic() < deadline:
        await nats_client.flush()
    assert refused
    other_address = good_register(second, ip="192.0.2.44")
    assert not (await second.post(other_address)).not_found
    await blocked.unsubscribe()


def good_register(client: XmlCurlClient, ip: str = "127.0.0.1") -> bytes:
    ha1 = md5("1001:127.0.0.1:right password!")
    nonce, cnonce, uri = "n-1", "c-1", "sip:127.0.0.1"
    response = md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{md5(f'REGISTER:{uri}')}")
    return client.directory_body(user="1001", domain="127.0.0.1", action="sip_auth", sip_auth_method="REGISTER",
                                 sip_auth_response=response, sip_auth_nonce=nonce, sip_auth_cnonce=cnonce,
                                 sip_auth_nc="00000001", sip_auth_qop="auth", sip_auth_uri=uri, ip=ip)
