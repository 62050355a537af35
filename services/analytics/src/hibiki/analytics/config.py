"""Analytics settings, from HIBIKI_ANALYTICS_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hibiki.common.config import Env, data_dir


@dataclass(frozen=True)
class AnalyticsConfig:
    host: str
    port: int
    nats_url: str
    data_dir: Path
    clickhouse_url: str     # chdb:///path (embedded) or clickhouse://host:9000/database
    acd_url: str = "http://127.0.0.1:8081"     # the ACD's HTTP API (the wallboard's present state)
    timezone: str = "Asia/Tokyo"              # where the wallboard's day starts

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AnalyticsConfig:
        env = Env.load("analytics", environ)
        shared = Env.load("", environ)
        root = data_dir(shared)
        return cls(
            host=env.text("HOST", "127.0.0.1"),
            port=env.port("PORT", 8083),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=root,
            clickhouse_url=env.text("CLICKHOUSE_URL", f"chdb://{root / 'analytics' / 'chdb'}"),
            acd_url=env.text("ACD_URL", "http://127.0.0.1:8081"),
            timezone=env.text("TIMEZONE", "Asia/Tokyo"),
        )
