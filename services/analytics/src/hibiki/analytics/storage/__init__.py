"""ClickHouse adapters: chdb in-process (embedded default) and clickhouse-driver (servers)."""

from __future__ import annotations

from hibiki.analytics.storage.base import CdrStore, open_store

__all__ = ["CdrStore", "open_store"]
