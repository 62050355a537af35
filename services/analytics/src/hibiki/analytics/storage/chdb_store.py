"""ClickHouse in-process through chdb (one session per process, on-disk path)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hibiki.analytics.cdr import CdrRow
from hibiki.common.errors import StartupError

DDL = """
CREATE TABLE IF NOT EXISTS hibiki.cdr (
    event_id String,
    tenant LowCardinality(String),
    call_uuid String,
    direction LowCardinality(String),
    caller_number String,
    destination_number String,
    queue_id LowCardinality(String),
    agent_id String,
    started_at DateTime64(3, 'UTC'),
    answered_at Nullable(DateTime64(3, 'UTC')),
    ended_at DateTime64(3, 'UTC'),
    wait_ms UInt64,
    talk_ms UInt64,
    hangup_cause LowCardinality(String),
    abandoned Bool,
    case_type LowCardinality(String),
    ivr_path Array(String),
    recording_id String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (tenant, started_at, event_id)
TTL toDateTime(started_at) + INTERVAL 3 YEAR
"""


def _dt(value: Any) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if value is not None else None


class ChdbStore:
    def __init__(self, path: str) -> None:
        from chdb import session

        Path(path).mkdir(parents=True, exist_ok=True)
        try:
            self._session: Any = session.Session(path)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise StartupError(f"analytics store chdb://{path}: {exc}") from None
        self._lock = threading.Lock()

    def _query(self, sql: str, fmt: str = "JSONCompact") -> Any:
        with self._lock:
            return self._session.query(sql, fmt)

    def migrate(self) -> None:
        self._query("CREATE DATABASE IF NOT EXISTS hibiki")
        self._query(DDL)

    def insert(self, rows: Sequence[CdrRow]) -> None:
        if not rows:
            return
        lines = "\n".join(
            json.dumps({
                "event_id": r.event_id, "tenant": r.tenant, "call_uuid": r.call_uuid, "direction": r.direction,
                "caller_number": r.caller_number, "destination_number": r.destination_number,
                "queue_id": r.queue_id, "agent_id": r.agent_id, "started_at": _dt(r.started_at),
                "answered_at": _dt(r.answered_at), "ended_at": _dt(r.ended_at), "wait_ms": r.wait_ms,
                "talk_ms": r.talk_ms, "hangup_cause": r.hangup_cause, "abandoned": r.abandoned,
                "case_type": r.case_type, "ivr_path": list(r.ivr_path), "recording_id": r.recording_id,
            }, ensure_ascii=False)
            for r in rows
        )
        self._query(f"INSERT INTO hibiki.cdr FORMAT JSONEachRow\n{lines}")

    def _rows(self, sql: str) -> list[list[Any]]:
        result = self._query(sql)
        return list(json.loads(result.data())["data"])

    def count(self, tenant: str) -> int:
        rows = self._rows(f"SELECT count() FROM hibiki.cdr FINAL WHERE tenant = {_literal(tenant)}")
        return int(rows[0][0])

    def event_ids(self, tenant: str) -> list[str]:
        rows = self._rows(f"SELECT event_id FROM hibiki.cdr FINAL WHERE tenant = {_literal(tenant)} ORDER BY event_id")
        return [r[0] for r in rows]

    def close(self) -> None:
        with self._lock:
            self._session.close()


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
