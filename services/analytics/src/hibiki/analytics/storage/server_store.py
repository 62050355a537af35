"""A ClickHouse server through clickhouse-driver (native protocol, one INSERT per batch, sent as
columns: the driver's columnar insert, its fastest path).

The dialect follows the server's version: >= 20.1 gets the schema chdb gets; Debian's 18.16 the
legacy one (DateTime in whole seconds, no TTL). A lost connection raises StoreUnavailable; the
driver reconnects on the next call."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError
from clickhouse_driver.errors import NetworkError, ServerException

from hibiki.analytics.storage import migrations
from hibiki.analytics.storage.base import Row, StoreUnavailable
from hibiki.analytics.storage.migrations import Applied, Dialect
from hibiki.common.clickhouse_sql import bind
from hibiki.common.errors import ConfigError, StartupError

MAX_QUERY_SIZE = 64 * 1024 * 1024


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_value(v) for v in value)
    return value


class ServerStore:
    def __init__(self, url: str, cluster: str = "") -> None:
        self.cluster = cluster   # "" one server; else tables ON CLUSTER with Replicated* engines
        parsed = urlparse(url)
        database = parsed.path.strip("/")
        if database not in ("", migrations.DATABASE):
            raise ConfigError(f"HIBIKI_ANALYTICS_CLICKHOUSE_URL: the database is {migrations.DATABASE!r}, "
                              f"not {database!r}")
        self._client = Client(
            host=parsed.hostname or "127.0.0.1", port=parsed.port or 9000,
            user=parsed.username or "default", password=parsed.password or "",
            secure=parsed.scheme == "clickhouses", connect_timeout=5, send_receive_timeout=30,
            # the consumer binds a batch's thousands of (tenant, key)s into IN lists: past the default 256 KiB
            settings={"use_client_time_zone": False, "max_query_size": MAX_QUERY_SIZE},
        )
        self._host = parsed.hostname
        self._lock = threading.Lock()
        self.dialect: Dialect = migrations.MODERN

    def _execute(self, sql: str, data: Any = None, columnar: bool = False) -> Any:
        with self._lock:
            try:
                if data is None:
                    return self._client.execute(sql)
                return self._client.execute(sql, data, columnar=columnar)
            except (NetworkError, EOFError, OSError) as exc:
                self._client.disconnect()
                raise StoreUnavailable(f"ClickHouse at {self._host}: {exc}") from None
            except ServerException:
                raise
            except ClickHouseError as exc:
                self._client.disconnect()
                raise StoreUnavailable(f"ClickHouse at {self._host}: {exc}") from None

    def migrate(self) -> list[Applied]:
        try:
            version = str(self._execute("SELECT version()")[0][0])
        except StoreUnavailable as exc:
            raise StartupError(f"analytics store: {exc}") from None
        self.dialect = Dialect.for_version(version)
        return migrations.migrate(self.execute, self.query, self.dialect, cluster=self.cluster)

    def _bind(self, sql: str, params: Mapping[str, Any] | None) -> str:
        return bind(sql, params, fractional_seconds=self.dialect.datetime.startswith("DateTime64"))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        rows = self._execute(self._bind(sql, params))
        return [tuple(_value(v) for v in row) for row in rows]

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._execute(self._bind(sql, params))

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        data = [[_value(v) for v in column] for column in zip(*rows, strict=True)]
        self._execute(f"INSERT INTO {migrations.DATABASE}.{table} ({', '.join(columns)}) VALUES", data, columnar=True)

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()
