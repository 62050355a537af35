"""Tenant leases in the ``hibiki_acd_leases`` bucket (its TTL is the lease).

A replica owns a tenant while it holds the key: ``create`` when absent, ``update(last=revision)``
every third of the lease, ``delete(last=revision)`` on a graceful stop so another replica takes
over at once. A failed renewal means the key expired or someone else holds it.
"""

from __future__ import annotations

import json

from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.leases")


class Leases:
    def __init__(self, kv: KeyValue, replica_id: str, address: str) -> None:
        self._kv = kv
        self.replica_id, self.address = replica_id, address

    def _value(self) -> bytes:
        return json.dumps({"owner": self.replica_id, "address": self.address}).encode()

    async def take(self, tenant: str) -> int | None:
        """The lease's revision when this replica got it, None when someone holds it."""
        try:
            return await self._kv.create(tenant, self._value())
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            return None

    async def renew(self, tenant: str, revision: int) -> int | None:
        """The new revision, None when the lease is lost (expired, taken); raises on I/O errors."""
        try:
            return await self._kv.update(tenant, self._value(), last=revision)
        except KeyWrongLastSequenceError:
            return None

    async def release(self, tenant: str, revision: int) -> None:
        try:
            await self._kv.delete(tenant, last=revision)
        except (KeyWrongLastSequenceError, APIError):
            pass   # not ours any more
        except Exception as exc:
            log.warning("lease_release_failed", tenant=tenant, error=repr(exc))
