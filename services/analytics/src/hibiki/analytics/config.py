"""Analytics settings, from HIBIKI_ANALYTICS_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from hibiki.analytics.storage.migrations import DEFAULT_RETENTION_DAYS
from hibiki.common.clickhouse_server import insert_quorum
from hibiki.common.clickhouse_sql import cluster_name
from hibiki.common.config import Env, data_dir
from hibiki.common.errors import ConfigError
from hibiki.common.digits import ascii_digits

MAX_RETENTION_DAYS = 65535


def parse_retention(text: str) -> tuple[int, dict[str, int]]:
    """``1095`` or ``1095,kanazawa=1825,toshima=3650``: the default and per-tenant days."""
    default, per_tenant = DEFAULT_RETENTION_DAYS, {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        tenant, _, days = item.rpartition("=")
        if not ascii_digits(days) or not 1 <= int(days) <= MAX_RETENTION_DAYS or (tenant == "" and "=" in item):
            raise ConfigError(f"HIBIKI_ANALYTICS_RETENTION_DAYS: {item!r} is not DAYS or TENANT=DAYS "
                              f"(1..{MAX_RETENTION_DAYS})")
        if tenant:
            per_tenant[tenant] = int(days)
        else:
            default = int(days)
    return default, per_tenant


def parse_time_of_day(text: str) -> time:
    """``HH:MM`` (24 h) for HIBIKI_ANALYTICS_DAILY_REPORT_AT."""
    hours, _, minutes = text.strip().partition(":")
    if not (ascii_digits(hours) and ascii_digits(minutes) and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60):
        raise ConfigError(f"HIBIKI_ANALYTICS_DAILY_REPORT_AT: {text!r} is not HH:MM (00:00-23:59, Asia/Tokyo)")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class AnalyticsConfig:
    host: str
    port: int
    nats_url: str
    data_dir: Path
    clickhouse_url: str     # chdb:///path (embedded) or clickhouse://host:9000/hibiki
    retention_days: int = DEFAULT_RETENTION_DAYS
    tenant_retention_days: Mapping[str, int] = field(default_factory=dict)
    batch_size: int = 10_000
    batch_wait: float = 2.0        # a trickle's batch: see README (the cost of a batch against the records' delay)
    daily_report_at: time = time(23, 50)     # Asia/Tokyo: when each tenant's daily report is generated
    ack_wait: float = 10.0
    acd_url: str = ""                         # the ACD's HTTP API (the wallboard's present state); "": none
    timezone: str = "Asia/Tokyo"              # where the wallboard's day starts
    wallboard_replay: float = 300.0           # seconds of the event stream the wallboard reads again on start
    clickhouse_cluster: str = ""              # "": one server; else tables ON CLUSTER, Replicated* engines
    clickhouse_insert_quorum: int = 0         # > 1: a batch is acknowledged once that many replicas hold it

    def retention(self, tenant: str) -> int:
        return self.tenant_retention_days.get(tenant, self.retention_days)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AnalyticsConfig:
        env = Env.load("analytics", environ)
        shared = Env.load("", environ)
        root = data_dir(shared)
        cluster = cluster_name(env.text("CLICKHOUSE_CLUSTER", ""), env.key("CLICKHOUSE_CLUSTER"))
        default_days, per_tenant = parse_retention(env.text("RETENTION_DAYS", str(DEFAULT_RETENTION_DAYS)))
        return cls(
            host=env.text("HOST", "127.0.0.1"),
            port=env.port("PORT", 8083),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=root,
            clickhouse_url=env.text("CLICKHOUSE_URL", f"chdb://{root / 'analytics' / 'chdb'}"),
            retention_days=default_days,
            tenant_retention_days=per_tenant,
            batch_size=env.integer("BATCH_SIZE", 10_000, minimum=1, maximum=100_000),
            batch_wait=env.integer("BATCH_WAIT_MS", 2000, minimum=1, maximum=60_000) / 1000,
            daily_report_at=parse_time_of_day(env.text("DAILY_REPORT_AT", "23:50")),
            ack_wait=env.integer("ACK_WAIT_MS", 10_000, minimum=1_000, maximum=600_000) / 1000,
            acd_url=env.text("ACD_URL", ""),
            timezone=env.text("TIMEZONE", "Asia/Tokyo"),
            wallboard_replay=env.integer("WALLBOARD_REPLAY_SECONDS", 300, minimum=0, maximum=86_400),
            clickhouse_cluster=cluster,
            clickhouse_insert_quorum=insert_quorum(env.integer("CLICKHOUSE_INSERT_QUORUM", 0, minimum=0, maximum=9),
                                                   cluster, env.key("CLICKHOUSE_INSERT_QUORUM")),
        )
