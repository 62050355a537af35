"""Wiring of the analytics service: ClickHouse store, the event consumer, HTTP."""

from __future__ import annotations

import asyncio

from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.daily_job import DailyReports
from hibiki.analytics.http import routes as http_routes
from hibiki.analytics.ingest import Ingestor
from hibiki.analytics.nats.event_consumer import EventConsumer
from hibiki.analytics.storage import open_store
from hibiki.analytics.storage.report_store import ReportStore
from hibiki.analytics.web import routes as web
from hibiki.analytics.web.lifecycle_api import LifecycleApi
from hibiki.analytics.wallboard import api as wallboard_api
from hibiki.analytics.wallboard.feed import Feed
from hibiki.analytics.wallboard.hub import Wallboards
from hibiki.analytics.wallboard.page import WallboardPages
from hibiki.analytics.wallboard.restore import AcdHttp, NoAcd, StoredEvents
from hibiki.common import bus, revocation
from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.http import HttpServer, build_app
from hibiki.common.lifecycle import NatsComponent, run_until_stopped
from hibiki.common.logging import get_logger
from hibiki.common.net import bind_tcp

log = get_logger("hibiki.analytics")


async def main(stop: asyncio.Event, config: AnalyticsConfig | None = None, ready: asyncio.Event | None = None) -> None:
    config = config or AnalyticsConfig.from_env()
    authority = load_authority(Env.load(), config.data_dir)
    sock = bind_tcp(config.host, config.port, "analytics HTTP")
    store = open_store(config.clickhouse_url, config.clickhouse_cluster, config.clickhouse_insert_quorum)
    applied = await asyncio.to_thread(store.migrate)
    log.info("analytics_schema", dialect=store.dialect.name, applied=[m.number for m in applied])
    nc = await bus.connect(config.nats_url, "hibiki-analytics")
    js = nc.jetstream()
    await bus.ensure_events_stream(js, stop=stop)
    consumer = EventConsumer(nc, Ingestor(store, config.retention), max_batch=config.batch_size,
                             max_wait=config.batch_wait, ack_wait=config.ack_wait)

    async def readiness() -> dict[str, bool]:
        return {"nats": nc.is_connected}

    boards = Wallboards(AcdHttp(config.acd_url, authority) if config.acd_url else NoAcd(), StoredEvents(store),
                        timezone=config.timezone)
    kept = ReportStore(store)
    app = WallboardPages(build_app("analytics", authority, [*http_routes(store), *wallboard_api.routes(boards),
                                                            *web.routes(store, kept), *LifecycleApi(store).routes()],
                                   readiness=readiness, open_paths=web.OPEN_PATHS))
    http = HttpServer(app, sock)
    daily = DailyReports(store, kept, config.daily_report_at)
    try:
        await run_until_stopped(stop, [NatsComponent(nc), revocation.RevocationWatch(nc, authority.revocations, stop=stop), consumer, Feed(js, boards.apply, config.wallboard_replay, stop=stop),
                                       daily, http, boards], ready,
                                url=f"http://{config.host}:{http.port}", store=config.clickhouse_url)
    finally:
        store.close()
