"""Console login through the real directory (HTTP, NATS, SQLite): password, TOTP, recovery codes,
lockout without username enumeration, password rules, the session cookie with its CSRF double
submit, renewal, logout and revocation, API tokens."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from hibiki.common.auth import TokenAuthority
from support.directory import Directory, directory_config, running_directory
from support.servers import NatsServer

PASSWORD = "kawa-no-nagare-2026"


@pytest.fixture
async def directory(tmp_path: Path, nats_server: NatsServer, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[Directory]:
    config = directory_config(tmp_path, nats_server, {"HIBIKI_DIRECTORY_LOGIN_MAX_FAILURES": "5"})
    async with running_directory(config, nats_client, authority) as d:
        await d.post("/api/v1/tenants", {"id": "zama", "domain": "zama.example.jp"})
        yield d


async def make_user(d: Directory, login: str = "sato", roles: list[str] | None = None, tenant: str = "zama",
                    **extra: Any) -> dict[str, Any]:
    reply = await d.api.post(f"/api/v1/tenants/{tenant}/console_users", json={
        "login": login, "password": PASSWORD, "roles": roles or ["tenant-admin"], **extra})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def browser(d: Directory) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=d.url)


async def login(client: httpx.AsyncClient, login: str = "sato", password: str = PASSWORD,
                tenant: str = "zama") -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"tenant": tenant, "login": login, "password": password})


async def test_password_login_sets_the_session_cookie_and_me_answers(directory: Directory) -> None:
    await make_user(directory, roles=["tenant-admin"])
    async with browser(directory) as web:
        reply = await login(web)
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "ok"
        cookies = reply.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("hibiki_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
        assert any(c.startswith("hibiki_csrf=") and "HttpOnly" not in c for c in cookies)
        me = (await web.get("/api/v1/auth/me")).json()
        assert me["user"]["login"] == "sato" and me["tenant"] == "zama" and me["session"] is True
        assert "tenant-admin" in me["roles"] and "admin" in me["roles"]        # the legacy name rides along
        # the cookie is a token like the header: the admin API answers it
        assert (await web.get("/api/v1/tenants/zama/users")).status_code == 200


async def test_unsafe_methods_with_the_cookie_need_the_csrf_header(directory: Directory) -> None:
    await make_user(directory)
    async with browser(directory) as web:
        csrf = (await login(web)).json()["csrf"]
        body = {"username": "kato", "extension": "2001"}
        forged = await web.post("/api/v1/tenants/zama/users", json=body)
        assert forged.status_code == 403 and forged.json()["error_id"] == "csrf-failed"
        wrong = await web.post("/api/v1/tenants/zama/users", json=body, headers={"X-Hibiki-CSRF": "x" + csrf})
        assert wrong.status_code == 403
        right = await web.post("/api/v1/tenants/zama/users", json=body, headers={"X-Hibiki-CSRF": csrf})
        assert right.status_code == 201, right.text


async def test_totp_login_and_recovery_codes_are_used_once(directory: Directory) -> None:
    await directory.api.put("/api/v1/tenants/zama/identity_policy",
                            json={"mfa_required": True, "password_min_length": 12, "password_history": 5})
    await make_user(directory)
    async with browser(directory) as web:
        pending = (await login(web)).json()
        assert pending["status"] == "totp_enrolment_required" and pending["qr_svg"].startswith("<svg")
        assert "hibiki_session" not in web.cookies
        totp = pyotp.TOTP(pending["secret"])
        wrong = await web.post("/api/v1/auth/totp", json={"ticket": pending["ticket"], "code": "000000"
                                                          if totp.now() != "000000" else "111111"})
        assert wrong.status_code == 401 and wrong.json()["error_id"] == "invalid-code"
        used = totp.now()
        done = await web.post("/api/v1/auth/totp", json={"ticket": pending["ticket"], "code": used})
        assert done.status_code == 200, done.text
        codes = done.json()["recovery_codes"]
        assert len(codes) == 10 and "hibiki_session" in web.cookies
    async with browser(directory) as web:
        again = (await login(web)).json()
        assert again["status"] == "totp_required"
        replay = await web.post("/api/v1/auth/totp", json={"ticket": again["ticket"], "code": used})
        assert replay.status_code == 401               # the code of a step already used
        first = await web.post("/api/v1/auth/recovery", json={"ticket": again["ticket"], "code": codes[0]})
        assert first.status_code == 200, first.text
    async with browser(directory) as web:
        ticket = (await login(web)).json()["ticket"]
        spent = await web.post("/api/v1/auth/recovery", json={"ticket": ticket, "code": codes[0]})
        assert spent.status_code == 401
        # a ticket is never a token
        assert (await web.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {ticket}"})).status_code == 401


async def test_lockout_answers_the_same_for_known_and_unknown_logins(directory: Directory) -> None:
    await make_user(directory)
    answers: dict[str, list[tuple[int, str]]] = {"sato": [], "nobody": []}
    async with browser(directory) as web:
        for name in answers:
            for _ in range(7):
                reply = await login(web, name, "wrong password 1")
                answers[name].append((reply.status_code, reply.json()["error_id"]))
        right = await login(web, "sato", PASSWORD)
    print(f"\nlogin failures before a lock: {answers['sato'].index((429, 'locked'))}; "
          f"known and unknown logins answered alike: {answers['sato'] == answers['nobody']}")
    assert answers["sato"] == answers["nobody"]
    assert answers["sato"][:5] == [(401, "invalid-credentials")] * 5 and answers["sato"][5] == (429, "locked")
    assert right.status_code == 429          # locked: the right password is refused too
    assert int(right.headers["Retry-After"]) > 0


async def test_password_rules_and_history(directory: Directory) -> None:
    user = await make_user(directory)
    for bad, why in (("short", "characters"), ("Password1234!", "common"), ("sato-is-my-name-1", "login ID")):
        reply = await directory.api.post("/api/v1/tenants/zama/console_users", json={
            "login": "sato" if why == "login ID" else "kato", "password": bad, "roles": ["viewer"]})
        assert reply.status_code in (409, 422), reply.text
        if reply.status_code == 422:
            assert reply.json()["error_id"] == "weak-password" and why in reply.json()["message"]
    async with browser(directory) as web:
        csrf = (await login(web)).json()["csrf"]
        same = await web.post("/api/v1/auth/password", json={"current": PASSWORD, "new": PASSWORD},
                              headers={"X-Hibiki-CSRF": csrf})
        assert same.status_code == 422 and "recently" in same.json()["message"]
        changed = await web.post("/api/v1/auth/password", json={"current": PASSWORD, "new": "umi-no-oto-2027!"},
                                 headers={"X-Hibiki-CSRF": csrf})
        assert changed.status_code == 200, changed.text
        assert (await web.get("/api/v1/auth/me")).status_code == 200          # the new cookie
    assert user["login"] == "sato"


async def test_logout_and_a_disabled_user_end_the_session_on_every_use(directory: Directory) -> None:
    user = await make_user(directory)
    async with browser(directory) as web, browser(directory) as other:
        csrf = (await login(web)).json()["csrf"]
        await login(other)
        assert (await web.get("/api/v1/auth/me")).status_code == 200
        stolen = web.cookies["hibiki_session"]
        out = await web.post("/api/v1/auth/logout", headers={"X-Hibiki-CSRF": csrf})
        assert out.status_code == 204
        assert await refused_soon(directory, stolen)
        await directory.api.patch(f"/api/v1/tenants/zama/console_users/{user['id']}", json={"enabled": False})
        assert await refused_soon(directory, other.cookies["hibiki_session"])
        assert (await login(web)).status_code == 401


async def refused_soon(d: Directory, token: str, seconds: float = 5.0) -> bool:
    """Whether the token is refused within ``seconds`` (the revocation travels over NATS KV)."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=d.url) as client:
        while time.monotonic() < deadline:
            reply = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            if reply.status_code == 401:
                return True
    return False


