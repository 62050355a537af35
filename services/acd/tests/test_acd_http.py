"""Queue and agent configuration and the agent desktop over HTTP: validation, refusals, roles."""

from __future__ import annotations

from typing import Any

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from hibiki.common.auth import Claims
from support.servers import running


async def test_configuration_resources_and_their_errors(make_config: Any, clients: Any, tenant: str) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        base = f"/api/v1/tenants/{tenant}"
        created = await c.put(f"{base}/queues/main", {"strategy": "skills", "skills": {"water": 2}})
        assert created["id"] == "main" and created["strategy"] == "skills" and created["offer_timeout_seconds"] == 20
        assert (await c.http.get(f"{base}/queues/main")).json() == created
        assert [q["id"] for q in (await c.http.get(f"{base}/queues")).json()["items"]] == ["main"]

        bad = {
            "offer_timeout_seconds": -1,
            "strategy": "random",
            "overflow": {"queue_id": "ghost", "after_seconds": 30},
            "colour": "red",
        }
        for field, value in bad.items():
            reply = await c.http.put(f"{base}/queues/other", json={field: value})
            assert reply.status_code == 400, (field, reply.text)
            assert reply.json()["message"] and reply.json()["error_id"]
        assert (await c.http.put(f"{base}/queues/other", content=b"{nope")).json()["error_id"] == "invalid-json"
        assert (await c.http.put(f"{base}/queues/other", json={"id": "else"})).status_code == 400
        assert (await c.http.put(f"{base}/queues/a.b", json={})).status_code == 400
        assert (await c.http.get(f"{base}/queues/other")).status_code == 404

        await c.put(f"{base}/queues/spill", {})
        await c.put(f"{base}/queues/main", {"overflow": {"queue_id": "spill", "after_seconds": 30}}, status=200)
        cycle = await c.http.put(f"{base}/queues/spill", json={"overflow": {"queue_id": "main", "after_seconds": 5}})
        assert cycle.status_code == 400 and cycle.json()["error_id"] == "overflow-cycle"
        in_use = await c.http.delete(f"{base}/queues/spill")
        assert in_use.status_code == 409 and "main" in in_use.json()["message"]

        agent = await c.put(f"{base}/agents/a1", {"skills": {"water": 3}, "queues": ["main"]})
        assert agent == {"id": "a1", "skills": {"water": 3}, "queues": ["main"]}
        assert (await c.http.put(f"{base}/agents/a2", json={"skills": {"water": 0}})).status_code == 400
        assert (await c.http.put(f"{base}/agents/a2", json={"queues": "main"})).status_code == 400

        # a queue with a call, a logged-in agent: refused by the domain, clearly
        await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="main",
                                                    skills=["water:2"]), metadata=c.metadata)
        busy = await c.http.delete(f"{base}/queues/main")
        assert busy.status_code == 409 and busy.json()["error_id"] == "invalid-state"
        assert "still has calls" in busy.json()["message"]
        login = await c.http.post(f"{base}/agents/a1/login", json={"device": "seat-3"})
        assert login.status_code == 200 and login.json()["state"] == "not_ready"
        logged_in = await c.http.delete(f"{base}/agents/a1")
        assert logged_in.status_code == 409 and "logged in" in logged_in.json()["message"]
        state = await c.http.post(f"{base}/agents/a1/state", json={"state": "ready"})
        assert state.json()["state"] == "reserved" and state.json()["call_id"] == "c1"

        assert (await c.http.post(f"{base}/agents/a1/state", json={"state": "talking"})).status_code == 400
        assert (await c.http.post(f"{base}/agents/a1/login", json={})).status_code == 400
        assert (await c.http.post(f"{base}/agents/zz/login", json={"device": "d"})).status_code == 404
        unknown = await c.http.post(f"{base}/agents/a1/login", json={"device": "x"})
        assert unknown.status_code == 400 and unknown.json()["error_id"] == "unknown-device"
        assert unknown.json()["details"]["field"] == "device"
        assert (await c.http.get(f"{base}/queues/nope/stats")).status_code == 404

        await c.stub.Cancel(acd_pb2.CancelRequest(tenant=tenant, call_uuid="c1"), metadata=c.metadata)
        assert (await c.http.post(f"{base}/agents/a1/logout")).json()["state"] == "logged_out"
        assert (await c.http.delete(f"{base}/agents/a1")).status_code == 204
        assert (await c.http.delete(f"{base}/queues/main")).status_code == 204
        assert (await c.http.get(f"{base}/queues/main")).status_code == 404
        assert (await c.http.delete(f"{base}/queues/main")).status_code == 404
        gone = await c.stub.GetQueueSnapshot(acd_pb2.GetQueueSnapshotRequest(tenant=tenant, queue_id="spill"),
                                             metadata=c.metadata)
        assert gone.queue_id == "spill"


async def test_roles(make_config: Any, clients: Any, authority: Any, tenant: str) -> None:
    config = make_config()
    async with running(main, config):
        admin = clients(config)
        base = f"/api/v1/tenants/{tenant}"
        await admin.put(f"{base}/queues/q", {})
        await admin.put(f"{base}/agents/a1", {"queues": ["q"]})
        viewer = clients(config, authority.issue(Claims("v", "user", tenant, ("viewer",))))
        assert (await viewer.http.get(f"{base}/queues")).status_code == 200
        refused = await viewer.http.put(f"{base}/queues/q", json={})
        assert refused.status_code == 403 and refused.json()["error_id"] == "forbidden"
        foreign = clients(config, authority.issue(Claims("x", "user", "elsewhere", ("admin",))))
        assert (await foreign.http.get(f"{base}/queues")).status_code == 403
        me = clients(config, authority.issue(Claims("a1", "user", tenant, ("agent",))))
        assert (await me.http.post(f"{base}/agents/a1/login", json={"device": "d1"})).status_code == 200
        assert (await me.http.get(f"{base}/agents/a1/state")).json()["device"] == "d1"
        other = clients(config, authority.issue(Claims("a2", "user", tenant, ("agent",))))
        assert (await other.http.post(f"{base}/agents/a1/logout")).status_code == 403
        assert (await me.http.put(f"{base}/agents/a1", json={"queues": []})).status_code == 403
        assert (await admin.http.get(f"{base}/queues")).status_code == 200
        noauth = await admin.http.get(f"{base}/queues", headers={"Authorization": ""})
        assert noauth.status_code == 401
