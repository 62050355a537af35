"""The recording index on a ClickHouse server through clickhouse-driver (native protocol), the
same queries as chdb, over the connection every service's server store shares
(:mod:`hibiki.common.clickhouse_server`). The schema follows the server's version
(``schema.Dialect``): Debian's 18.16 keeps whole seconds and deletes with a mutation, which this
store waits for, so a deleted recording is gone from every read when ``delete_rows`` returns.
``insert_quorum`` (HIBIKI_RECORDING_INDEX_INSERT_QUORUM): a row is acknowledged once that many
replicas hold it. Blocking and thread-safe: call it through ``asyncio.to_thread``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from hibiki.common.bus import Unavailable
from hibiki.common.clickhouse_server import ServerConnection, utc
from hibiki.common.clickhouse_sql import bind
from hibiki.recording.index import schema

Row = tuple[Any, ...]
MUTATION_WAIT = 30.0


class IndexUnavailable(Unavailable, RuntimeError):
    """The server cannot be reached (the driver reconnects on the next call)."""


class ServerStore:
    def __init__(self, url: str, cluster: str = "", insert_quorum: int = 0) -> None:
        self.cluster = cluster   # "" one server; else tables ON CLUSTER with Replicated* engines
        self._server = ServerConnection(url, database=schema.DATABASE, variable="HIBIKI_RECORDING_INDEX_URL",
                                        unavailable=IndexUnavailable, insert_quorum=insert_quorum)
        self.dialect = schema.MODERN

    def migrate(self) -> list[int]:
        self.dialect = schema.Dialect.for_version(self._server.version("recording index"))
        return schema.migrate(self.execute, self.query, self.dialect, cluster=self.cluster)

    def _bind(self, sql: str, params: Mapping[str, Any] | None) -> str:
        return bind(sql, params, fractional_seconds=self.dialect.datetime.startswith("DateTime64"))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._server.rows(self._bind(sql, params))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._server.execute(self._bind(sql, params))

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        data = [tuple(utc(row[c]) for c in columns) for row in rows]
        self._server.execute(f"INSERT INTO {schema.DATABASE}.{table} ({', '.join(columns)}) VALUES", data)

    def delete_rows(self, table: str, where: str, params: Mapping[str, Any]) -> None:
        """Delete ``table``'s rows matching ``where``; on a legacy server wait for the mutation."""
        if self.dialect.lightweight_delete:
            self.execute(f"DELETE FROM {schema.DATABASE}.{table} WHERE {where}", params)
            return
        self.execute(f"ALTER TABLE {schema.DATABASE}.{table} DELETE WHERE {where}", params)
        deadline = time.monotonic() + MUTATION_WAIT
        while self.query(f"SELECT count() FROM {schema.DATABASE}.{table} WHERE {where}", params)[0][0]:
            if time.monotonic() > deadline:
                raise IndexUnavailable(f"ClickHouse at {self._server.host}: the deletion in {table} is still running")
            time.sleep(0.05)

    def close(self) -> None:
        self._server.close()
