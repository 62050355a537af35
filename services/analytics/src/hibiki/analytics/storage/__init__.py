"""ClickHouse adapters: chdb in-process (embedded default) and clickhouse-driver (servers),
the schema migrations, and the tables the consumer writes."""

from __future__ import annotations

from hibiki.analytics.storage.base import Row, Store, StoreUnavailable, open_store

__all__ = ["Row", "Store", "StoreUnavailable", "open_store"]
