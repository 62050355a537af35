"""Issue 10 item 1 (critical): dial-string injection through an agent's device, replayed end to end
(directory, callcontrol, ACD, NATS, the FreeSWITCH emulator as the switch).

The attack: an agent logs in with a device that is a dial string of its own (the issue's
``nobody@<domain>,[execute_on_answer=...]user/2003@<domain>,[leg_timeout=5]sofia/gateway/...``)
so the next queue call rings extra legs. Every way in is tried: gRPC ``AgentLogin`` (service
token), the HTTP agent desktop (the tenant's admin, the agent's own token), the replicas'
forwarding method, and the ``*50`` feature code with a forged ``hibiki_agent_device``. A device
the directory does not know for the tenant (another tenant's included) is refused the same way.
Then a real login and a queue call: the bridge FreeSWITCH is asked for has exactly one leg.
Printed: hostile logins tried and accepted (0), legs in the bridge (1)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import grpc
import httpx

from hibiki.acd.v1 import acd_pb2
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.rpc import token_metadata
from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc
from test_acd_end_to_end import DOMAIN, Center, bridges, center, seat
from test_agent_feature_codes import dialplan as agent_dialplan

ISSUE_DEVICE = (f"nobody@{DOMAIN},[execute_on_answer=log CRIT HIBIKI_SEC_INJECTED_ON_ANSWER]user/2202@{DOMAIN},"
                "[leg_timeout=5]sofia/gateway/carrier/0990123456")
HOSTILE = [ISSUE_DEVICE, "2201,user/2202", "2201|user/2202", "{origination_caller_id_number=110}2201",
           "${system(id)}", "2201 XML default", f"2201@{DOMAIN}", "nobody", "2299", "7777"]


def _legs(dial: str) -> int:
    depth, count = 0, 1
    for ch in dial:
        depth += ch in "[{<"
        depth -= ch in "]}>"
        count += depth == 0 and ch in ",|"
    return count


async def _other_tenant_device(c: Center) -> None:
    """Another tenant whose user 7777 the directory knows (so 7777 exists, but not here)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{c.directory.port}/api/v1",
                                 headers={"Authorization": f"Bearer {c.token}"}) as api:
        other = f"{c.tenant}x"
        assert (await api.post("/tenants", json={"id": other, "domain": f"other.{DOMAIN}"})).status_code == 201
        assert (await api.post(f"/tenants/{other}/users", json={"username": "yoso", "extension": "7777"})).status_code == 201
    async with grpc.aio.insecure_channel(f"127.0.0.1:{c.directory.grpc_port}") as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        for _ in range(100):
            try:
                await stub.ResolveDevice(directory_pb2.ResolveDeviceRequest(tenant=other, device="7777"),
                                         metadata=token_metadata(c.token))
                return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.05)
    raise AssertionError("the other tenant's device never reached the directory's view")


async def test_a_hostile_device_is_refused_everywhere_and_a_queue_call_rings_one_leg(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    queues = [{"id": "night"}, {"id": "water", "skills": {"water": 1}}]
    async with center(tmp_path, nats_server, nats_client, authority, queues) as c:
        await c.put("/agents/301", {"skills": {"water": 2}, "queues": ["water"]})   # *50 takes digits only
        await _other_tenant_device(c)
        agent_token = authority.issue(Claims("a1", "user", c.tenant, ("agent",)))
        admin_token = authority.issue(Claims("kanri", "user", c.tenant, ("admin",)))
        base = f"http://127.0.0.1:{c.acd_config.port}/api/v1/tenants/{c.tenant}"
        tried, accepted, statuses = 0, [], {}
        async with grpc.aio.insecure_channel(f"127.0.0.1:{c.acd_config.grpc_port}") as channel, \
                httpx.AsyncClient(base_url=base) as http:
            peer = channel.unary_unary("/hibiki.acd.internal.Peer/Execute")

            async def grpc_login(device: str) -> str:
                try:
                    await c.acd.AgentLogin(acd_pb2.AgentLoginRequest(tenant=c.tenant, agent_id="a1", device=device),
                                           metadata=c.metadata)
                    return "OK"
                except grpc.aio.AioRpcError as exc:
                    return exc.code().name

            async def peer_login(device: str) -> str:
                payload = json.dumps({"tenant": c.tenant, "op": "login", "args": {"agent_id": "a1", "device": device}})
                try:
                    await peer(payload.encode(), metadata=token_metadata(admin_token))
                    return "OK"
                except grpc.aio.AioRpcError as exc:
                    return exc.code().name

            async def http_login(device: str, token: str) -> str:
                reply = await http.post("/agents/a1/login", json={"device": device},
                                        headers={"Authorization": f"Bearer {token}"})
                assert reply.status_code < 500, reply.text
                return "OK" if reply.status_code < 300 else f"{reply.status_code} {reply.json()['error_id']}"

            async def feature_code(device: str) -> str:
                """*501 from a forged session: hibiki_agent_device as the attacker set it."""
                xml = agent_dialplan(c.tenant, f"127.0.0.1:{c.callcontrol.esl_port}", "agent:login:301",
                                     quoteattr(device)[1:-1])
                call = await c.emu.place_call(destination="*5x", caller_id_number="2201", dialplan_xml=xml)
                await asyncio.wait_for(call.finished, 15)
                state = (await http.get("/agents/301/state", headers={"Authorization": f"Bearer {c.token}"})).json()
                return "OK" if state["state"] != "logged_out" else "refused"

            ways = {"gRPC AgentLogin": grpc_login, "Peer/Execute": peer_login,
                    "HTTP admin": lambda d: http_login(d, admin_token),
                    "HTTP agent itself": lambda d: http_login(d, agent_token), "*50 feature code": feature_code}
            for device in HOSTILE:
                for way, attempt in ways.items():
                    tried += 1
                    outcome = await attempt(device)
                    statuses[outcome] = statuses.get(outcome, 0) + 1
                    if outcome == "OK":
                        accepted.append(f"{way}: {device!r}")
            a1 = (await http.get("/agents/a1/state", headers={"Authorization": f"Bearer {c.token}"})).json()

        # the real thing: a1 on its seat, a caller through the IVR into the queue, a1 answers
        c.endpoints[seat("a1")] = 0.5
        await c.login("a1")
        call = await c.dial(["1", "1", "3"])
        await c.bus.wait("ended", lambda m: m.meta.call_uuid == call.uuid)
        await asyncio.wait_for(call.finished, 10)
        (bridge,) = bridges(call)
    print(f"\nhostile logins tried: {tried} ({len(HOSTILE)} devices x {len(ways)} ways), accepted: {len(accepted)}, "
          f"outcomes: {dict(sorted(statuses.items()))}")
    print(f"legs in the bridge built for the queue call: {_legs(bridge)} ({bridge})")
    assert not accepted, accepted
    assert a1["state"] == "logged_out"
    assert _legs(bridge) == 1 and bridge == f"[hibiki_agent=a1,hibiki_queue=water,leg_timeout=20]user/2201@{DOMAIN}"
