"""Wiring of the analytics service: ClickHouse store, the CDR consumer, HTTP."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.nats.cdr_consumer import CdrConsumer
from hibiki.analytics.storage import open_store
from hibiki.common import bus
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app, error_response
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.net import bind_tcp


async def main(stop: asyncio.Event, config: AnalyticsConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or AnalyticsConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    sock = bind_tcp(config.host, config.port, "analytics HTTP")
    store = open_store(config.clickhouse_url)
    await asyncio.to_thread(store.migrate)
    nc = await bus.connect(config.nats_url, "hibiki-analytics")
    js = nc.jetstream()
    await bus.ensure_events_stream(js)

    async def cdr_count(request: Request) -> Response:
        claims = request.scope["hibiki.claims"]
        tenant = request.path_params["tenant"]
        if not claims.may_act_for(tenant):
            return error_response(403, "forbidden-tenant", f"this token may not read tenant {tenant!r}")
        return JSONResponse({"tenant": tenant, "cdr_count": await asyncio.to_thread(store.count, tenant)})

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected}

    app = build_app("analytics", authority, [Route("/api/v1/tenants/{tenant}/cdr/count", cdr_count)], readiness=readiness)
    http = HttpServer(app, sock)
    try:
        await run_until_stopped(stop, [NatsComponent(nc), CdrConsumer(js, store), http], ready,
                                url=f"http://{config.host}:{http.port}", store=config.clickhouse_url)
    finally:
        store.close()
