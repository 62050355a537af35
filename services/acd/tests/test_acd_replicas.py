"""State that survives a restart, and one writer per tenant among replicas on one NATS."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from hibiki.events.v1 import agent_pb2
from support.servers import running


async def _snapshot(c: Any, tenant: str) -> dict[str, Any]:
    calls = {}
    for call in ("c1", "c2", "c3"):
        s = await c.stub.GetCall(acd_pb2.GetCallRequest(tenant=tenant, call_uuid=call), metadata=c.metadata)
        calls[call] = (s.state, s.position, s.queue_id, s.agent_id)
    agent = await c.stub.GetAgentSnapshot(acd_pb2.GetAgentSnapshotRequest(tenant=tenant, agent_id="a1"),
                                          metadata=c.metadata)
    stats = (await c.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()
    return {"calls": calls, "agent": (agent.state, agent.device, agent.call_uuid, agent.state_since_unix_ms),
            "waiting": [w["call_id"] for w in stats["waiting"]], "entered": stats["entered"]}


async def test_a_restart_loses_and_duplicates_nothing(make_config: Any, clients: Any, tenant: str,
                                                     events: Any) -> None:
    first = make_config()
    async with running(main, first):
        c = clients(first)
        await c.put(f"/api/v1/tenants/{tenant}/queues/q", {"offer_timeout_seconds": 60})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a1", {"queues": ["q"]})
        await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="d1", ready=True),
                                metadata=c.metadata)
        for call in ("c1", "c2", "c3"):
            await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call, queue_id="q"),
                                 metadata=c.metadata)
        await c.stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="c1", agent_id="a1",
                                                            outcome=acd_pb2.OFFER_OUTCOME_RINGING), metadata=c.metadata)
        before = await _snapshot(c, tenant)
    assert before["calls"]["c1"][0] == acd_pb2.QUEUED_CALL_STATE_OFFERED
    assert before["waiting"] == ["c2", "c3"] and before["agent"][0] == agent_pb2.AGENT_STATE_RINGING

    second = make_config()
    async with running(main, second):
        c = clients(second)
        assert await _snapshot(c, tenant) == before
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c2", queue_id="q"),
                                 metadata=c.metadata)
        assert again.value.code() == grpc.StatusCode.ALREADY_EXISTS
        await c.stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="c1", agent_id="a1",
                                                            outcome=acd_pb2.OFFER_OUTCOME_ANSWERED), metadata=c.metadata)
        await c.stub.EndCall(acd_pb2.EndCallRequest(tenant=tenant, call_uuid="c1"), metadata=c.metadata)
        await c.stub.SaveDisposition(acd_pb2.SaveDispositionRequest(tenant=tenant, agent_id="a1", call_uuid="c1",
                                                                    case_type="moving"), metadata=c.metadata)
        offered = [o.meta.call_uuid for o in events.of("acd.offered")]
        assert offered == ["c1", "c2"]      # c1 once (not offered again by the new owner), then c2


async def _info(c: Any) -> dict[str, Any]:
    reply = await c.http.get("/api/v1/info")
    assert reply.status_code == 200
    info: dict[str, Any] = reply.json()
    return info


async def test_two_replicas_one_owner_forwarding_and_takeover(make_config: Any, clients: Any, tenant: str,
                                                              events: Any) -> None:
    one, two = make_config(), make_config()
    first = running(main, one)
    await first.__aenter__()
    try:
        c1 = clients(one)
        await c1.put(f"/api/v1/tenants/{tenant}/queues/q", {})
        async with running(main, two):
            c2 = clients(two)
            owners = [tenant in (await _info(c))["tenants"] for c in (c1, c2)]
            assert owners == [True, False]
            # configuration and commands through the replica that does not own the tenant
            await c2.put(f"/api/v1/tenants/{tenant}/agents/a1", {"queues": ["q"]})
            login = await c2.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="d1",
                                                                       ready=True), metadata=c2.metadata)
            assert login.state == agent_pb2.AGENT_STATE_READY
            reply = await c2.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="x1", queue_id="q"),
                                          metadata=c2.metadata)
            assert reply.position == 0
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await c2.stub.GetCall(acd_pb2.GetCallRequest(tenant=tenant, call_uuid="nope"), metadata=c2.metadata)
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
            assert ("acd-error-id", "unknown-call") in tuple(missing.value.trailing_metadata() or ())
            assert (await c2.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()["offered"] == 1
            assert (await c1.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()["offered"] == 1
            assert len(events.of("acd.offered")) == 1 and len(events.of("acd.queued")) == 1

            await first.__aexit__(None, None, None)        # the owner stops: replica two takes over
            first = None
            status = await c2.stub.GetCall(acd_pb2.GetCallRequest(tenant=tenant, call_uuid="x1"),
                                           metadata=c2.metadata)
            assert status.state == acd_pb2.QUEUED_CALL_STATE_OFFERED
            assert tenant in (await _info(c2))["tenants"]
            await c2.stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=tenant, call_uuid="x1", agent_id="a1",
                                                                 outcome=acd_pb2.OFFER_OUTCOME_ANSWERED),
                                      metadata=c2.metadata)
            assert (await events.next("acd.answered")).meta.call_uuid == "x1"
    finally:
        if first is not None:
            await first.__aexit__(None, None, None)


async def test_a_restart_reads_the_last_snapshot_and_the_changes_after_it(make_config: Any, clients: Any, tenant: str,
                                                                          nats_client: Any) -> None:
    """Writes carry what changed (runtime/journal.py): after more operations than there are
    changes between snapshots, the key holds snapshots and changes, and a new owner restores the
    same machine from the last snapshot and the changes after it (waiting order included)."""
    from hibiki.acd.runtime.buckets import STATE_BUCKET
    from hibiki.acd.runtime.journal import SNAPSHOT_EVERY, read_state

    calls = [f"c{i}" for i in range(SNAPSHOT_EVERY + 13)]
    first = make_config()
    async with running(main, first):
        c = clients(first)
        await c.put(f"/api/v1/tenants/{tenant}/queues/q", {"offer_timeout_seconds": 60})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a1", {"queues": ["q"]})
        await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="d1", ready=True),
                                metadata=c.metadata)
        for i, call in enumerate(calls):        # one at a time: one write each
            await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call, queue_id="q",
                                                        priority=i % 3), metadata=c.metadata)
        for call in calls[5:9]:                 # records removed in the middle of the order
            await c.stub.Cancel(acd_pb2.CancelRequest(tenant=tenant, call_uuid=call), metadata=c.metadata)
        stats = (await c.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()
        kv = await nats_client.jetstream().key_value(STATE_BUCKET)
        history = await kv.history(tenant)
        written, _ = await read_state(kv, tenant)
    kinds = ["change" if e.value[:1] == b"{" else "snapshot" for e in history]
    assert kinds.count("snapshot") >= 2 and kinds[-1] == "change", kinds
    assert sum(len(e.value) for e in history if e.value[:1] == b"{") / kinds.count("change") < 2000
    assert written is not None and len(written["calls"]) == len(calls) - 4

    second = make_config()
    async with running(main, second):
        c = clients(second)
        again = (await c.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()
        assert [w["call_id"] for w in again["waiting"]] == [w["call_id"] for w in stats["waiting"]]
        assert len(again["waiting"]) == len(calls) - 5      # c0 rings a1
        assert again["entered"] == stats["entered"]
        ringing = await c.stub.GetAgentSnapshot(acd_pb2.GetAgentSnapshotRequest(tenant=tenant, agent_id="a1"),
                                                metadata=c.metadata)
        assert ringing.call_uuid == "c0"


async def test_a_bucket_of_one_revision_is_widened_and_a_first_version_snapshot_read(
        make_config: Any, clients: Any, tenant: str, nats_client: Any) -> None:
    """The first version kept one snapshot per tenant (history 1): such a bucket is widened (its
    value kept), and a snapshot as the first version wrote it is the state the new version
    restores. (Not by narrowing the shared bucket: that would cut other tenants' histories.)"""
    from hibiki.acd.runtime.buckets import STATE_BUCKET, STATE_HISTORY, encode_state, open_bucket
    from hibiki.acd.runtime.journal import read_state
    from nats.js.api import KeyValueConfig

    js = nats_client.jetstream()
    name = f"acd_state_of_one_{tenant}"
    old = await js.create_key_value(KeyValueConfig(bucket=name, history=1))
    await old.put(tenant, b"first")
    widened = await open_bucket(js, name, history=STATE_HISTORY)
    assert (await widened.status()).history == STATE_HISTORY
    assert (await widened.get(tenant)).value == b"first"
    await js.delete_key_value(name)

    first = make_config()
    async with running(main, first):
        c = clients(first)
        await c.put(f"/api/v1/tenants/{tenant}/queues/q", {"offer_timeout_seconds": 60})
        await c.put(f"/api/v1/tenants/{tenant}/agents/a1", {"queues": ["q"]})
        for call in ("c1", "c2"):
            await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call, queue_id="q"),
                                 metadata=c.metadata)
    kv = await js.key_value(STATE_BUCKET)
    state, _ = await read_state(kv, tenant)
    assert state is not None
    await kv.put(tenant, encode_state(state))            # as the first version wrote it

    second = make_config()
    async with running(main, second):
        c = clients(second)
        stats = (await c.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()
        assert [w["call_id"] for w in stats["waiting"]] == ["c1", "c2"]
        assert (await kv.status()).history == STATE_HISTORY
