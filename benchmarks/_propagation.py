"""How long a configuration change takes to be visible on every directory replica.

A user's display name is changed through the admin API of the first replica; from the API's
reply, every replica's ``/fsapi`` is polled (a ``user_call`` lookup of that user) until it
answers the new ``effective_caller_id_name``, with the emulator's mod_xml_curl client (a new
connection per request, as FreeSWITCH does). The replicas' ``hibiki.<tenant>.config.applied``
confirmations are timed too.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import httpx
import nats
from nats.aio.msg import Msg

from benchmarks._mix import XmlCurlClient  # the emulator's client (tests/ on the path)
from benchmarks._processes import fsapi_url
from benchmarks._store import BenchUser
from hibiki.events.v1 import config_pb2

TIMEOUT = 5.0


@dataclass
class Propagation:
    api_ms: float                                            # the PATCH round trip
    visible_ms: list[float] = field(default_factory=list)   # per replica, after the API reply (inf: never)
    applied_ms: list[float] = field(default_factory=list)   # confirmations after the API reply, first per replica


async def _visible(port: int, user: BenchUser, name: str, deadline: float) -> float:
    client = XmlCurlClient(fsapi_url(port), timeout=TIMEOUT)
    body = client.directory_body(user=user.extension, domain=user.domain, action="user_call")
    while time.perf_counter() < deadline:
        reply = await client.post(body)
        if f'value="{name}"'.encode() in reply.body:
            return time.perf_counter()
        await asyncio.sleep(0.001)
    return float("inf")


async def measure(ports: list[int], nats_url: str, token: str, users: list[BenchUser], changes: int) -> list[Propagation]:
    nc = await nats.connect(nats_url)
    applied: list[tuple[float, str, str]] = []   # (arrival, tenant, replica)

    async def on_applied(msg: Msg) -> None:
        event = config_pb2.ConfigurationChanged.FromString(msg.data)
        applied.append((time.perf_counter(), event.meta.tenant, event.meta.source))

    sub = await nc.subscribe("hibiki.*.config.applied", cb=on_applied)
    results = []
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, headers={"authorization": f"Bearer {token}"}) as api:
            for i in range(changes):
                u = users[(i * 7919) % len(users)]
                name = f"bench-change-{i}-{uuid.uuid4().hex[:8]}"
                applied.clear()
                sent = time.perf_counter()
                reply = await api.patch(f"http://127.0.0.1:{ports[0]}/api/v1/tenants/{u.tenant}/users/{u.user_id}",
                                        json={"display_name": name})
                replied = time.perf_counter()
                reply.raise_for_status()
                seen = await asyncio.gather(*(_visible(p, u, name, replied + TIMEOUT) for p in ports))
                await asyncio.sleep(0.05)   # let the last confirmation arrive
                first: dict[str, float] = {}
                for at, tenant, replica in applied:
                    if tenant == u.tenant and at >= sent:
                        first.setdefault(replica, at)
                results.append(Propagation((replied - sent) * 1e3, [max(0.0, s - replied) * 1e3 for s in seen],
                                           [max(0.0, a - replied) * 1e3 for a in first.values()]))
    finally:
        await sub.unsubscribe()
        await nc.drain()
    return results
