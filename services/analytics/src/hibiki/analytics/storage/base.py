"""The CDR store interface and choosing an implementation from a URL.

``chdb:///path`` opens ClickHouse in-process (modern SQL: LowCardinality, DateTime64,
TTL of 3 years); ``clickhouse://host:port/database`` talks to a server with the native
protocol (SQL that ClickHouse 18.16, the version in Debian, accepts too). Rows are
deduplicated by event id (ReplacingMergeTree; counts use FINAL), so a redelivered
event is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlparse

from hibiki.analytics.cdr import CdrRow
from hibiki.common.errors import ConfigError

COLUMNS = (
    "event_id", "tenant", "call_uuid", "direction", "caller_number", "destination_number", "queue_id",
    "agent_id", "started_at", "answered_at", "ended_at", "wait_ms", "talk_ms", "hangup_cause",
    "abandoned", "case_type", "ivr_path", "recording_id",
)


class CdrStore(Protocol):
    def migrate(self) -> None: ...

    def insert(self, rows: Sequence[CdrRow]) -> None: ...

    def count(self, tenant: str) -> int: ...

    def event_ids(self, tenant: str) -> list[str]: ...

    def close(self) -> None: ...


def open_store(url: str) -> CdrStore:
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        from hibiki.analytics.storage.chdb_store import ChdbStore

        return ChdbStore(parsed.netloc + parsed.path)
    if parsed.scheme in ("clickhouse", "clickhouses"):
        from hibiki.analytics.storage.server_store import ServerStore

        return ServerStore(url)
    raise ConfigError(f"HIBIKI_ANALYTICS_CLICKHOUSE_URL: unsupported scheme {parsed.scheme!r} (chdb:// or clickhouse://)")
