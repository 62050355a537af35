"""The recording index on a ClickHouse server through clickhouse-driver (native protocol), the
same queries as chdb. The schema follows the server's version (``schema.Dialect``): Debian's
18.16 keeps whole seconds and deletes with a mutation, which this store waits for, so a deleted
recording is gone from every read when ``delete_rows`` returns. Blocking and thread-safe: call it
through ``asyncio.to_thread``."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from hibiki.common.bus import Unavailable
from hibiki.common.clickhouse_sql import bind
from hibiki.common.errors import ConfigError, StartupError
from hibiki.recording.index import schema

Row = tuple[Any, ...]
MUTATION_WAIT = 30.0


class IndexUnavailable(Unavailable, RuntimeError):
    """The server cannot be reached (the driver reconnects on the next call)."""


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


class ServerStore:
    def __init__(self, url: str, cluster: str = "") -> None:
        self.cluster = cluster   # "" one server; else tables ON CLUSTER with Replicated* engines
        parsed = urlparse(url)
        database = parsed.path.strip("/")
        if database not in ("", schema.DATABASE):
            raise ConfigError(f"HIBIKI_RECORDING_INDEX_URL: the database is {schema.DATABASE!r}, not {database!r}")
        self._client = Client(
            host=parsed.hostname or "127.0.0.1", port=parsed.port or 9000,
            user=parsed.username or "default", password=parsed.password or "",
            secure=parsed.scheme == "clickhouses", connect_timeout=5, send_receive_timeout=30,
            settings={"use_client_time_zone": False},
        )
        self._host = parsed.hostname
        self._lock = threading.Lock()
        self.dialect = schema.MODERN

    def _execute(self, sql: str, data: Any = None) -> Any:
        with self._lock:
            try:
                return self._client.execute(sql) if data is None else self._client.execute(sql, data)
            except (EOFError, OSError) as exc:
                self._client.disconnect()
                raise IndexUnavailable(f"ClickHouse at {self._host}: {exc}") from None
            except ClickHouseError as exc:
                if getattr(exc, "code", None) is None:      # a network error, not the server's answer
                    self._client.disconnect()
                    raise IndexUnavailable(f"ClickHouse at {self._host}: {exc}") from None
                raise

    def migrate(self) -> list[int]:
        try:
            version = str(self._execute("SELECT version()")[0][0])
        except IndexUnavailable as exc:
            raise StartupError(f"recording index: {exc}") from None
        self.dialect = schema.Dialect.for_version(version)
        return schema.migrate(self.execute, self.query, self.dialect, cluster=self.cluster)

    def _bind(self, sql: str, params: Mapping[str, Any] | None) -> str:
        return bind(sql, params, fractional_seconds=self.dialect.datetime.startswith("DateTime64"))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return [tuple(_utc(v) for v in row) for row in self._execute(self._bind(sql, params))]

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._execute(self._bind(sql, params))

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        data = [tuple(_utc(row[c]) for c in columns) for row in rows]
        self._execute(f"INSERT INTO {schema.DATABASE}.{table} ({', '.join(columns)}) VALUES", data)

    def delete_rows(self, table: str, where: str, params: Mapping[str, Any]) -> None:
        """Delete ``table``'s rows matching ``where``; on a legacy server wait for the mutation."""
        if self.dialect.lightweight_delete:
            self.execute(f"DELETE FROM {schema.DATABASE}.{table} WHERE {where}", params)
            return
        self.execute(f"ALTER TABLE {schema.DATABASE}.{table} DELETE WHERE {where}", params)
        deadline = time.monotonic() + MUTATION_WAIT
        while self.query(f"SELECT count() FROM {schema.DATABASE}.{table} WHERE {where}", params)[0][0]:
            if time.monotonic() > deadline:
                raise IndexUnavailable(f"ClickHouse at {self._host}: the deletion in {table} is still running")
            time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()
