"""Group commit: operations arriving while a tenant's state is being written share the next write.

Each reply still follows a successful fenced write that includes its change (restart survival and
one writer per tenant: test_acd_replicas), and events keep the order of the changes."""

from __future__ import annotations

import asyncio
from typing import Any

from hibiki.acd.app import main
from hibiki.acd.runtime.buckets import STATE_BUCKET
from hibiki.acd.runtime.journal import read_state
from hibiki.acd.v1 import acd_pb2
from support.servers import running


async def test_a_burst_shares_writes_and_every_reply_is_written(make_config: Any, clients: Any, tenant: str,
                                                                events: Any, nats_client: Any) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/q", {})
        await asyncio.sleep(0.3)
        state = await nats_client.jetstream().key_value(STATE_BUCKET)
        before = (await read_state(state, tenant))[1]

        async def enqueue(i: int) -> int:
            reply = await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=f"c{i}", queue_id="q"),
                                         metadata=c.metadata)
            stored = (await read_state(state, tenant))[0]   # the reply came after its write
            assert stored is not None and f"c{i}" in {call["id"] for call in stored["calls"]}
            return int(reply.position)

        positions = await asyncio.gather(*(enqueue(i) for i in range(200)))
        writes = (await read_state(state, tenant))[1] - before
        assert sorted(positions) == list(range(1, 201))
        print(f"group commit: {writes} state writes for 200 operations at once")
        assert 0 < writes < 100, f"{writes} state writes for 200 operations at once"

        await asyncio.sleep(0.5)
        queued = events.of("acd.queued")
        assert len(queued) == 200
        assert [m.position for m in queued] == list(range(1, 201))   # announced in the order decided
