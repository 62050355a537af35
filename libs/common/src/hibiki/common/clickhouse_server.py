"""One connection to a ClickHouse server through clickhouse-driver (native protocol), for every
service that keeps a ClickHouse store on a server (analytics, the recording index).

What it does for them, the same way: the URL (``clickhouse://user:password@host:port/db``,
``clickhouses://`` for TLS) checked against the one database the service owns; one driver client
behind a lock (the driver is not thread-safe; callers run through ``asyncio.to_thread``); timestamps
taken as UTC; the errors mapped: a server's answer (``ServerException``) goes up as it is, anything
else (refused, reset, timed out, a broken stream) disconnects and raises the service's own
"unavailable" exception, and the driver reconnects on the next call.

``insert_quorum`` (0 or 1: the server acknowledges an INSERT once it holds it itself) set to 2
makes a replicated server acknowledge an INSERT only when two replicas hold it (ClickHouse's
``insert_quorum``, 18.16 and later; ``insert_quorum_timeout`` bounds the wait): an acknowledged
row survives the loss of either replica, and with one replica left every INSERT is refused (the
caller keeps its rows and retries).

Needs clickhouse-driver (``hibiki-common[clickhouse]``; analytics and recording depend on it)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError
from clickhouse_driver.errors import ServerException

from hibiki.common.errors import ConfigError, StartupError

QUORUM_TIMEOUT_MS = 10_000


def utc(value: Any) -> Any:
    """A value read from the server with its datetimes (also inside lists and tuples) in UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, list):
        return [utc(v) for v in value]
    if isinstance(value, tuple):
        return tuple(utc(v) for v in value)
    return value


def insert_quorum(value: int, cluster: str, variable: str) -> int:
    """``HIBIKI_*_INSERT_QUORUM`` checked: more than one replica needs a replicated cluster."""
    if value > 1 and not cluster:
        raise ConfigError(f"{variable}={value}: an insert quorum needs replicated tables (a cluster)")
    return value


class ServerConnection:
    """``url``'s server; ``unavailable``: the exception its service raises when it cannot be reached."""

    def __init__(self, url: str, *, database: str, variable: str, unavailable: type[Exception],
                 insert_quorum: int = 0, quorum_timeout_ms: int = QUORUM_TIMEOUT_MS,
                 settings: dict[str, Any] | None = None) -> None:
        parsed = urlparse(url)
        named = parsed.path.strip("/")
        if named not in ("", database):
            raise ConfigError(f"{variable}: the database is {database!r}, not {named!r}")
        client_settings: dict[str, Any] = {"use_client_time_zone": False, **(settings or {})}
        if insert_quorum > 1:
            client_settings |= {"insert_quorum": insert_quorum, "insert_quorum_timeout": quorum_timeout_ms}
        self._client = Client(
            host=parsed.hostname or "127.0.0.1", port=parsed.port or 9000,
            user=parsed.username or "default", password=parsed.password or "",
            secure=parsed.scheme == "clickhouses", connect_timeout=5, send_receive_timeout=30,
            settings=client_settings,
        )
        self.host = parsed.hostname
        self.insert_quorum = insert_quorum
        self._unavailable = unavailable
        self._lock = threading.Lock()

    def execute(self, sql: str, data: Any = None, *, columnar: bool = False) -> Any:
        """The driver's ``execute``; ``data``: the rows (or columns) of an ``INSERT ... VALUES``."""
        with self._lock:
            try:
                if data is None:
                    return self._client.execute(sql)
                return self._client.execute(sql, data, columnar=columnar)
            except ServerException:
                raise
            except (ClickHouseError, EOFError, OSError) as exc:
                self._client.disconnect()
                raise self._unavailable(f"ClickHouse at {self.host}: {exc}") from None

    def version(self, what: str) -> str:
        """The server's version; unreachable at startup is a StartupError naming ``what``."""
        try:
            return str(self.execute("SELECT version()")[0][0])
        except self._unavailable as exc:
            raise StartupError(f"{what}: {exc}") from None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(utc(v) for v in row) for row in self.execute(sql)]

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()

