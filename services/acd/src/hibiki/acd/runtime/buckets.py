"""The three JetStream key-value buckets the replicas share, and their keys.

    hibiki_acd_config   <tenant>.queue.<id>, <tenant>.agent.<id>: configuration (codec dicts, JSON)
    hibiki_acd_state    <tenant>: json.dumps(Acd.to_state()), written after every change
    hibiki_acd_leases   <tenant>: {"owner", "address"} of the replica that owns the tenant;
                        the bucket's TTL is the lease, so a dead owner's key goes away by itself
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

CONFIG_BUCKET = "hibiki_acd_config"
STATE_BUCKET = "hibiki_acd_state"
LEASES_BUCKET = "hibiki_acd_leases"
KINDS = ("queue", "agent")
# Ids become key and subject tokens: no dots, wildcards or spaces.
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Buckets:
    config: KeyValue
    state: KeyValue
    leases: KeyValue


async def _bucket(js: JetStreamContext, name: str, ttl: float | None = None) -> KeyValue:
    try:
        return await js.key_value(name)
    except (BucketNotFoundError, NotFoundError):
        pass
    return await js.create_key_value(KeyValueConfig(bucket=name, history=1, ttl=ttl, storage=StorageType.FILE))


async def open_buckets(js: JetStreamContext, lease_seconds: float) -> Buckets:
    """The buckets, created when absent (an existing lease bucket keeps its TTL)."""
    return Buckets(await _bucket(js, CONFIG_BUCKET), await _bucket(js, STATE_BUCKET),
                   await _bucket(js, LEASES_BUCKET, ttl=lease_seconds))


def config_key(tenant: str, kind: str, item_id: str) -> str:
    return f"{tenant}.{kind}.{item_id}"


def parse_config_key(key: str) -> tuple[str, str, str] | None:
    """``(tenant, kind, id)`` of a configuration key, None for a key that is not one."""
    parts = key.split(".")
    if len(parts) != 3 or parts[1] not in KINDS:
        return None
    return parts[0], parts[1], parts[2]


def valid_id(text: str) -> bool:
    return bool(ID.match(text))
