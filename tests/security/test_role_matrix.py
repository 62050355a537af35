"""Issue 14: one role rule (``hibiki.common.roles``) on every API of every service. The five services
run as operators run them (``hibiki serve``, one process each, one NATS); tokens of every role walk
one request per resource x action on each service, over HTTP and gRPC, and each answer is held
against the rule (the own page: ``own_page_refusal``, a self-service token linked to the page's
user or to another): a violation is a request that got through (anything but 401/403, or
PERMISSION_DENIED) for a token the rule refuses, or was refused to one it allows. Printed: cells
walked and violations (0).

Then the console session across services: a console user logs in at the directory; the
``hibiki_session`` cookie opens the other four services' APIs (cookies ignore ports), an unsafe
request there without ``X-Hibiki-CSRF`` is refused, and after the logout every service refuses
the same cookie (the revocation travels over NATS KV)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common import roles
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.rpc import token_metadata
from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc
from support.served import Served, serve
from support.servers import NatsServer, free_port

pytestmark = pytest.mark.slow
HOST = "127.15.0.1"
T = "matrix"
AUTHORITY = TokenAuthority(b"s" * 48)        # support.served's secret
PASSWORD = "kawa-no-nagare-2026"
OWN = "jibun"                                 # the directory user of the own-page cells


@dataclass
class Stack:
    urls: dict[str, str]
    directory_grpc: str
    acd_grpc: str
    own: str                         # a directory user: the self-service tokens' own page


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, nats_server: NatsServer) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("matrix")
    d_grpc, a_grpc, d_http, c_http = free_port(), free_port(), free_port(), free_port()
    nowhere = f"{HOST}:{free_port()}"
    nats = {"HIBIKI_NATS_URL": nats_server.url}
    envs = {
        "directory": {**nats, "HIBIKI_DIRECTORY_GRPC_PORT": str(d_grpc)},
        "acd": {**nats, "HIBIKI_ACD_GRPC_PORT": str(a_grpc), "HIBIKI_ACD_DIRECTORY_GRPC": f"{HOST}:{d_grpc}",
                "HIBIKI_ACD_CALLCONTROL_HTTP": f"http://{HOST}:{c_http}"},     # the supervisor page's proxy
        "callcontrol": {**nats, "HIBIKI_CALLCONTROL_ESL_PORT": str(free_port()),
                        "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": nowhere, "HIBIKI_CALLCONTROL_ACD_GRPC": nowhere,
                        "HIBIKI_CALLCONTROL_DIRECTORY_HTTP": f"http://{HOST}:{d_http}"},
        "recording": {**nats, "HIBIKI_RECORDING_CONSUMER": f"rec-{uuid.uuid4().hex[:6]}"},
        "analytics": {**nats, "HIBIKI_ANALYTICS_ACD_URL": f"http://{HOST}:{free_port()}"},
    }
    with serve("directory", HOST, root / "directory", envs["directory"], port=d_http) as d, \
            serve("acd", HOST, root / "acd", envs["acd"]) as a, \
            serve("callcontrol", HOST, root / "callcontrol", envs["callcontrol"], port=c_http) as c, \
            serve("recording", HOST, root / "recording", envs["recording"]) as r, \
            serve("analytics", HOST, root / "analytics", envs["analytics"]) as an:
        for reply in (httpx.post(d.url + "/api/v1/tenants", headers=d.headers, json={"id": T, "domain": "m.example.jp"}),
                      httpx.put(f"{a.url}/api/v1/tenants/{T}/queues/q", headers=a.headers, json={})):
            assert reply.status_code == 201, reply.text
        own = httpx.post(f"{d.url}/api/v1/tenants/{T}/users", headers=d.headers, json={"username": OWN})
        assert own.status_code == 201, own.text
        yield Stack({"directory": d.url, "acd": a.url, "acd proxy": a.url, "callcontrol": c.url, "recording": r.url, "analytics": an.url},
                    f"{HOST}:{d_grpc}", f"{HOST}:{a_grpc}", own.json()["id"])


def who() -> dict[str, Claims]:
    tokens = {role: Claims(f"u-{role}", "user", T, (role,)) for role in (*roles.ROLES, *roles.LEGACY)
              if role not in (roles.PLATFORM_OPERATOR, "platform-admin")}
    tokens.update({
        "platform-operator": Claims("root", "user", "*", (roles.PLATFORM_OPERATOR,)),
        "platform-admin (legacy)": Claims("root", "user", "*", ("platform-admin",)),
        "no role": Claims("dareka", "user", T, ()),
        "another tenant's tenant-admin": Claims("yoso", "user", "elsewhere", (roles.TENANT_ADMIN,)),
        "another tenant's auditor": Claims("yoso", "user", "elsewhere", (roles.AUDITOR,)),
        "self-service of another user": Claims("tanin", "user", T, (roles.SELF_SERVICE,), directory_user=RID),
        "service": Claims("svc", "service"),
    })
    return tokens


RID = str(uuid.uuid4())
n = 0


def _unique() -> str:
    global n
    n += 1
    return f"{n:04d}"


# (service, resource, action) -> (method, path under /api/v1/tenants/{T}, body)
HTTP: dict[tuple[str, str, str], tuple[str, str, Any]] = {
    ("directory", roles.CONFIG, "read"): ("GET", "/users", None),
    ("directory", roles.CONFIG, "write"): ("POST", "/users", "user"),
    ("directory", roles.CONSOLE_USERS, "read"): ("GET", "/console_users", None),
    ("directory", roles.CONSOLE_USERS, "write"): ("POST", "/console_users", {}),
    ("directory", roles.AUDIT, "read"): ("GET", "/audit", None),
    ("directory", roles.RECORDING_POLICY, "read"): ("GET", "/recording_policy", None),
    ("directory", roles.RECORDING_POLICY, "write"): ("PUT", "/recording_policy", {"rules": "not a list"}),
    ("acd", roles.ACD, "read"): ("GET", "/queues", None),
    ("acd", roles.ACD, "write"): ("PUT", "/queues/q", {}),
    ("acd", roles.SUPERVISION, "read"): ("GET", "/supervisor/overview", None),     # the supervisor page's view
    # the supervisor page's listen/whisper/barge: the ACD passes the caller's credentials on to callcontrol
    ("acd proxy", roles.SUPERVISION, "write"): ("POST", f"/calls/{RID}/supervision",
                                                {"mode": "listen", "device": "2001"}),
    ("callcontrol", roles.PROMPTS, "read"): ("GET", "/prompts", None),
    ("callcontrol", roles.PROMPTS, "write"): ("DELETE", f"/prompts/{RID}", None),
    ("callcontrol", roles.CALLS, "write"): ("POST", f"/calls/{RID}/recording", {"action": "start"}),
    ("callcontrol", roles.SUPERVISION, "write"): ("POST", f"/calls/{RID}/supervision",
                                                  {"mode": "listen", "device": "2001"}),
    ("recording", roles.RECORDINGS, "read"): ("GET", "/recordings", None),
    ("recording", roles.RECORDINGS, "write"): ("DELETE", f"/recordings/{RID}", None),
    ("recording", roles.RECORDING_AUDIT, "read"): ("GET", "/recording-audit", None),
    ("analytics", roles.REPORTS, "read"): ("GET", "/reports/sla", None),
    ("analytics", roles.REPORTS, "write"): ("PUT", "/reports/sla", {"not": "targets"}),
    ("analytics", roles.WALLBOARD, "read"): ("GET", "/wallboard", None),
    ("directory", roles.OWN_PAGE, "read"): ("GET", "/users/{own}/own", None),
    ("directory", roles.OWN_PAGE, "write"): ("PUT", "/users/{own}/forwarding", {"forward_busy": "2002"}),
}


async def _grpc_cells(stack: Stack, token: str) -> dict[tuple[str, str, str], bool]:
    """gRPC: whether each call got past the role check."""
    md = token_metadata(token)
    out: dict[tuple[str, str, str], bool] = {}
    async with grpc.aio.insecure_channel(stack.directory_grpc) as d, grpc.aio.insecure_channel(stack.acd_grpc) as a:
        calls = {
            ("directory gRPC", roles.CONFIG, "read"): directory_pb2_grpc.DirectoryServiceStub(d).GetTenantVersion(
                directory_pb2.GetTenantVersionRequest(tenant=T), metadata=md, timeout=10),
            ("acd gRPC", roles.ACD, "read"): acd_pb2_grpc.AcdServiceStub(a).GetQueueSnapshot(
                acd_pb2.GetQueueSnapshotRequest(tenant=T, queue_id="q"), metadata=md, timeout=10),
            ("acd gRPC", roles.ACD, "write"): acd_pb2_grpc.AcdServiceStub(a).Cancel(
                acd_pb2.CancelRequest(tenant=T, call_uuid="none"), metadata=md, timeout=10),
        }
        for cell, call in calls.items():
            try:
                await call
                out[cell] = True
            except grpc.aio.AioRpcError as exc:
                out[cell] = exc.code() not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
    return out


async def test_every_role_on_every_resource_of_every_service(stack: Stack) -> None:
    violations: list[str] = []
    cells = 0
    async with httpx.AsyncClient(timeout=30) as http:
        for name, claims in who().items():
            username = f"m{_unique()}"
            if roles.DELEGATED_ADMIN in claims.roles:     # the rule allows, the directory narrows to the scope
                claims = dataclasses.replace(claims, scope=(f"user:{username}", f"user:{OWN}"))
            if roles.SELF_SERVICE in claims.roles and not claims.directory_user:   # a console user's link
                claims = dataclasses.replace(claims, directory_user=stack.own)
            token = AUTHORITY.issue(claims)
            observed: dict[tuple[str, str, str], bool] = {}
            for (service, resource, action), (method, path, body) in HTTP.items():
                if body == "user":
                    body = {"username": username}
                reply = await http.request(method, f"{stack.urls[service]}/api/v1/tenants/{T}{path.format(own=stack.own)}",
                                           json=body,
                                           headers={"Authorization": f"Bearer {token}"})
                assert reply.status_code < 500 or reply.status_code == 503, (name, service, path, reply.text[:300])
                observed[(service, resource, action)] = reply.status_code not in (401, 403)
            observed.update(await _grpc_cells(stack, token))
            for (service, resource, action), through in observed.items():
                expected = (roles.own_page_refusal(claims, T, stack.own, action) if resource == roles.OWN_PAGE  # type: ignore[arg-type]
                            else roles.refusal(claims, T, resource, action)) is None   # type: ignore[arg-type]
                cells += 1
                if through != expected:
                    violations.append(f"{name}: {service} {resource} {action}: "
                                      f"{'got through' if through else 'refused'}, the rule says "
                                      f"{'allow' if expected else 'refuse'}")
    print(f"\nrole matrix: {len(who())} tokens x {len(HTTP) + 3} requests (5 services, HTTP and gRPC) = {cells} "
          f"cells, {len(violations)} violations")
    assert not violations, "\n".join(violations)


async def test_one_login_covers_every_service_and_the_logout_reaches_them_all(stack: Stack) -> None:
    directory = stack.urls["directory"]
    service = AUTHORITY.issue(Claims("setup", "service"))
    made = httpx.post(f"{directory}/api/v1/tenants/{T}/console_users", headers={"Authorization": f"Bearer {service}"},
                      json={"login": "kanri", "password": PASSWORD, "roles": ["tenant-admin", "supervisor"]})
    assert made.status_code == 201, made.text
    reads = {"directory": "/users", "acd": "/queues", "callcontrol": "/prompts", "analytics": "/reports/sla",
             "recording": None}
    async with httpx.AsyncClient(timeout=30) as http:
        login = await http.post(f"{directory}/api/v1/auth/login",
                                json={"tenant": T, "login": "kanri", "password": PASSWORD})
        assert login.status_code == 200, login.text
        session, csrf = login.cookies["hibiki_session"], login.cookies["hibiki_csrf"]
        jar = {"Cookie": f"hibiki_session={session}; hibiki_csrf={csrf}"}
        for name, path in reads.items():
            if path is None:
                continue      # recordings are not a tenant admin's (REC-06)
            reply = await http.get(f"{stack.urls[name]}/api/v1/tenants/{T}{path}", headers=jar)
            assert reply.status_code == 200, (name, reply.text)
        forged = await http.put(f"{stack.urls['acd']}/api/v1/tenants/{T}/queues/q2", json={}, headers=jar)
        assert forged.status_code == 403 and forged.json()["error_id"] == "csrf-failed"
        right = await http.put(f"{stack.urls['acd']}/api/v1/tenants/{T}/queues/q2", json={},
                               headers={**jar, "X-Hibiki-CSRF": csrf})
        assert right.status_code == 201, right.text
        out = await http.post(f"{directory}/api/v1/auth/logout", headers={**jar, "X-Hibiki-CSRF": csrf})
        assert out.status_code == 204
        started, refused = time.monotonic(), {}
        for name, path in reads.items():
            url = f"{stack.urls[name]}/api/v1/tenants/{T}{path or '/recordings'}"
            while time.monotonic() - started < 10:
                reply = await http.get(url, headers=jar)
                if reply.status_code == 401:
                    refused[name] = round(time.monotonic() - started, 3)
                    break
                await asyncio.sleep(0.05)
    print(f"\nafter the logout, the cookie refused by: {refused} (seconds after the logout)")
    assert set(refused) == set(reads)
