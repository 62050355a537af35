"""Losing a data center with FreeSWITCH in the path (issue 16, OPS-01; README "Failover between data
centers"): the two sites of ``tests/failover/`` (NATS clustered with a witness, PostgreSQL primary in
dc1 with a synchronous standby in dc2, a directory and an ACD per site), each with a FreeSWITCH of
its own that asks its own site's directory. Phones know both sites (baresip: ``outbound`` dc1,
``outbound2`` dc2). A call goes through dc1; then every process of dc1 (FreeSWITCH included) is
killed with SIGKILL, and the test times a phone registering on dc2, a new call through dc2, and a
caller the carrier sends to dc2 reaching, through dc2's callcontrol and ACD, the agent who logged in
on dc1. A caller waiting in a queue on dc1 when it dies leaves dc2's queue as ``node_lost`` (no
callcontrol reports dc1's FreeSWITCH any more: ``FsNodeHeartbeat``), offered to no agent, within
the ACD's grace (``HIBIKI_ACD_NODE_LOST_SECONDS``) of dc2 owning the tenant.

baresip 1.0 (Debian) fails over only half: with ``sipnat=outbound`` it registers a flow with both
proxies (so dc2 can reach it at once), but keeps sending its own new calls to the first proxy
even after that flow's REGISTER timed out; without it, it never tries ``outbound2``. The new call
after the loss is therefore made by sipp sent to dc2, as a phone with DNS SRV or a working second
proxy sends it (README "Failover between data centers")."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from nats import errors as nats_errors

from hibiki.events.v1 import acd_pb2 as acd_events_pb2

from support.directory import FSAPI_PASSWORD, FSAPI_USER
from support.failover import LEASE_SECONDS, Site, lease_owner, on_nats, start_services, store_url, two_sites, wait_until
from support.switch import sipp
from support.switch.baresip import Baresip
from support.switch.freeswitch import FreeSwitch
from support.switch.net import Bench, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TENANT, DOMAIN, DID = "toshima", "toshima.example.jp", "0339811111"
REGINT = 60     # seconds between the phones' REGISTER refreshes
TARGET_SECONDS = 30     # a new call works this soon after the loss (the registrations are already on dc2)
LOST_DID = "0339812222"     # to the queue "lost", which only agent a2 serves (logged out: its callers wait)
NODE_LOST_SECONDS = 10.0    # HIBIKI_ACD_NODE_LOST_SECONDS, the shipped default


def acd_events(url: str, tenant: str) -> list[tuple[str, Any]]:
    """Every ``acd.*`` event of the tenant in the events stream (read on one NATS server), decoded."""
    kinds = {"offered": acd_events_pb2.CallOffer, "left": acd_events_pb2.CallLeftQueue,
             "queued": acd_events_pb2.CallQueued}

    async def read(nc: Any, js: Any) -> list[tuple[str, Any]]:
        sub = await js.subscribe(f"hibiki.{tenant}.acd.>", ordered_consumer=True)
        out: list[tuple[str, Any]] = []
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=2)
                except nats_errors.TimeoutError:
                    return out
                kind = msg.subject.rsplit(".", 1)[-1]
                if kind in kinds:
                    out.append((kind, kinds[kind].FromString(msg.data)))
        finally:
            await sub.unsubscribe()
    return on_nats(url, read, timeout=10)


def start_switch(fs: FreeSwitch, site: Site, callcontrol_esl: int, esl_password: str, carrier: str) -> None:
    """The site's FreeSWITCH, asking the site's directory and handing calls to the site's callcontrol."""
    fs.start({"HIBIKI_HOST": site.host, "HIBIKI_DIRECTORY_URL": f"{site.services['directory'].url}/fsapi",
              "HIBIKI_DIRECTORY_FSAPI_USER": FSAPI_USER, "HIBIKI_DIRECTORY_FSAPI_PASSWORD": FSAPI_PASSWORD,
              "HIBIKI_CALLCONTROL_ADDR": f"{site.host}:{callcontrol_esl}",
              "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD": esl_password,
              "HIBIKI_FS_ESL_ALLOW": "127.0.0.0/8", "HIBIKI_FS_CARRIER_CIDRS": f"{carrier}/32"})


