"""A ClickHouse server through clickhouse-driver (native protocol, one INSERT per batch, sent as
columns: the driver's columnar insert, its fastest path), over the connection every service's
server store shares (:mod:`hibiki.common.clickhouse_server`).

The dialect follows the server's version: >= 20.1 gets the schema chdb gets; Debian's 18.16 the
legacy one (DateTime in whole seconds, no TTL). A lost connection raises StoreUnavailable; the
driver reconnects on the next call. ``insert_quorum`` (HIBIKI_ANALYTICS_CLICKHOUSE_INSERT_QUORUM):
a batch is acknowledged once that many replicas hold it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hibiki.analytics.storage import migrations
from hibiki.analytics.storage.base import Row, StoreUnavailable
from hibiki.analytics.storage.migrations import Applied, Dialect
from hibiki.common.clickhouse_server import ServerConnection, utc
from hibiki.common.clickhouse_sql import bind

# the consumer binds a batch's thousands of (tenant, key)s into IN lists: past the default 256 KiB
MAX_QUERY_SIZE = 64 * 1024 * 1024


class ServerStore:
    def __init__(self, url: str, cluster: str = "", insert_quorum: int = 0) -> None:
        self.cluster = cluster   # "" one server; else tables ON CLUSTER with Replicated* engines
        self._server = ServerConnection(url, database=migrations.DATABASE, variable="HIBIKI_ANALYTICS_CLICKHOUSE_URL",
                                        unavailable=StoreUnavailable, insert_quorum=insert_quorum,
                                        settings={"max_query_size": MAX_QUERY_SIZE})
        self.dialect: Dialect = migrations.MODERN

    def migrate(self) -> list[Applied]:
        self.dialect = Dialect.for_version(self._server.version("analytics store"))
        return migrations.migrate(self.execute, self.query, self.dialect, cluster=self.cluster)

    def _bind(self, sql: str, params: Mapping[str, Any] | None) -> str:
        return bind(sql, params, fractional_seconds=self.dialect.datetime.startswith("DateTime64"))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._server.rows(self._bind(sql, params))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._server.execute(self._bind(sql, params))

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        data = [[utc(v) for v in column] for column in zip(*rows, strict=True)]
        self._server.execute(f"INSERT INTO {migrations.DATABASE}.{table} ({', '.join(columns)}) VALUES", data,
                             columnar=True)

    def close(self) -> None:
        self._server.close()
