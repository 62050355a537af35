"""A request whose caller gives up (its gRPC deadline passes) while the ACD writes its state.

Seen under load in ``bench freeswitch``: callcontrol's 3 s deadline passed while the owner wrote a
tenant's state; gRPC cancelled the handler in the middle of ``kv.update``, the write reached NATS
but the replica never learnt its revision, so the next change's fenced write failed
(``KeyWrongLastSequenceError``), the replica dropped its own tenant and took it back, and the
callers waiting meanwhile were lost or rang nobody. A change that has begun now finishes (written,
published) whether or not its caller is still waiting.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from hibiki.acd.app import main
from hibiki.acd.v1 import acd_pb2
from support.servers import running


async def test_callers_giving_up_mid_write_lose_no_change_and_no_event(make_config: Any, clients: Any, tenant: str,
                                                                       events: Any) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        await c.put(f"/api/v1/tenants/{tenant}/queues/q", {})

        async def enqueue(call: str, timeout: float | None) -> str:
            try:
                await c.stub.Enqueue(acd_pb2.EnqueueRequest(tenant=tenant, call_uuid=call, queue_id="q"),
                                     metadata=c.metadata, timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                return exc.code().name
            return "OK"

        # the attack: callers giving up 0.2 to 12 ms after asking, one at a time (so many of them give up
        # while their own change is being written), each followed by a patient caller; it goes on until
        # enough of them gave up (how many do in 240 depends on how busy the machine is)
        outcomes = {"OK": 0, "DEADLINE_EXCEEDED": 0}
        n = 0
        while n < 240 or (outcomes["DEADLINE_EXCEEDED"] <= 20 and n < 2400):
            gone = await enqueue(f"gone-{n}", 0.0002 + (n % 60) * 0.0002)
            outcomes[gone] = outcomes.get(gone, 0) + 1
            assert await enqueue(f"kept-{n}", None) == "OK"
            n += 1
        assert outcomes["DEADLINE_EXCEEDED"] > 20, f"too few callers gave up for an attack: {outcomes}"

        # every change the ACD made was announced, once, in order: nothing applied in silence
        stats = (await c.http.get(f"/api/v1/tenants/{tenant}/queues/q/stats")).json()
        waiting = [w["call_id"] for w in stats["waiting"]]
        assert all(f"kept-{i}" in waiting for i in range(n))
        await asyncio.sleep(0.5)
        queued = [m.meta.call_uuid for m in events.of("acd.queued")]
        assert sorted(queued) == sorted(waiting), (
            f"{len(set(waiting) - set(queued))} queued calls were never announced, "
            f"{len(set(queued) - set(waiting))} announced calls are not queued ({outcomes})")
        # an impatient caller's enqueue either happened or did not: asking again tells which, it never fails
        for i in range(n):
            again = await enqueue(f"gone-{i}", None)
            assert again == ("ALREADY_EXISTS" if f"gone-{i}" in waiting else "OK")
