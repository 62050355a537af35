"""Losing a data center, without FreeSWITCH (issue 16, OPS-01; README "Failover between data
centers"): two sites with a directory and an ACD each, NATS clustered over dc1, dc2 and a witness,
the configuration store in PostgreSQL with dc1's primary replicated synchronously to dc2. The
tenant is run from dc1; then every process of dc1 is killed with SIGKILL and the test checks that
dc2 takes the tenant's ACD with its agents' states, that the event stream and the buckets still
take writes, that configuration writes resume once dc2's standby is promoted, and that nothing
acknowledged before the loss is gone. It prints the time each part took to recover and what was lost.
The test sends the node heartbeats each site's callcontrol would (dc1's die with dc1), so the call
waiting on dc1's FreeSWITCH node when it is lost leaves dc2's queue as ``node_lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import httpx
import nats
import pytest

from fsemu.xml_curl import XmlCurlClient
from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common import bus
from hibiki.common.rpc import token_metadata
from hibiki.events.v1 import call_pb2, meta_pb2, node_pb2
from support.directory import FSAPI_PASSWORD, FSAPI_USER
from support.failover import (LEASE_SECONDS, lease_owner, on_nats, start_services, store_url, token, two_sites,
                              wait_until)
from support.switch.net import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
TENANT = "toshima"


def call_event(n: int) -> tuple[str, bytes, str]:
    event_id = f"failover-call-{n}-{uuid.uuid4().hex[:8]}"
    ended = call_pb2.CallEnded(meta=meta_pb2.EventMeta(id=event_id, tenant=TENANT, call_uuid=f"cdr-{n}"),
                               hangup_cause="NORMAL_CLEARING")
    return bus.subject(TENANT, "call", "ended"), ended.SerializeToString(), event_id


class NodeBeacon:
    """The heartbeats of one site's callcontrol (``FsNodeHeartbeat``: its FreeSWITCH node is
    connected, every 0.5 s) on that site's NATS server, from a thread; ``stop`` is the site's loss."""

    def __init__(self, url: str, node: str) -> None:
        self.url, self.node, self.sent = url, node, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=f"beacon-{node}", daemon=True)

    def __enter__(self) -> "NodeBeacon":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        nc = await nats.connect(self.url, connect_timeout=3)
        try:
            while not self._stop.is_set():
                beat = node_pb2.FsNodeHeartbeat(node=self.node, controller=f"callcontrol-{self.node}", connected=True,
                                                interval_ms=500)
                beat.sent_at.GetCurrentTime()
                await nc.publish(bus.FS_NODE_HEARTBEAT, beat.SerializeToString())
                await nc.flush()
                self.sent += 1
                await asyncio.sleep(0.5)
        finally:
            await nc.close()


def extension_call(directory: Any, caller_id: str) -> str:
    """FreeSWITCH's dialplan request for seat-2 calling extension 2001 (answered from the
    directory's in-memory view, which a store outage does not stop)."""
    fields = {"variable_hibiki_tenant": TENANT, "variable_hibiki_user": caller_id, "user": "2002",
              "domain": "toshima.example.jp", "Unique-ID": str(uuid.uuid4())}
    body = XmlCurlClient("http://x/fsapi").dialplan_body(destination_number="2001", caller_id_number="2002", **{
        k.replace("-", "__"): v for k, v in fields.items()})
    reply = httpx.post(directory.url + "/fsapi", content=body, auth=(FSAPI_USER, FSAPI_PASSWORD), timeout=10,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    reply.raise_for_status()
    return reply.text


def test_losing_dc1_moves_the_tenant_to_dc2_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    with two_sites(tmp_path) as (dc1, dc2, nodes, primary, standby), contextlib.ExitStack() as beacons:
        database = store_url("hibiki", primary, standby)
        start_services(dc1, database, free_port(dc1.host))
        directory1, acd1 = dc1.services["directory"].client(), dc1.services["acd"].client()
        assert directory1.post("/api/v1/tenants", json={"id": TENANT, "domain": "toshima.example.jp"}).status_code == 201
        users = {}
        for seat, extension in (("seat-1", "2001"), ("seat-2", "2002")):
            made = directory1.post(f"/api/v1/tenants/{TENANT}/users", json={"username": seat, "extension": extension})
            assert made.status_code == 201, made.text
            users[seat] = made.json()["id"]
        for path, body in (("/queues/q", {}), ("/agents/a1", {"queues": ["q"]}), ("/agents/a2", {"queues": ["q"]})):
            assert acd1.put(f"/api/v1/tenants/{TENANT}{path}", json=body).status_code == 201
        wait_until("dc1's ACD owns the tenant", lambda: lease_owner(dc1.nats.url, TENANT) == "acd-dc1", 30)

        start_services(dc2, database, free_port(dc2.host))
        directory2, acd2 = dc2.services["directory"].client(), dc2.services["acd"].client()
        beacon1 = beacons.enter_context(NodeBeacon(dc1.nats.url, "fs-dc1"))    # dc1's callcontrol
        beacons.enter_context(NodeBeacon(dc2.nats.url, "fs-dc2"))              # dc2's, which lives on

        # --- the day on dc1: agents, a call talking (on dc2's node), a call waiting on dc1's node
        # (asked on dc2: forwarded to dc1), enqueued with their nodes as callcontrol does ---
        agents = f"/api/v1/tenants/{TENANT}/agents"
        assert acd2.post(f"{agents}/a1/login", json={"device": "seat-1", "ready": True}).status_code == 200
        assert acd2.post(f"{agents}/a2/login", json={"device": "seat-2", "ready": False}).status_code == 200
        assert acd2.post(f"{agents}/a2/state", json={"state": "break", "reason": "lunch"}).status_code == 200
        channel = grpc.insecure_channel(f"{dc2.host}:{dc2.services['acd'].env['HIBIKI_ACD_GRPC_PORT']}")
        stub, metadata = acd_pb2_grpc.AcdServiceStub(channel), token_metadata(token())
        stub.Enqueue(acd_pb2.EnqueueRequest(tenant=TENANT, call_uuid="talking", queue_id="q", node="fs-dc2"),
                     metadata=metadata, timeout=10)
        stub.ReportOffer(acd_pb2.ReportOfferRequest(tenant=TENANT, call_uuid="talking", agent_id="a1",
                                                    outcome=acd_pb2.OFFER_OUTCOME_ANSWERED), metadata=metadata, timeout=10)
        waiting = stub.Enqueue(acd_pb2.EnqueueRequest(tenant=TENANT, call_uuid="waiting", queue_id="q",
                                                      node="fs-dc1"), metadata=metadata, timeout=10)
        assert waiting.position == 1
        assert lease_owner(dc2.nats.url, TENANT) == "acd-dc1"

        routed = extension_call(dc2.services["directory"], users["seat-2"])
        assert "bridge" in routed and "2001" in routed, routed

        # --- what is acknowledged just before the loss ---
        changed = directory2.patch(f"/api/v1/tenants/{TENANT}/users/{users['seat-2']}",
                                   json={"display_name": "相談窓口 2"})      # dc2's directory, dc1's primary
        assert changed.status_code == 200, changed.text
        changed = directory1.patch(f"/api/v1/tenants/{TENANT}/users/{users['seat-1']}",
                                   json={"display_name": "相談窓口 1"})
        assert changed.status_code == 200, changed.text
        assert acd1.put(f"/api/v1/tenants/{TENANT}/queues/evening", json={}).status_code == 201
        records = [call_event(n) for n in range(50)]

        async def publish_all(_: Any, js: Any) -> None:
            for subject, payload, event_id in records:
                await bus.publish(js, subject, payload, event_id)   # returns once JetStream acknowledged
        on_nats(dc1.nats.url, publish_all)
        before = {name: acd2.get(f"{agents}/{name}/state").json() for name in ("a1", "a2")}
        assert (before["a1"]["state"], before["a1"]["call_id"], before["a2"]["state"]) == ("talking", "talking", "break")

        async def lead_from_dc1(nc: Any, js: Any) -> str:
            """Make dc1 the event stream's leader (the worst case: the stream must elect another)."""
            for _ in range(20):
                leader = str((await js.stream_info(bus.EVENTS_STREAM)).cluster.leader)
                if leader == "dc1":
                    break
                await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{bus.EVENTS_STREAM}", b"", timeout=5)
                await asyncio.sleep(0.5)
            return leader
        stream_leader = on_nats(dc2.nats.url, lead_from_dc1)

        # --- dc1 is lost ---
        beacon1.stop()         # dc1's callcontrol goes with dc1
        killed = dc1.kill()
        lost_at = time.monotonic()
        print(f"\nfailover: dc1 killed at once (SIGKILL): {', '.join(killed)}")

        routed = extension_call(dc2.services["directory"], users["seat-2"])
        assert "bridge" in routed and "2001" in routed, f"calls are routed while the store fails over: {routed}"
        standby.promote()      # the runbook's step (CloudNativePG: promote the replica cluster in dc2)
        promoted = time.monotonic() - lost_at

        async def writable(_: Any, js: Any) -> bool:
            subject, payload, event_id = call_event(999)
            await bus.publish(js, subject, payload, event_id)
            return True
        wait_until("event stream writable on dc2", lambda: on_nats(dc2.nats.url, writable, 1), 60, 0.1)
        nats_seconds = time.monotonic() - lost_at

        def config_writable() -> bool:
            done = directory2.patch(f"/api/v1/tenants/{TENANT}/users/{users['seat-2']}",
                                    json={"display_name_kana": "ソウダンマドグチ"})
            return done.status_code == 200
        wait_until("configuration writes on dc2", config_writable, 60, 0.5)
        store_seconds = time.monotonic() - lost_at

        def acd_on_dc2() -> bool:
            got = acd2.get(f"{agents}/a2/state", timeout=10)
            return got.status_code == 200 and lease_owner(dc2.nats.url, TENANT) == "acd-dc2"
        wait_until("dc2's ACD owns the tenant", acd_on_dc2, 60, 0.2)
        acd_seconds = time.monotonic() - lost_at

        # --- nothing acknowledged is lost ---
        lost: list[str] = []
        with contextlib.closing(standby.connect("hibiki")) as conn:
            names = dict(conn.execute("SELECT username, display_name FROM users WHERE tenant_id = %s",
                                      (TENANT,)).fetchall())
        for seat, name in (("seat-1", "相談窓口 1"), ("seat-2", "相談窓口 2")):
            if names.get(seat) != name:
                lost.append(f"configuration: {seat}'s display name ({names.get(seat)!r})")
        queues = {q["id"] for q in acd2.get(f"/api/v1/tenants/{TENANT}/queues").json()["items"]}
        if "evening" not in queues:
            lost.append("ACD configuration: queue evening")

        async def stored(_: Any, js: Any) -> list[str]:
            sub = await js.pull_subscribe(bus.subject(TENANT, "call", "ended"))   # an ephemeral consumer
            seen: set[str] = set()
            while True:
                try:
                    batch = await sub.fetch(100, timeout=2)
                except (nats.errors.TimeoutError, asyncio.TimeoutError):
                    break
                for msg in batch:
                    seen.add(msg.headers.get("Nats-Msg-Id", "") if msg.headers else "")
                    await msg.ack()
            return [event_id for _, _, event_id in records if event_id not in seen]
        lost += [f"call record {event_id}" for event_id in on_nats(dc2.nats.url, stored)]

        after = {name: acd2.get(f"{agents}/{name}/state").json() for name in ("a1", "a2")}
        for name in ("a1", "a2"):
            for key in ("state", "device", "reason", "call_id", "calls_handled", "state_since"):
                if before[name].get(key) != after[name].get(key):
                    lost.append(f"agent {name} {key}: {before[name].get(key)!r} -> {after[name].get(key)!r}")
        # the call waiting on dc1's node: gone with dc1, so dc2's ACD drops it as node_lost
        def waiting_dropped() -> bool:
            got = acd2.get(f"/api/v1/tenants/{TENANT}/queues/q/stats", timeout=10).json()
            return not got["waiting"] and got["node_lost"] == 1
        wait_until("the waiting call on dc1's node leaves as node_lost", waiting_dropped, 60, 0.2)
        dropped_seconds = time.monotonic() - lost_at
        stats = acd2.get(f"/api/v1/tenants/{TENANT}/queues/q/stats").json()

        print(f"failover: event stream (led by {stream_leader} before the loss) writable on dc2 after {nats_seconds:.1f} s")
        print(f"failover: tenant {TENANT}'s ACD on dc2 after {acd_seconds:.1f} s "
              f"(lease {LEASE_SECONDS:.0f} s), agents as they were: "
              + "; ".join(f"{n} {after[n].get('state')}" for n in ("a1", "a2")))
        print(f"failover: configuration writes on dc2 after {store_seconds:.1f} s (standby promoted by "
              f"{promoted:.1f} s; routing answered from memory meanwhile)")
        print(f"failover: the call waiting on dc1's node left queue q on dc2 as node_lost after {dropped_seconds:.1f} s "
              f"(the ACD's grace 10 s; dc2 owned the tenant after {acd_seconds:.1f} s)")
        print(f"failover: lost: {', '.join(lost) if lost else 'nothing acknowledged'} "
              f"(2 configuration changes, 1 ACD change, {len(records)} call records, 2 agents checked)")
        assert lost == []
        assert (stats["node_lost"], stats["abandoned"], stats["cancelled"], stats["waiting"]) == (1, 0, 0, [])
        assert after["a1"]["state"] == "talking"        # the call on dc2's node goes on
        assert acd_seconds < LEASE_SECONDS + 10, "a dead owner's tenant moves once its lease expires"
