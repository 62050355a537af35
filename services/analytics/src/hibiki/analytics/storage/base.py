"""The store interface of analytics and choosing an engine from a URL.

``chdb:///path`` opens ClickHouse in-process (the embedded default); ``clickhouse://host:port/db``
(or ``clickhouses://`` for TLS) talks to a server with the native protocol through
clickhouse-driver. Both take the same SQL with ``%(name)s`` parameters (see ``sql.bind``) and
return rows as tuples of Python values: ``str``, ``int``, ``float``, ``list``, ``None`` and
timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlparse

from hibiki.analytics.storage.migrations import Applied, Dialect
from hibiki.common.errors import ConfigError

Row = tuple[Any, ...]


class StoreUnavailable(Exception):
    """The engine did not answer (server down, connection lost): try again later."""


class Store(Protocol):
    """What reports, the wallboard and the consumer use. Thread-safe; blocking (call it through
    ``asyncio.to_thread`` from async code)."""

    dialect: Dialect

    def migrate(self) -> list[Applied]: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Rows of a SELECT; ``params`` are bound into ``%(name)s`` placeholders."""
        ...

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """A statement without rows (DDL, ALTER, OPTIMIZE)."""
        ...

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """One batch into ``hibiki.<table>`` (one INSERT: stored whole or not at all)."""
        ...

    def close(self) -> None: ...


def open_store(url: str, cluster: str = "", insert_quorum: int = 0) -> Store:
    """The store ``url`` names; ``cluster``: its tables replicated over that ClickHouse cluster;
    ``insert_quorum`` > 1: a batch is acknowledged once that many of its replicas hold it."""
    parsed = urlparse(url)
    if parsed.scheme == "chdb" and cluster:
        raise ConfigError("HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER: replicated tables need a ClickHouse server "
                          "(clickhouse://), chdb is one process's")
    if parsed.scheme == "chdb":
        from hibiki.analytics.storage.chdb_store import ChdbStore

        return ChdbStore(parsed.netloc + parsed.path)
    if parsed.scheme in ("clickhouse", "clickhouses"):
        from hibiki.analytics.storage.server_store import ServerStore

        return ServerStore(url, cluster, insert_quorum)
    raise ConfigError(f"HIBIKI_ANALYTICS_CLICKHOUSE_URL: unsupported scheme {parsed.scheme!r} (chdb:// or clickhouse://)")