async def test_api_tokens_are_listed_and_revocable(directory: Directory) -> None:
    user = await make_user(directory, "suzuki", ["viewer"])
    made = await directory.api.post("/api/v1/tenants/zama/api_tokens", json={
        "name": "wallboard tv", "kind": "integration", "roles": ["viewer"]})
    assert made.status_code == 201, made.text
    own = await directory.api.post("/api/v1/tenants/zama/api_tokens", json={
        "name": "suzuki cli", "kind": "user", "user_id": user["id"]})
    assert own.status_code == 201
    token = made.json()["token"]
    async with httpx.AsyncClient(base_url=directory.url, headers={"Authorization": f"Bearer {token}"}) as client:
        assert (await client.get("/api/v1/tenants/zama/users")).status_code == 200
        assert (await client.post("/api/v1/tenants/zama/users", json={"username": "x"})).status_code == 403
    listed = (await directory.api.get("/api/v1/tenants/zama/api_tokens")).json()["items"]
    assert {t["name"] for t in listed} == {"wallboard tv", "suzuki cli"} and all("token" not in t for t in listed)
    assert (await directory.api.delete(f"/api/v1/tenants/zama/api_tokens/{made.json()['id']}")).status_code == 204
    assert await refused_soon(directory, token)


async def test_pages_of_the_other_services_on_the_host_may_renew_the_session(directory: Directory) -> None:
    """The recording page (another port, same host) renews with the cookie and the CSRF header: the
    browser's preflight is answered for that origin only."""
    await make_user(directory)
    port = directory.config.port
    neighbour, stranger = f"http://127.0.0.1:{port + 2}", "http://evil.example"
    async with browser(directory) as web:
        csrf = (await login(web)).json()["csrf"]
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-hibiki-csrf"}
        ok = await web.options("/api/v1/auth/renew", headers={"Origin": neighbour, **ask})
        assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == neighbour
        assert ok.headers["access-control-allow-credentials"] == "true"
        no = await web.options("/api/v1/auth/renew", headers={"Origin": stranger, **ask})
        assert "access-control-allow-origin" not in no.headers
        renewed = await web.post("/api/v1/auth/renew", headers={"Origin": neighbour, "X-Hibiki-CSRF": csrf})
        assert renewed.status_code == 200 and renewed.headers["access-control-allow-origin"] == neighbour
        assert renewed.json()["expires_at"] > time.time()
        refused = await web.post("/api/v1/auth/renew", headers={"Origin": stranger})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


async def test_a_deleted_tenant_takes_its_console_users_and_sessions_with_it(directory: Directory) -> None:
    await make_user(directory)
    async with browser(directory) as web:
        assert (await login(web)).status_code == 200
        session = web.cookies["hibiki_session"]
        assert (await directory.api.delete("/api/v1/tenants/zama")).status_code == 204
        assert await refused_soon(directory, session)
        assert (await login(web)).status_code == 401
