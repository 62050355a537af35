"""Wiring of the ACD service: NATS (buckets, events), the replica (leases, tenants, timers),
gRPC (AcdService, health, forwarding between replicas), HTTP (configuration, agent desktop API,
the desktop page and its live feed, the supervisor page, its tenant feed and callcontrol's
supervision API on this origin) and
the calls FreeSWITCH ended (``call.ended``, the safety net for an outcome callcontrol could not report)
and the FreeSWITCH nodes callcontrol reaches (``NodeWatch``: the calls of a lost node leave as node_lost)."""

from __future__ import annotations

import asyncio
import socket

from prometheus_client import REGISTRY
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.acd.config import AcdConfig
from hibiki.acd.desktop.api import DesktopApi
from hibiki.acd.desktop.content import DeskContent, open_desk_bucket
from hibiki.acd.desktop.content_api import CallHistory, ContentApi, DirectoryContacts
from hibiki.acd.desktop.page import PATHS as DESKTOP_PATHS
from hibiki.acd.desktop.page import DesktopPages
from hibiki.acd.http.agents_api import AgentsApi
from hibiki.acd.nats.call_endings import CallEndings
from hibiki.acd.nats.node_watch import NodeWatch
from hibiki.acd.http.config_api import ConfigApi
from hibiki.acd.http.responses import Info
from hibiki.acd.metrics import QueueCollector
from hibiki.acd.nats.publisher import Publisher
from hibiki.acd.rpc.devices import DirectoryDevices
from hibiki.acd.supervisor.api import SupervisorApi
from hibiki.acd.supervisor.page import PATHS as SUPERVISOR_PATHS
from hibiki.acd.supervisor.page import SupervisorPages
from hibiki.acd.supervisor.proxy import SupervisionProxy
from hibiki.acd.rpc.peer import PeerClient, peer_handler
from hibiki.acd.rpc.service import AcdService
from hibiki.acd.runtime.buckets import open_buckets
from hibiki.acd.runtime.leases import Leases
from hibiki.acd.runtime.replica import Replica, ReplicaSettings
from hibiki.acd.runtime.router import Router
from hibiki.acd.v1 import acd_pb2_grpc
from hibiki.common import bus, revocation
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.logging import get_logger
from hibiki.common.net import bind_tcp
from hibiki.common.openapi import ApiRoute, Operation
from hibiki.common.rpc import GrpcServer


class ReplicaComponent:
    """Starts the replica once the gRPC port is known (it is the address in its leases)."""

    def __init__(self, replica: Replica, grpc_server: GrpcServer, config: AcdConfig, peers: PeerClient) -> None:
        self.replica, self._grpc, self._config, self._peers = replica, grpc_server, config, peers
        self.started = False

    async def start(self) -> None:
        self.replica.leases.address = self._config.advertised(self._grpc.port)
        await self.replica.start()
        self.started = True

    async def stop(self) -> None:
        self.started = False
        await self.replica.stop()
        await self._peers.close()


log = get_logger("hibiki.acd.app")


async def main(stop: asyncio.Event, config: AcdConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or AcdConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    sock = bind_tcp(config.host, config.port, "acd HTTP")
    grpc_server = GrpcServer(authority, config.host, config.grpc_port, "acd gRPC")
    nc = await bus.connect(config.nats_url, "hibiki-acd")
    js = nc.jetstream()
    await bus.ensure_events_stream(js, stop=stop)
    buckets = await bus.retry_unavailable("the ACD buckets", lambda: open_buckets(js, config.lease_seconds), stop=stop)
    content = DeskContent(await bus.retry_unavailable("the desk bucket", lambda: open_desk_bucket(js), stop=stop))
    settings = ReplicaSettings(config.replica_id, f"acd@{socket.gethostname()}", config.timezone,
                               config.lease_seconds, config.offer_grace_seconds)
    replica = Replica(buckets, Leases(buckets.leases, config.replica_id, ""), Publisher(js), settings)
    queue_metrics = QueueCollector(lambda: {tenant: rt.acd for tenant, rt in replica.tenants.items()})
    peers = PeerClient()
    router = Router(replica, peers)
    devices = DirectoryDevices(config.directory_grpc, authority, config.directory_timeout)
    acd_pb2_grpc.add_AcdServiceServicer_to_server(AcdService(router, authority, nc, devices), grpc_server.server)
    grpc_server.server.add_generic_rpc_handlers((peer_handler(replica, authority, devices),))
    component = ReplicaComponent(replica, grpc_server, config, peers)

    async def info(request: Request) -> Response:
        return JSONResponse({"service": "acd", "grpc_port": grpc_server.port, "caller": request.scope["hibiki.claims"].subject,
                             "replica": config.replica_id, "tenants": sorted(replica.tenants)})

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected, "replica": component.started}

    peers_contacts = DirectoryContacts(config.directory_http, authority, config.desktop_peer_timeout)
    desktop = DesktopPages(config.desktop_sip_ws, config.desktop_vendor_dir)
    desktop_api = DesktopApi(router, devices, nc, config.desktop_sip_ws, config.desktop_vendor_dir)
    supervisor = SupervisorPages(config.desktop_sip_ws)
    routes = [ApiRoute("/api/v1/info", info, "GET", Operation("This replica: its gRPC port, the tenants it owns, who asks",
                                                         response=Info, tags=["meta"])),
              *ConfigApi(replica, router).routes(), *AgentsApi(router, devices, content).routes(),
              *desktop_api.routes(), *SupervisorApi(router, nc, desktop_api).routes(), *supervisor.routes(),
              *ContentApi(content, peers_contacts, CallHistory(config.analytics_http, peers_contacts),
                         router).routes(),
              *desktop.routes()]
    app = build_app("acd", authority, routes, readiness=readiness, open_paths=[*DESKTOP_PATHS, *SUPERVISOR_PATHS])
    http = HttpServer(SupervisionProxy(desktop.assets(supervisor.assets(app)), config.callcontrol_http), sock)
    try:
        REGISTRY.register(queue_metrics)
        registered = True
    except ValueError:  # another replica in this process (tests) already exports them
        log.warning("queue_metrics_not_registered", reason="metric names already registered")
        registered = False
    try:
        await run_until_stopped(stop, [NatsComponent(nc), revocation.RevocationWatch(nc, authority.revocations, stop=stop), devices, grpc_server, component, CallEndings(nc, replica),
                                           NodeWatch(nc, replica, config.node_silent_seconds, config.node_lost_seconds),
                                           http], ready,
                                url=f"http://{config.host}:{http.port}", grpc=f"{config.host}:{config.grpc_port}",
                                replica=config.replica_id)
    finally:
        if registered:
            REGISTRY.unregister(queue_metrics)
