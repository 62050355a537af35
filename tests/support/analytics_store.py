"""The analytics store the report tests use: the service's own chdb store, migrated."""

from __future__ import annotations

from pathlib import Path

from hibiki.analytics.storage import Store, open_store


def open_test_store(path: Path) -> Store:
    store = open_store(f"chdb://{path}")
    store.migrate()
    return store