def start_callcontrol(site: Site, fs: FreeSwitch, esl_port: int, esl_password: str) -> None:
    """The site's callcontrol: its FreeSWITCH the one node, its ACD and directory the site's."""
    directory_grpc = site.services["directory"].env["HIBIKI_DIRECTORY_GRPC_PORT"]
    site.add("callcontrol", {
        "HIBIKI_CALLCONTROL_ESL_PORT": str(esl_port),
        "HIBIKI_CALLCONTROL_FREESWITCH_NODES": f"fs-{site.name}={fs.address}:{fs.ports.esl}",
        "HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD": esl_password,
        "HIBIKI_CALLCONTROL_ACD_GRPC": f"{site.host}:{site.services['acd'].env['HIBIKI_ACD_GRPC_PORT']}",
        "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": f"{site.host}:{directory_grpc}",
        "HIBIKI_CALLCONTROL_QUEUE_ANNOUNCE_SECONDS": "0"}).start()


def registered(fs: FreeSwitch, user: str) -> bool:
    try:
        return re.search(rf"User:\s+{re.escape(user)}@", fs.registrations()) is not None
    except (OSError, ConnectionError):
        return False


@contextmanager
def phones(root: Path, net_base: ipaddress.IPv4Address, devices: dict[str, str], primary: FreeSwitch,
           backup: FreeSwitch) -> Iterator[dict[str, Baresip]]:
    made: dict[str, Baresip] = {}
    try:
        for n, (user, password) in enumerate(devices.items()):
            made[user] = Baresip(root / "phones", str(net_base + 21 + n), primary.sip, user, DOMAIN, password,
                                 backup_sip=backup.sip, regint=REGINT, sipnat="outbound")
        yield made
    finally:
        for phone in made.values():
            phone.stop()


