"""A ClickHouse server through clickhouse-driver (native protocol, batched inserts).

The SQL stays within what ClickHouse 18.16 (Debian's package) accepts, so the same
code is tested against a real server here; newer servers accept it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlparse

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from hibiki.analytics.cdr import CdrRow
from hibiki.analytics.storage.base import COLUMNS
from hibiki.common.errors import StartupError

DDL = """
CREATE TABLE IF NOT EXISTS {db}.cdr (
    event_id String,
    tenant String,
    call_uuid String,
    direction String,
    caller_number String,
    destination_number String,
    queue_id String,
    agent_id String,
    started_at DateTime,
    answered_at Nullable(DateTime),
    ended_at DateTime,
    wait_ms UInt64,
    talk_ms UInt64,
    hangup_cause String,
    abandoned UInt8,
    case_type String,
    ivr_path Array(String),
    recording_id String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (tenant, started_at, event_id)
"""


class ServerStore:
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.database = parsed.path.strip("/") or "hibiki"
        self._client = Client(
            host=parsed.hostname or "127.0.0.1", port=parsed.port or 9000,
            user=parsed.username or "default", password=parsed.password or "",
            secure=parsed.scheme == "clickhouses", connect_timeout=5, send_receive_timeout=30,
        )
        self._url = url

    def migrate(self) -> None:
        try:
            self._client.execute(f"CREATE DATABASE IF NOT EXISTS {self.database}")
            self._client.execute(DDL.format(db=self.database))
        except (ClickHouseError, OSError) as exc:
            raise StartupError(f"analytics store {urlparse(self._url).hostname}: {exc}") from None

    def insert(self, rows: Sequence[CdrRow]) -> None:
        if not rows:
            return
        data = [
            (r.event_id, r.tenant, r.call_uuid, r.direction, r.caller_number, r.destination_number, r.queue_id,
             r.agent_id, r.started_at.replace(tzinfo=None), r.answered_at.replace(tzinfo=None) if r.answered_at else None,
             r.ended_at.replace(tzinfo=None), r.wait_ms, r.talk_ms, r.hangup_cause, int(r.abandoned),
             r.case_type, list(r.ivr_path), r.recording_id)
            for r in rows
        ]
        self._client.execute(f"INSERT INTO {self.database}.cdr ({', '.join(COLUMNS)}) VALUES", data)

    def count(self, tenant: str) -> int:
        rows = self._client.execute(f"SELECT count() FROM {self.database}.cdr FINAL WHERE tenant = %(t)s", {"t": tenant})
        return int(rows[0][0])

    def event_ids(self, tenant: str) -> list[str]:
        rows = self._client.execute(
            f"SELECT event_id FROM {self.database}.cdr FINAL WHERE tenant = %(t)s ORDER BY event_id", {"t": tenant})
        return [r[0] for r in rows]

    def close(self) -> None:
        self._client.disconnect()
