"""Wiring of the analytics service: ClickHouse store, the CDR consumer, HTTP."""

from __future__ import annotations

import asyncio

from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.http import routes as http_routes
from hibiki.analytics.nats.cdr_consumer import CdrConsumer
from hibiki.analytics.storage import open_store
from hibiki.analytics.wallboard import api as wallboard_api
from hibiki.analytics.wallboard.feed import Feed
from hibiki.analytics.wallboard.hub import Wallboards
from hibiki.analytics.wallboard.page import WallboardPages
from hibiki.analytics.wallboard.restore import AcdHttp, NoCalls
from hibiki.common import bus
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app
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

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected}

    boards = Wallboards(AcdHttp(config.acd_url, authority), NoCalls(), timezone=config.timezone)
    app = WallboardPages(build_app("analytics", authority, [*http_routes(store), *wallboard_api.routes(boards)],
                                   readiness=readiness))
    http = HttpServer(app, sock)
    try:
        await run_until_stopped(stop, [NatsComponent(nc), CdrConsumer(js, store), Feed(js, boards.apply), http, boards],
                                ready,
                                url=f"http://{config.host}:{http.port}", store=config.clickhouse_url)
    finally:
        store.close()
