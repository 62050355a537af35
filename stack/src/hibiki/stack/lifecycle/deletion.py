"""``hibiki tenant delete``: a tenant deleted in every store at contract end, then checked
store by store, and a signed certificate of it.

Order: the ACD's agents and queues (its API), recordings (keys shredded first, then audio and
index: the recording service's API), the analytics rows (its API), FreeSWITCH's voicemail files
of the tenant's domain, the directory's tenant with everything in it, then the ACD's
configuration and state keys and the tenant's events on the event stream (NATS), and the
analytics rows once more (the deletions publish events of their own). A failure half-way leaves
the tenant listed until the directory's step: run the command again. Then every store is asked again;
the certificate is written only when every count is zero.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import nats

from hibiki.common.errors import HibikiError
from hibiki.directory.lifecycle import voicemail
from hibiki.stack.lifecycle import certificate
from hibiki.directory.lifecycle.platform import Platform
from hibiki.stack.lifecycle.restore import queue_order

EVENTS_STREAM = "HIBIKI_EVENTS"
# the ACD's lease (``hibiki_acd_leases``: which replica owns the tenant, no data, a TTL) goes by itself
ACD_BUCKETS = ("hibiki_acd_config", "hibiki_acd_state")


class DeletionError(HibikiError):
    """The tenant could not be deleted whole, or a store still holds some of it."""


async def _nats(url: str, tenant: str, purge: bool) -> dict[str, int]:
    """The tenant's keys in the ACD's buckets and messages on the event stream (deleted when ``purge``)."""
    nc = await nats.connect(url, name="hibiki-lifecycle")
    try:
        js = nc.jetstream()
        counts: dict[str, int] = {}
        for bucket in ACD_BUCKETS:
            try:
                kv = await js.key_value(bucket)
                keys = [k for k in await kv.keys() if k == tenant or k.startswith(f"{tenant}.")]
            except Exception:     # no bucket, or no keys at all
                keys = []
            if purge:
                for key in keys:
                    await kv.purge(key)
                keys = []
            counts[f"nats.{bucket}"] = len(keys)
        subject = f"hibiki.{tenant}.>"
        try:
            if purge:
                await js.purge_stream(EVENTS_STREAM, subject=subject)
            info = await js.stream_info(EVENTS_STREAM, subjects_filter=subject)
            counts["nats.events"] = sum((info.state.subjects or {}).values())
        except nats.js.errors.NotFoundError:
            counts["nats.events"] = 0
        return counts
    finally:
        await nc.close()


def held(platform: Platform, tenant: str, domain: str, nats_url: str) -> dict[str, int]:
    """What every store holds of the tenant."""
    s = platform.settings
    counts: dict[str, int] = {"directory.tenant": int(platform.tenant(tenant) is not None)}
    base = f"{s.directory_url}/api/v1/tenants/{tenant}"
    for name in ("console_users", "api_tokens"):          # console identity: people, tokens, the trail
        counts[f"directory.{name}"] = len(platform.json("GET", f"{base}/{name}")["items"])
    counts["directory.audit"] = int(platform.json("GET", f"{base}/audit/verify")["entries"])
    acd = platform.acd_config(tenant)
    counts.update({f"acd.{k}": len(v) for k, v in acd.items()})
    rec = platform.json("GET", f"{s.recording_url}/api/v1/lifecycle/tenants/{tenant}")["held"]
    counts.update({f"recording.{k}": v for k, v in rec.items()})
    rows = platform.json("GET", f"{s.analytics_url}/api/v1/lifecycle/tenants/{tenant}")["rows"]
    counts.update({f"analytics.{k}": v for k, v in rows.items()})
    counts.update(voicemail.held(s, domain))
    counts.update(asyncio.run(_nats(nats_url, tenant, purge=False)))
    return counts


def delete(platform: Platform, tenant: str, by: str, nats_url: str) -> dict[str, Any]:
    s = platform.settings
    about = platform.tenant(tenant)
    if about is None:
        raise DeletionError(f"no tenant {tenant!r} in the directory")
    domain = about["domain"]
    started = datetime.now(UTC)
    before = held(platform, tenant, domain, nats_url)
    acd = f"{s.acd_url}/api/v1/tenants/{tenant}"
    config = platform.acd_config(tenant)
    for agent in config["agents"]:
        platform.request("DELETE", f"{acd}/agents/{agent['id']}", (204,))
    for queue in reversed(queue_order(config["queues"])):
        platform.request("DELETE", f"{acd}/queues/{queue['id']}", (204,))
    platform.request("DELETE", f"{s.recording_url}/api/v1/lifecycle/tenants/{tenant}")
    platform.request("DELETE", f"{s.analytics_url}/api/v1/lifecycle/tenants/{tenant}")
    voicemail.delete(s, domain)
    platform.request("DELETE", f"{s.directory_url}/api/v1/tenants/{tenant}", (204,))
    asyncio.run(_nats(nats_url, tenant, purge=True))     # after the deletions above: they publish events too
    platform.request("DELETE", f"{s.analytics_url}/api/v1/lifecycle/tenants/{tenant}")   # what those added
    after = held(platform, tenant, domain, nats_url)
    left = {k: v for k, v in after.items() if v}
    if left:
        raise DeletionError(f"tenant {tenant}: stores still hold {left}")
    document = {
        "certificate": "hibiki tenant deletion",
        "tenant": tenant, "domain": domain, "deleted_by": by,
        "started_at": started.isoformat(), "verified_at": datetime.now(UTC).isoformat(),
        "deleted": before, "held_after": after,
        "stores": ["directory (configuration store)", "acd configuration, state and leases (NATS KV)",
                   "recordings: audio, index, dispositions, access audit; data keys crypto-shredded",
                   "analytics (call records, legs, agent states, events, reports)", "voicemail files and mod_voicemail's rows",
                   "event stream (NATS JetStream)"],
        "backups": f"generations taken before the deletion still hold the tenant's configuration and call "
                   f"records until they age out ({s.generations} kept); recordings in them cannot be "
                   f"decrypted (keys shredded)",
    }
    return certificate.sign(document, s.data_dir)
