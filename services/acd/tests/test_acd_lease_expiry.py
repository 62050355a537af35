"""A replica that died without letting go: its tenants move once the lease's TTL has passed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest

from hibiki.acd.app import main
from hibiki.acd.runtime.buckets import open_buckets
from hibiki.acd.v1 import acd_pb2
from support.servers import NatsServer, running


async def test_a_dead_owners_tenant_moves_after_the_ttl(tmp_path: Path, make_config: Any, clients: Any,
                                                       tenant: str) -> None:
    server = NatsServer(tmp_path / "nats")      # its own server: the lease bucket's TTL is this test's
    server.start()
    nc = await nats.connect(server.url)
    try:
        buckets = await open_buckets(nc.jetstream(), 3.0)
        await buckets.config.put(f"{tenant}.queue.q", json.dumps({"id": "q"}).encode())
        await buckets.leases.create(tenant, json.dumps({"owner": "dead", "address": "127.0.0.1:9"}).encode())
        watcher = await buckets.leases.watch(tenant)
        config = make_config(nats_url=server.url, lease_seconds=3.0)
        started = time.monotonic()
        async with running(main, config):
            c = clients(config)
            with pytest.raises(grpc.aio.AioRpcError) as dead:
                await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="q"),
                                     metadata=c.metadata)
            assert dead.value.code() == grpc.StatusCode.UNAVAILABLE and "127.0.0.1:9" in (dead.value.details() or "")
            async for entry in watcher:                   # the lease changes hands: awaited, not polled
                if entry is not None and entry.value and json.loads(entry.value)["owner"] == config.replica_id:
                    break
            assert time.monotonic() - started >= 2.9
            reply = await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid="c1", queue_id="q"),
                                         metadata=c.metadata)
            assert reply.position == 1
        await watcher.stop()
    finally:
        await nc.close()
        server.stop()
