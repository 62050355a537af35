"""Issue 10 item 1 on the real switch: the dial-string injection through an agent's device.

The attack run logged an agent in with the device
``nobody@<domain>,[execute_on_answer=log CRIT ...]user/<ext>@<domain>,[leg_timeout=5]sofia/gateway/...``
and the next queue call made FreeSWITCH ring three legs and run an application on answer. Here the
same logins (the agent's own token over HTTP, a service token over gRPC) are refused and leave the
agent logged out; then the agent logs in with its phone, a carrier call to the queue's number is put
through, and the bridge FreeSWITCH ran has exactly one leg, to that phone, and nothing ran on answer."""

from __future__ import annotations

import re

import grpc
import pytest

from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common.rpc import token_metadata
from support.switch import sipp
from support.switch.bench import Extension, SwitchBench

TENANT = "acdsec"
DID = "0762209999"
MARKER = "HIBIKI_SEC_INJECTED_ON_ANSWER"


@pytest.fixture(scope="module")
def seat(bench: SwitchBench) -> Extension:
    bench.tenant(TENANT)
    phone = bench.extension(TENANT, "2003")[0]
    bench.extension(TENANT, "2004")
    bench.acd.put(f"/api/v1/tenants/{TENANT}/queues/water", {"offer_timeout_seconds": 20})
    bench.acd.put(f"/api/v1/tenants/{TENANT}/agents/202", {"queues": ["water"]})
    bench.directory.post(f"/api/v1/tenants/{TENANT}/dids", {"number": DID, "target_kind": "queue", "target": "water"})
    return phone


def legs(dial: str) -> int:
    depth, count = 0, 1
    for ch in dial:
        depth += ch in "[{<"
        depth -= ch in "]}>"
        count += depth == 0 and ch in ",|"
    return count


def test_the_injected_device_is_refused_and_a_queue_call_rings_one_leg(bench: SwitchBench, seat: Extension) -> None:
    domain = seat.domain
    hostile = [f"nobody@{domain},[execute_on_answer=log CRIT {MARKER}]user/2004@{domain},"
               "[leg_timeout=5]sofia/gateway/carrier/0990123456", f"2004,user/2004@{domain}", "2099", "${system(id)}"]
    agent = bench.stack.token("202", TENANT, ("agent",))
    service = bench.stack.token("callcontrol", "*", (), service=True)
    base = f"/api/v1/tenants/{TENANT}/agents/202"
    refused = 0
    with grpc.insecure_channel(f"127.0.0.1:{bench.stack.port('ACD_GRPC_PORT')}") as channel:
        stub = acd_pb2_grpc.AcdServiceStub(channel)
        for device in hostile:
            reply = bench.acd.http.post(f"{base}/login", json={"device": device},
                                        headers={"Authorization": f"Bearer {agent}"})
            refused += reply.status_code == 400
            with pytest.raises(grpc.RpcError) as grpc_refused:
                stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=TENANT, agent_id="202", device=device, ready=True),
                                metadata=token_metadata(service), timeout=10)
            refused += grpc_refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT   # type: ignore[attr-defined]
    assert bench.acd.get(f"{base}/state")["state"] == "logged_out"

    phone = bench.baresip(seat)                                    # answers by itself
    login = bench.acd.http.post(f"{base}/login", json={"device": "2003", "ready": True},
                                headers={"Authorization": f"Bearer {agent}"})
    assert login.status_code == 200 and login.json()["device"] == "2003", login.text
    mark, at = bench.fs.log_mark(), phone.mark()
    call = bench.carrier_call(DID, talk_ms=4000)
    assert isinstance(call, sipp.SippResult) and call.ok, call
    phone.wait("CALL_ESTABLISHED", after=at, timeout=20)
    bridges = [data for app, data in bench.fs.applications(mark) if app == "bridge"]
    log = bench.fs.log_since(mark)
    print(f"\nhostile logins refused: {refused} of {2 * len(hostile)}; bridges: {bridges}; "
          f"legs: {[legs(b) for b in bridges]}; ran on answer: {MARKER in log}")
    assert refused == 2 * len(hostile)
    assert len(bridges) == 1 and legs(bridges[0]) == 1
    assert re.fullmatch(rf"\[hibiki_agent=202,hibiki_queue=water,leg_timeout=20\]user/2003@{re.escape(domain)}", bridges[0])
    assert MARKER not in log and "sofia/gateway" not in log
