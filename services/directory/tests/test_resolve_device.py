"""DirectoryService.ResolveDevice (what the ACD resolves an agent's login device with) and the
routes a DID may store, against the real directory service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.rpc import token_metadata
from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc
from support.directory import Directory, directory_config, running_directory


@pytest.fixture
async def directory(tmp_path: Path, nats_server: Any, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as d:
        for tenant in ("shiojiri", "zama"):
            await d.post("/api/v1/tenants", {"id": tenant, "domain": f"{tenant}.example.jp"})
        yield d


async def resolve(d: Directory, tenant: str, device: str, claims: Claims | None = None) -> Any:
    token = d.authority.issue(claims or Claims("acd", "service"))
    async with grpc.aio.insecure_channel(d.grpc_address) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        return await stub.ResolveDevice(directory_pb2.ResolveDeviceRequest(tenant=tenant, device=device),
                                        metadata=token_metadata(token), timeout=5)


async def code(d: Directory, tenant: str, device: str, claims: Claims | None = None) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await resolve(d, tenant, device, claims)
    return refused.value.code()


async def test_a_device_by_extension_username_or_sip_username_in_the_directory_s_spelling(directory: Directory) -> None:
    d = directory
    user = await d.post("/api/v1/tenants/shiojiri/users", {"username": "sato", "extension": "2001"})
    await d.post("/api/v1/tenants/shiojiri/devices", {"user_id": user["id"], "sip_username": "sato-Desk",
                                                      "password": "x" * 16})
    await d.post("/api/v1/tenants/zama/users", {"username": "suzuki", "extension": "3001"})
    for asked in ("2001", "sato", "sato-Desk"):
        found = await resolve(d, "shiojiri", asked)
        assert (found.device, found.user_id, found.extension, found.domain, found.tenant) == \
            (asked, user["id"], "2001", "shiojiri.example.jp", "shiojiri")
    assert await code(d, "shiojiri", "3001") == grpc.StatusCode.NOT_FOUND       # zama's, not shiojiri's
    assert await code(d, "shiojiri", "2002") == grpc.StatusCode.NOT_FOUND
    assert await code(d, "nowhere", "2001") == grpc.StatusCode.NOT_FOUND
    for hostile in ("2001,user/3001", "2001@zama.example.jp", "[x=1]2001", "${system(id)}", "2001 ", "", "a" * 65):
        assert await code(d, "shiojiri", hostile) == grpc.StatusCode.INVALID_ARGUMENT, hostile
    viewer = Claims("miru", "user", "shiojiri", ("viewer",))
    assert (await resolve(d, "shiojiri", "2001", viewer)).device == "2001"
    for refused in (Claims("a1", "user", "shiojiri", ("agent",)), Claims("x", "user", "shiojiri", ()),
                    Claims("kanri", "user", "zama", ("admin",))):
        assert await code(d, "shiojiri", "2001", refused) == grpc.StatusCode.PERMISSION_DENIED


async def test_a_did_route_stores_no_text_freeswitch_would_expand(directory: Directory) -> None:
    d = directory
    base = "/api/v1/tenants/shiojiri/dids"
    hostile = [("announcement", "${system(touch /tmp/hibiki-pwned)}"), ("announcement", "../../etc/passwd"),
               ("announcement", "a.wav XML default"), ("queue", "water,${system(id)}"), ("queue", "water queue")]
    for kind, target in hostile:
        reply = await d.call("POST", base, {"number": "0263520001", "target_kind": kind, "target": target})
        assert reply.status_code == 422 and reply.json()["details"]["field"] == "target", (kind, target, reply.text)
        branch = await d.call("POST", base, {"number": "0263520001", "target_kind": "queue", "target": "water",
                                             "branches": {"override:disaster": {"kind": kind, "target": target}}})
        assert branch.status_code == 422, branch.text
    ok = await d.call("POST", base, {"number": "0263520001", "target_kind": "announcement",
                                     "target": "hibiki/災害のお知らせ.wav"})
    assert ok.status_code == 201, ok.text
