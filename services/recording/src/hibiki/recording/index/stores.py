"""The recording index's store, chosen by URL (``HIBIKI_RECORDING_INDEX_URL``): ``chdb://<path>``
(embedded, the default: ``HIBIKI_RECORDING_INDEX_DIR``) or ``clickhouse://host:port/hibiki``
(``clickhouses://`` for TLS) for a ClickHouse server, possibly the one analytics uses."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from hibiki.common.errors import ConfigError
from hibiki.recording.index.recordings import Store


def open_index(url: str, cluster: str = "", insert_quorum: int = 0) -> Store:
    """``cluster``: the index's tables replicated over that ClickHouse cluster (a server only);
    ``insert_quorum`` > 1: a row is acknowledged once that many of its replicas hold it."""
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        from hibiki.recording.index.chdb_store import ChdbStore

        return ChdbStore(Path(parsed.netloc + parsed.path))
    if parsed.scheme in ("clickhouse", "clickhouses"):
        from hibiki.recording.index.server_store import ServerStore

        return ServerStore(url, cluster, insert_quorum)
    raise ConfigError(f"HIBIKI_RECORDING_INDEX_URL: unsupported scheme {parsed.scheme!r} (chdb:// or clickhouse://)")
