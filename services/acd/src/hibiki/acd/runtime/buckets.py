"""The three JetStream key-value buckets the replicas share, and their keys.

    hibiki_acd_config   <tenant>.queue.<id>, <tenant>.agent.<id>: configuration (codec dicts, JSON)
    hibiki_acd_state    <tenant>: its last 64 revisions, snapshots (Acd.to_state() as zlib-compressed
                        JSON, ``encode_state``: 1.5 MB of JSON for 2,000 agents and 2,000 calls is
                        57 kB compressed, well inside NATS's 1 MB message limit) and the changes
                        between them, one per write (``runtime/journal.py``)
    hibiki_acd_leases   <tenant>: {"owner", "address"} of the replica that owns the tenant;
                        the bucket's TTL is the lease, so a dead owner's key goes away by itself
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, replace
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from hibiki.common import bus

CONFIG_BUCKET = "hibiki_acd_config"
STATE_BUCKET = "hibiki_acd_state"
LEASES_BUCKET = "hibiki_acd_leases"
STATE_HISTORY = 64   # revisions kept per tenant (JetStream's KV maximum): see runtime/journal.py
KINDS = ("queue", "agent")
# Ids become key and subject tokens: no dots, wildcards or spaces.
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Buckets:
    config: KeyValue
    state: KeyValue
    leases: KeyValue


async def open_bucket(js: JetStreamContext, name: str, ttl: float | None = None, history: int = 1) -> KeyValue:
    """The bucket ``name``, created when absent; one that keeps fewer than ``history`` revisions
    per key is widened (its contents kept)."""
    try:
        kv = await js.key_value(name)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(KeyValueConfig(bucket=name, history=history, ttl=ttl,
                                                        storage=StorageType.FILE, replicas=bus.replicas()))
    status = await kv.status()
    if status.history < history:     # created by a version that kept less (the state: 1 before the journal)
        await js.update_stream(replace(status.stream_info.config, max_msgs_per_subject=history))
    return kv


async def open_buckets(js: JetStreamContext, lease_seconds: float) -> Buckets:
    """The buckets, created when absent (an existing lease bucket keeps its TTL; an existing state
    bucket keeping fewer revisions than the journal needs is widened)."""
    return Buckets(await open_bucket(js, CONFIG_BUCKET),
                   await open_bucket(js, STATE_BUCKET, history=STATE_HISTORY),
                   await open_bucket(js, LEASES_BUCKET, ttl=lease_seconds))


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


def encode_state(state: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1)


def decode_state(payload: bytes | None) -> dict[str, Any] | None:
    """A snapshot as ``encode_state`` wrote it (or plain JSON, as the first version did)."""
    if not payload:
        return None
    text = payload if payload.lstrip()[:1] in (b"{", b"n") else zlib.decompress(payload)
    state: dict[str, Any] | None = json.loads(text)
    return state
