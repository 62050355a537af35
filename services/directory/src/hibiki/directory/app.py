"""Wiring of the directory service: store -> view -> HTTP (/fsapi, /api/v1) and the NATS watch."""

from __future__ import annotations

import asyncio
import gc

from hibiki.common import bus
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.logging import get_logger
from hibiki.common.net import bind_tcp
from hibiki.common.rpc import GrpcServer
from hibiki.directory.config import DirectoryConfig
from hibiki.directory.guard import AuthGuard
from hibiki.directory.http.admin import AdminApi
from hibiki.directory.http.auth_blocks import AuthBlocksApi
from hibiki.directory.http.recording_policy import RecordingPolicyApi
from hibiki.directory.http import csv_api
from hibiki.directory.http.csv_api import csv_routes
from hibiki.directory.http.fsapi import FsapiEndpoint, fsapi_route
from hibiki.directory.http.info import info_route
from hibiki.directory.http.search import search_route
from hibiki.directory.nats.notifier import ConfigNotifier
from hibiki.directory.nats.security_watch import SecurityWatch
from hibiki.directory.nats.config_watch import ConfigWatch
from hibiki.directory.rpc.service import DirectoryService
from hibiki.directory.v1 import directory_pb2_grpc
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.directory.storage.database import load_tenants, open_store
from hibiki.directory.view import DirectoryView

log = get_logger("hibiki.directory")


async def main(stop: asyncio.Event, config: DirectoryConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or DirectoryConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    sock = bind_tcp(config.host, config.port, "directory HTTP")
    engine = await asyncio.to_thread(open_store, config.database_url)
    view = DirectoryView()
    for tenant in await asyncio.to_thread(load_tenants, engine):
        view.replace(tenant)
    gc.collect()
    gc.freeze()  # the view lives as long as the process: spare it the collector's full passes
    nc = await bus.connect(config.nats_url, "hibiki-directory")
    await bus.ensure_events_stream(nc.jetstream())

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected}

    notifier = ConfigNotifier(nc.jetstream())
    repository = ConfigRepository(engine)
    admin = AdminApi(repository, notifier)
    guard = AuthGuard(config.auth_max_failures, config.auth_window_seconds, config.auth_block_seconds,
                      config.auth_scanner_usernames)
    if not config.fsapi_user:
        log.warning("fsapi_unauthenticated", reason="HIBIKI_DIRECTORY_FSAPI_USER/_PASSWORD are not set: /fsapi serves "
                    "no secrets (gateways, voicemail PINs), no tenant's internal dialplan and no password guard; "
                    "hibiki up sets them")
    app = build_app(
        "directory",
        authority,
        [fsapi_route(FsapiEndpoint(config, view, guard, notifier, repository)),
         info_route(view),
         search_route(admin),
         *admin.routes(),
         *csv_routes(admin.repo, notifier),
         *AuthBlocksApi(guard, view, notifier).routes(),
         *RecordingPolicyApi(repository, notifier).routes()],
        open_paths=["/fsapi"],
        body_limits={r"/api/v1/tenants/[^/]+/[a-z_]+/import": csv_api.MAX_BYTES},   # /fsapi checks its own
        readiness=readiness,
    )
    http = HttpServer(app, sock)
    grpc_server = GrpcServer(authority, config.host, config.grpc_port, "directory gRPC")
    directory_pb2_grpc.add_DirectoryServiceServicer_to_server(DirectoryService(view, authority), grpc_server.server)
    await run_until_stopped(
        stop, [NatsComponent(nc), ConfigWatch(nc, engine, view, resync_seconds=config.resync_seconds),
               SecurityWatch(nc, guard), grpc_server, http], ready,
        url=f"http://{config.host}:{http.port}", fsapi=f"http://{config.host}:{http.port}/fsapi",
        grpc=f"{config.host}:{config.grpc_port}",
        tenants=len(view),
    )
    engine.dispose()
