"""The recording service's own tables (database ``hibiki``), as numbered migrations recorded in
``recording_migrations`` (analytics keeps ``schema_migrations``; the two may share a server).

* ``recordings``: one row per stored recording, the call's facts copied from RecordingStopped and
  the disposition from the call's DispositionSaved (``dispositions``), with size, checksum,
  object key, data key and the retention deadline. ReplacingMergeTree ordered by (tenant, start_time,
  recording_id), monthly partitions (searches are by tenant and time; bloom filters find a recording,
  a call or an agent): a retried index write or a later disposition replaces the row (read with
  FINAL; a recording's start time never changes). A deletion
  removes the row (lightweight DELETE).
* ``dispositions``: the case type saved for a call, kept whether the recording is indexed yet or not.
* ``recording_audit``: append-only trail of every search, play, download, delete (who, what, when,
  from where). One row per event id (a retried deletion records once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hibiki.common.logging import get_logger

DATABASE = "hibiki"
log = get_logger("hibiki.recording.index")

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "recordings, dispositions, recording_audit", (
        """CREATE TABLE IF NOT EXISTS hibiki.recordings (
            tenant LowCardinality(String),
            recording_id String,
            version UInt64,
            call_id String,
            leg_uuid String,
            part UInt16,
            start_time DateTime64(3, 'UTC'),
            end_time DateTime64(3, 'UTC'),
            duration_ms UInt64,
            channels UInt8,
            direction LowCardinality(String),
            caller_number String,
            callee_number String,
            did String,
            queue_id LowCardinality(String),
            agent_id String,
            user_id String,
            reason LowCardinality(String),
            codec LowCardinality(String),
            size_bytes UInt64,
            sha256 String,
            object_key String,
            key_id String,
            stored_at DateTime64(3, 'UTC'),
            delete_after DateTime64(3, 'UTC'),
            INDEX by_recording recording_id TYPE bloom_filter GRANULARITY 4,
            INDEX by_call call_id TYPE bloom_filter GRANULARITY 4,
            INDEX by_agent agent_id TYPE bloom_filter GRANULARITY 4,
            INDEX by_deadline delete_after TYPE minmax GRANULARITY 4
        ) ENGINE = ReplacingMergeTree(version)
        PARTITION BY toYYYYMM(start_time)
        ORDER BY (tenant, start_time, recording_id)""",
        """CREATE TABLE IF NOT EXISTS hibiki.dispositions (
            tenant LowCardinality(String),
            call_id String,
            disposition String,
            agent_id String,
            saved_at DateTime64(3, 'UTC')
        ) ENGINE = ReplacingMergeTree(saved_at)
        ORDER BY (tenant, call_id)""",
        """CREATE TABLE IF NOT EXISTS hibiki.recording_audit (
            tenant LowCardinality(String),
            at DateTime64(3, 'UTC'),
            event_id String,
            actor String,
            roles Array(String),
            action LowCardinality(String),
            recording_id String,
            remote String,
            detail String
        ) ENGINE = ReplacingMergeTree
        ORDER BY (tenant, at, event_id)""",
    )),
)


def migrate(execute: Callable[[str], Any], select: Callable[[str], Sequence[Sequence[Any]]]) -> list[int]:
    """Apply what ``recording_migrations`` does not list; each statement is idempotent."""
    execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    execute(f"""CREATE TABLE IF NOT EXISTS {DATABASE}.recording_migrations (
        number UInt32, name String, applied_at DateTime('UTC')) ENGINE = ReplacingMergeTree ORDER BY number""")
    done = {int(row[0]) for row in select(f"SELECT number FROM {DATABASE}.recording_migrations")}
    applied = []
    for number, name, statements in MIGRATIONS:
        if number in done:
            continue
        for statement in statements:
            execute(statement)
        execute(f"INSERT INTO {DATABASE}.recording_migrations SELECT {number}, '{name}', now()")
        log.info("migration_applied", number=number, name=name)
        applied.append(number)
    return applied
