"""Wiring of the directory service: store -> view -> HTTP (/fsapi, /api/v1) and the NATS watch."""

from __future__ import annotations

import asyncio
import dataclasses
import gc

from hibiki.common import bus, revocation
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.logging import get_logger
from hibiki.common.net import bind_tcp
from hibiki.common.rpc import GrpcServer
from hibiki.directory.config import DirectoryConfig
from hibiki.directory.guard import AuthGuard
from hibiki.directory.lifecycle.settings import Settings as LifecycleSettings
from hibiki.directory.http.admin import AdminApi
from hibiki.directory.http import console
from hibiki.directory.http.peers import PeerProxy
from hibiki.directory.http.own_api import OwnPageApi
from hibiki.directory.http.voicemail_api import VoicemailApi
from hibiki.directory.storage.voicemail_box import VoicemailBox
from hibiki.directory.http import auth_api
from hibiki.directory.http.audit_api import AuditApi
from hibiki.directory.http.auth_api import AuthApi
from hibiki.directory.http.console_users_api import ConsoleUsersApi
from hibiki.directory.http.login_page import LoginPage
from hibiki.directory.identity.login import Limits, Logins
from hibiki.directory.storage.audit import AuditTrail
from hibiki.directory.storage.identity import IdentityStore
from hibiki.directory.http.auth_blocks import AuthBlocksApi
from hibiki.directory.http.calendar import CalendarApi
from hibiki.directory.http.disaster import DisasterApi
from hibiki.directory.http.recording_policy import RecordingPolicyApi
from hibiki.directory.http import csv_api
from hibiki.directory.http.csv_api import csv_routes
from hibiki.directory.http.export_api import ExportApi
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
    engine = await asyncio.to_thread(open_store, config.database_url, config.journal)
    view = DirectoryView()
    for tenant in await asyncio.to_thread(load_tenants, engine):
        view.replace(tenant)
    gc.collect()
    gc.freeze()  # the view lives as long as the process: spare it the collector's full passes
    nc = await bus.connect(config.nats_url, "hibiki-directory")
    await bus.ensure_events_stream(nc.jetstream(), stop=stop)

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected}

    notifier = ConfigNotifier(nc.jetstream())
    repository = ConfigRepository(engine)
    trail = AuditTrail(engine, authority.derive_key("audit-chain"))
    revoked = await bus.retry_unavailable("the revocation bucket", lambda: revocation.bucket(nc.jetstream()), stop=stop)

    async def revoke(key: str, until: float, not_before: float | None) -> None:
        await revocation.revoke(revoked, key, until, not_before)

    logins = Logins(IdentityStore(engine), trail, authority, revoke, Limits(
        config.session_idle_seconds, config.session_max_seconds, config.login_max_failures,
        config.login_window_seconds, config.login_address_max_failures))
    admin = AdminApi(repository, notifier, trail, logins.tenant_deleted)
    guard = AuthGuard(config.auth_max_failures, config.auth_window_seconds, config.auth_block_seconds,
                      config.auth_scanner_usernames)
    if not config.fsapi_user:
        log.warning("fsapi_unauthenticated", reason="HIBIKI_DIRECTORY_FSAPI_USER/_PASSWORD are not set: /fsapi serves "
                    "no secrets (gateways, voicemail PINs), no tenant's internal dialplan and no password guard; "
                    "hibiki up sets them")
    own = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    lifecycle = dataclasses.replace(LifecycleSettings.from_env(),     # the export asks this directory too
                                    directory_url=f"http://{own}:{sock.getsockname()[1]}")
    app = PeerProxy(console.pages(build_app(
        "directory",
        authority,
        [fsapi_route(FsapiEndpoint(config, view, guard, notifier, repository)),
         info_route(view),
         search_route(admin),
         *admin.routes(),
         *csv_routes(admin.repo, notifier, admin.audit),
         *AuthBlocksApi(guard, view, notifier, admin.audit).routes(),
         *RecordingPolicyApi(repository, notifier, admin.audit).routes(),
         *CalendarApi(repository).routes(),
         *DisasterApi(repository, notifier, admin.audit).routes(),
         *VoicemailApi(repository, VoicemailBox(config.voicemail_db, config.voicemail_dir), admin.audit).routes(),
         *OwnPageApi(repository, notifier, admin.audit).routes(),
         *AuthApi(logins).routes(),
         *ConsoleUsersApi(logins, authority).routes(),
         *AuditApi(trail).routes(),
         *LoginPage().routes(),
         *ExportApi(lifecycle, authority).routes()],
        open_paths=["/fsapi", *auth_api.OPEN_PATHS, *LoginPage.OPEN_PATHS],
        body_limits={r"/api/v1/tenants/[^/]+/[a-z_]+/import": csv_api.MAX_BYTES},   # /fsapi checks its own
        readiness=readiness,
    )), {"acd": config.acd_http, "analytics": config.analytics_http,
                                         "callcontrol": config.callcontrol_http})
    http = HttpServer(auth_api.RenewCors(app), sock)
    grpc_server = GrpcServer(authority, config.host, config.grpc_port, "directory gRPC")
    directory_pb2_grpc.add_DirectoryServiceServicer_to_server(DirectoryService(view, authority), grpc_server.server)
    await run_until_stopped(
        stop, [NatsComponent(nc), revocation.RevocationWatch(nc, authority.revocations, stop=stop), ConfigWatch(nc, engine, view, resync_seconds=config.resync_seconds),
               SecurityWatch(nc, guard), grpc_server, http], ready,
        url=f"http://{config.host}:{http.port}", fsapi=f"http://{config.host}:{http.port}/fsapi",
        grpc=f"{config.host}:{config.grpc_port}",
        tenants=len(view),
    )
    engine.dispose()