def test_phones_move_to_dc2_and_calls_go_through_there(tmp_path: Path) -> None:
    with two_sites(tmp_path) as (dc1, dc2, _nodes, primary, standby):
        database = store_url("hibiki", primary, standby)
        esl_password = secrets.token_urlsafe(18)
        switches = {site.name: FreeSwitch(tmp_path / f"freeswitch-{site.name}",
                                          Bench(ipaddress.IPv4Address(site.host) - 1)) for site in (dc1, dc2)}
        callcontrol_esl = {site.name: free_port(site.host) for site in (dc1, dc2)}
        background: list[sipp.Sipp] = []

        def services(site: Site) -> None:
            start_services(site, database, free_port(site.host), {
                "HIBIKI_DIRECTORY_FSAPI_ALLOW": "127.0.0.0/8",
                "HIBIKI_DIRECTORY_CALLCONTROL_ADDRESS": f"{site.host}:{callcontrol_esl[site.name]}"})

        services(dc1)
        directory, acd = dc1.services["directory"].client(), dc1.services["acd"].client()
        assert directory.post("/api/v1/tenants", json={"id": TENANT, "domain": DOMAIN}).status_code == 201
        devices: dict[str, str] = {}
        for extension in ("2001", "2002"):
            user = directory.post(f"/api/v1/tenants/{TENANT}/users", json={"username": f"u{extension}",
                                                                          "extension": extension})
            assert user.status_code == 201, user.text
            devices[extension] = secrets.token_urlsafe(12)
            device = directory.post(f"/api/v1/tenants/{TENANT}/devices", json={
                "user_id": user.json()["id"], "sip_username": extension, "password": devices[extension]})
            assert device.status_code == 201, device.text
        assert acd.put(f"/api/v1/tenants/{TENANT}/queues/q", json={"offer_timeout_seconds": 15}).status_code == 201
        assert acd.put(f"/api/v1/tenants/{TENANT}/agents/a1", json={"queues": ["q"]}).status_code == 201
        assert acd.put(f"/api/v1/tenants/{TENANT}/queues/lost", json={"offer_timeout_seconds": 15}).status_code == 201
        assert acd.put(f"/api/v1/tenants/{TENANT}/agents/a2", json={"queues": ["lost"]}).status_code == 201
        for number, queue in ((DID, "q"), (LOST_DID, "lost")):
            did = directory.post(f"/api/v1/tenants/{TENANT}/dids", json={"number": number, "target_kind": "queue",
                                                                         "target": queue})
            assert did.status_code == 201, did.text
        wait_until("dc1's ACD owns the tenant", lambda: lease_owner(dc1.nats.url, TENANT) == "acd-dc1", 30)
        services(dc2)
        phone_net = ipaddress.IPv4Address(dc1.host) - 1 + 256 * 8   # a /24 of phones beside the sites
        carrier = str(phone_net + 9)
        try:
            for site in (dc1, dc2):
                start_switch(switches[site.name], site, callcontrol_esl[site.name], esl_password, carrier)
                start_callcontrol(site, switches[site.name], callcontrol_esl[site.name], esl_password)
            with phones(tmp_path, phone_net, devices, switches["dc1"], switches["dc2"]) as phone:
                for extension in devices:      # SIP outbound: one flow to each site
                    for name, fs in switches.items():
                        wait_until(f"{extension} registered on {name}", lambda e=extension, f=fs: registered(f, e), 30)
                assert acd.post(f"/api/v1/tenants/{TENANT}/agents/a1/login",
                                json={"device": "2001", "ready": True}).status_code == 200
                mark = phone["2002"].mark()
                phone["2001"].dial("2002")
                phone["2002"].wait("CALL_ESTABLISHED", timeout=20, after=mark)
                phone["2001"].hangup()
                phone["2002"].wait("CALL_CLOSED", timeout=20, after=mark)
                # a caller waiting on dc1 (nobody serves "lost" yet) when dc1 dies
                waiting_call = sipp.call(tmp_path / "sipp", switches["dc1"].sip, carrier, "0312345679", carrier, None,
                                         LOST_DID, final=200, talk_ms=300_000, background=True,
                                         target_host=switches["dc1"].sip)
                assert isinstance(waiting_call, sipp.Sipp)
                background.append(waiting_call)

                def waiting_on_dc1() -> list[dict[str, Any]]:
                    stats = acd.get(f"/api/v1/tenants/{TENANT}/queues/lost/stats").json()
                    return list(stats["waiting"])
                wait_until("a caller waiting in dc1's queue", waiting_on_dc1, 30)
                [queued_on_dc1] = waiting_on_dc1()
                assert queued_on_dc1["node"] == "fs-dc1", queued_on_dc1     # callcontrol enqueued it with its node

                fs1 = switches["dc1"]
                killed = dc1.kill()
                assert fs1.process is not None
                os.killpg(fs1.process.pid, signal.SIGKILL)     # FreeSWITCH runs in a session of its own
                fs1.process.wait(10)
                lost_at, lost_wall = time.monotonic(), time.time()
                print(f"\nfailover: dc1 killed at once (SIGKILL): {', '.join(killed)}, "
                      f"freeswitch (pid {fs1.process.pid})")

                # a phone whose next request goes to dc2 (a second proxy, DNS SRV): it registers there
                # (the directory answers from memory: dc2's store has no primary yet) and calls
                registration = sipp.register(tmp_path / "sipp", switches["dc2"].sip, str(phone_net + 30), "2002",
                                             DOMAIN, devices["2002"])
                assert registration.ok, registration.responses()
                register_seconds = time.monotonic() - lost_at
                mark = phone["2001"].mark()
                result = sipp.call(tmp_path / "sipp", switches["dc2"].sip, str(phone_net + 31), "2002", DOMAIN,
                                   devices["2002"], "2001", final=200, talk_ms=1000)
                assert result.ok, result.responses()
                phone["2001"].wait("CALL_ESTABLISHED", timeout=5, after=mark)   # registered on dc2 before the loss
                phone["2001"].wait("CALL_CLOSED", timeout=10, after=mark)
                call_seconds = time.monotonic() - lost_at
                assert call_seconds < TARGET_SECONDS
                # the contact center on dc2: the agent logged in on dc1 is the tenant's on dc2 once
                # dc1's lease expires, and a caller the carrier sends to dc2 reaches them there
                wait_until("dc2's ACD owns the tenant", lambda: lease_owner(dc2.nats.url, TENANT) == "acd-dc2",
                           60, 0.2)
                owned_seconds = time.monotonic() - lost_at
                agent = dc2.services["acd"].client().get(f"/api/v1/tenants/{TENANT}/agents/a1/state").json()
                assert (agent["state"], agent["device"]) == ("ready", "2001"), agent
                mark = phone["2001"].mark()
                queued = sipp.call(tmp_path / "sipp", switches["dc2"].sip, carrier, "0312345678", carrier, None, DID,
                                   final=200, talk_ms=1000, background=True, target_host=switches["dc2"].sip)
                phone["2001"].wait("CALL_ESTABLISHED", timeout=30, after=mark)
                queue_seconds = time.monotonic() - lost_at
                assert isinstance(queued, sipp.Sipp)
                assert queued.result().ok
                # the caller who waited on dc1 died with it: out of dc2's queue within the grace
                acd2 = dc2.services["acd"].client()

                def lost_dropped() -> bool:
                    stats = acd2.get(f"/api/v1/tenants/{TENANT}/queues/lost/stats").json()
                    return not stats["waiting"] and stats["node_lost"] == 1
                wait_until("dc1's waiting caller out of dc2's queue", lost_dropped, NODE_LOST_SECONDS + 15, 0.2)
                # a2 logs in on dc2: nothing is offered to them (the lost call is gone)
                login = acd2.post(f"/api/v1/tenants/{TENANT}/agents/a2/login", json={"device": "2002", "ready": True})
                assert login.status_code == 200, login.text
                time.sleep(2)
                a2 = acd2.get(f"/api/v1/tenants/{TENANT}/agents/a2/state").json()
                assert a2["state"] == "ready", a2
                history = [(kind, m) for kind, m in acd_events(dc2.nats.url, TENANT)
                           if m.meta.call_uuid == queued_on_dc1["call_id"]]
                assert [kind for kind, _ in history if kind == "offered"] == []      # offered to no agent
                [left] = [m for kind, m in history if kind == "left"]
                assert (left.queue_id, left.reason) == ("lost", "node_lost")
                dropped_seconds = left.meta.occurred_at.ToNanoseconds() / 1e9 - lost_wall     # the ACD's decision
                assert dropped_seconds < max(NODE_LOST_SECONDS, owned_seconds) + 5
                print(f"failover: a phone re-registered on dc2 after {register_seconds:.1f} s")
                print(f"failover: a new call through dc2 answered after {call_seconds:.1f} s "
                      f"(target {TARGET_SECONDS} s) by a phone with a flow to dc2 (baresip, SIP outbound)")
                print(f"failover: a caller sent to dc2 reached agent a1 through dc2's queue after {queue_seconds:.1f} s "
                      f"(the ACD's lease {LEASE_SECONDS:.0f} s)")
                print(f"failover: the caller waiting on dc1 left dc2's queue as node_lost after {dropped_seconds:.1f} s "
                      f"(dc2 owned the tenant after {owned_seconds:.1f} s, grace {NODE_LOST_SECONDS:.0f} s), "
                      f"offered to no agent")
        finally:
            for run in background:
                run.stop()
            for fs in switches.values():
                fs.stop()
