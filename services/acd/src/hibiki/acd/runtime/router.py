"""Owner routing: an operation for a tenant runs here when this replica owns it, else on the
owner (the address in its lease), through ``Forwarder`` (gRPC). While a tenant changes hands
(a lease just deleted, a takeover under way) the router waits a moment for the new owner;
with no owner at all it raises ``NotOwner`` with the reason (UNAVAILABLE / 503 outside).
"""

from __future__ import annotations

import time
from typing import Protocol

from hibiki.acd.runtime.replica import NotOwner, Replica
from hibiki.acd.runtime.tenant import TenantLost
from hibiki.acd.runtime.views import Json

OWNER_WAIT_SECONDS = 5.0


class Forwarder(Protocol):
    async def forward(self, address: str, tenant: str, op: str, args: Json, authorization: str | None) -> Json: ...


class Router:
    def __init__(self, replica: Replica, forwarder: Forwarder, owner_wait: float = OWNER_WAIT_SECONDS) -> None:
        self.replica, self.forwarder, self.owner_wait = replica, forwarder, owner_wait

    async def run(self, tenant: str, op: str, args: Json, authorization: str | None) -> Json:
        deadline = time.monotonic() + self.owner_wait
        replica = self.replica
        while True:
            if replica.owns(tenant):
                try:
                    return await replica.execute(tenant, op, args)
                except (NotOwner, TenantLost):
                    if time.monotonic() >= deadline:
                        raise
            lease = replica.lease_mirror.get(tenant)
            if lease is not None and lease.owner != replica.replica_id:
                return await self.forwarder.forward(lease.address, tenant, op, args, authorization)
            if lease is None and tenant not in replica.config.configured():
                raise NotOwner(f"no ACD replica owns tenant {tenant}: it has no queues or agents configured")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotOwner(f"no ACD replica owns tenant {tenant} at the moment (changing hands); try again")
            await replica.wait_owner_change(min(remaining, 0.5))
