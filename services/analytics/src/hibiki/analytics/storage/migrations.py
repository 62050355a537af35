"""The ClickHouse schema of analytics, as numbered migrations, and the runner that applies them.

The tables (database ``hibiki``; the columns are described in services/analytics/README.md):

* ``events``: every event received, raw (protobuf, base64), one row per event id; the source the
  other tables are recomputed from.
* ``calls``: one row per call (all legs of one ``call_id``), ``legs``: one row per FreeSWITCH
  channel, ``agent_states``: one row per agent state interval.
* ``report_settings`` (a tenant's SLA targets, JSON) and ``daily_reports`` (each tenant's kept
  daily report, JSON): what the reports keep, shared by every analytics replica.

Every table is a ReplacingMergeTree: a row is identified by its ORDER BY key and the row with the
highest ``version`` wins, so a redelivered event or a recomputed call replaces its row instead of
adding one. Merges are eventual: read with ``FINAL`` (or ``argMax(..., version)``).
Monthly partitions; ``retention_days`` is stored on each row (per tenant, 1095 by default) and the
TTL drops rows that old.

One DDL text per migration; ``{DT}``, ``{LC}`` and ``{TTL...}`` are the only places where the
dialects differ: ClickHouse >= 23.8 (chdb, production) gets ``DateTime64(3, 'UTC')``,
``LowCardinality(String)`` and TTL; the 18.16 server Debian ships (tested for the driver path)
gets ``DateTime('UTC')`` (whole seconds), plain ``String`` and no TTL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hibiki.common.clickhouse_sql import on_cluster
from hibiki.common.logging import get_logger
from hibiki.common.digits import ascii_digits

log = get_logger("hibiki.analytics.migrations")
DATABASE = "hibiki"
DEFAULT_RETENTION_DAYS = 1095


@dataclass(frozen=True)
class Dialect:
    """What the engine's ClickHouse accepts."""

    name: str
    datetime: str          # the type of every time column
    low_cardinality: str   # the type of short repeated strings
    ttl: bool

    @classmethod
    def for_version(cls, version: str) -> Dialect:
        """``SELECT version()`` of the engine -> its dialect (TTL from 19.6, DateTime64 from 20.1)."""
        parts = [int(p) for p in version.split(".")[:2] if ascii_digits(p)]
        major, minor = (parts + [0, 0])[:2]
        if (major, minor) >= (20, 1):
            return MODERN
        return LEGACY


MODERN = Dialect("modern", "DateTime64(3, 'UTC')", "LowCardinality(String)", ttl=True)
LEGACY = Dialect("legacy-18.16", "DateTime('UTC')", "String", ttl=False)


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    statements: tuple[str, ...]

    def render(self, dialect: Dialect) -> list[str]:
        out = []
        for statement in self.statements:
            ttl_events = "TTL toDateTime(occurred_at) + toIntervalDay(retention_days)" if dialect.ttl else ""
            ttl_start = "TTL toDateTime(start_time) + toIntervalDay(retention_days)" if dialect.ttl else ""
            out.append(statement.format(db=DATABASE, DT=dialect.datetime, LC=dialect.low_cardinality,
                                        TTL_EVENTS=ttl_events, TTL_START=ttl_start))
        return out


_RESULT = ("Enum8('answered' = 1, 'abandoned_ivr' = 2, 'abandoned_queue' = 3, 'no_answer' = 4, 'busy' = 5, "
           "'refused' = 6, 'voicemail' = 7, 'transferred' = 8, 'failed' = 9)")
# migration 3: a call a lost FreeSWITCH node took out of its queue (acd.left reason node_lost)
_RESULT_3 = _RESULT[:-1] + ", 'node_lost' = 10)"
_DIRECTION = "Enum8('unknown' = 0, 'inbound' = 1, 'outbound' = 2, 'internal' = 3)"
_STATE = ("Enum8('unknown' = 0, 'logged_out' = 1, 'ready' = 2, 'reserved' = 3, 'ringing' = 4, 'talking' = 5, "
          "'after_call_work' = 6, 'break' = 7, 'not_ready' = 8)")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events, calls, legs, agent_states", (
        """CREATE TABLE IF NOT EXISTS {db}.events (
            tenant {LC},
            key String,
            event_id String,
            kind {LC},
            subject String,
            call_uuid String,
            occurred_at {DT},
            received_at {DT},
            payload String,
            retention_days UInt16 DEFAULT 1095
        ) ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(occurred_at)
        ORDER BY (tenant, key, event_id)
        {TTL_EVENTS}""",
        f"""CREATE TABLE IF NOT EXISTS {{db}}.calls (
            tenant {{LC}},
            call_id String,
            version UInt64,
            direction {_DIRECTION},
            caller_number String,
            caller_name String,
            callee_number String,
            did String,
            user_id String,
            agent_id String,
            answered_by String,
            start_time {{DT}},
            ring_time Nullable({{DT}}),
            answer_time Nullable({{DT}}),
            end_time {{DT}},
            ring_ms UInt64,
            wait_ms UInt64,
            talk_ms UInt64,
            hold_ms UInt64,
            acw_ms UInt64,
            ivr_path Array(String),
            queue_id {{LC}},
            queues Array(String),
            overflowed UInt8,
            result {_RESULT},
            hangup_cause {{LC}},
            sip_code UInt16,
            disposition {{LC}},
            transfer_target String,
            recording_id String,
            test_mode UInt8,
            legs UInt16,
            node {{LC}},
            retention_days UInt16 DEFAULT 1095
        ) ENGINE = ReplacingMergeTree(version)
        PARTITION BY toYYYYMM(start_time)
        ORDER BY (tenant, start_time, call_id)
        {{TTL_START}}""",
        f"""CREATE TABLE IF NOT EXISTS {{db}}.legs (
            tenant {{LC}},
            call_id String,
            leg_uuid String,
            version UInt64,
            leg {{LC}},
            direction {_DIRECTION},
            caller_number String,
            caller_name String,
            callee_number String,
            did String,
            user_id String,
            agent_id String,
            queue_id {{LC}},
            start_time {{DT}},
            ring_time Nullable({{DT}}),
            answer_time Nullable({{DT}}),
            bridge_time Nullable({{DT}}),
            end_time {{DT}},
            talk_ms UInt64,
            hold_ms UInt64,
            result {{LC}},
            hangup_cause {{LC}},
            sip_code UInt16,
            transfer_target String,
            recording_id String,
            test_mode UInt8,
            node {{LC}},
            retention_days UInt16 DEFAULT 1095
        ) ENGINE = ReplacingMergeTree(version)
        PARTITION BY toYYYYMM(start_time)
        ORDER BY (tenant, start_time, call_id, leg_uuid)
        {{TTL_START}}""",
        f"""CREATE TABLE IF NOT EXISTS {{db}}.agent_states (
            tenant {{LC}},
            agent_id String,
            start_time {{DT}},
            event_id String,
            version UInt64,
            state {_STATE},
            reason String,
            end_time Nullable({{DT}}),
            duration_ms UInt64,
            call_id String,
            queue_ids Array(String),
            device String,
            retention_days UInt16 DEFAULT 1095
        ) ENGINE = ReplacingMergeTree(version)
        PARTITION BY toYYYYMM(start_time)
        ORDER BY (tenant, agent_id, start_time, event_id)
        {{TTL_START}}""",
    )),
    Migration(2, "report_settings, daily_reports", (
        """CREATE TABLE IF NOT EXISTS {db}.report_settings (
            tenant String,
            kind String,
            version UInt64,
            body String
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (tenant, kind)""",
        """CREATE TABLE IF NOT EXISTS {db}.daily_reports (
            tenant String,
            day Date,
            version UInt64,
            body String
        ) ENGINE = ReplacingMergeTree(version)
        PARTITION BY toYYYYMM(day)
        ORDER BY (tenant, day)""",
    )),
    # Adding a value to an Enum8 changes the metadata only (no part is rewritten), on 18.16 too;
    # run again (a data center's installation after the other's, on the shared replicated table)
    # it changes nothing.
    Migration(3, "calls.result: node_lost", (
        f"ALTER TABLE {{db}}.calls MODIFY COLUMN result {_RESULT_3}",
    )),
)


LEDGER = "schema_migrations"
_LEDGER_DDL = f"""CREATE TABLE IF NOT EXISTS {DATABASE}.{LEDGER} (
        number UInt32, name String, dialect String, applied_at DateTime('UTC')
    ) ENGINE = ReplacingMergeTree ORDER BY number"""


def _ddl(cluster: str) -> Callable[[str], str]:
    """The statements as written (one server, chdb) or for the replicated ``cluster``."""
    if not cluster:
        return lambda statement: statement
    return lambda statement: on_cluster(statement, cluster, installation_tables=(LEDGER,))


def render_all(dialect: Dialect, cluster: str = "", migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Every DDL statement :func:`migrate` would run on an empty server, in order."""
    ddl = _ddl(cluster)
    out = [ddl(f"CREATE DATABASE IF NOT EXISTS {DATABASE}"), ddl(_LEDGER_DDL)]
    for migration in sorted(migrations, key=lambda m: m.number):
        out += [ddl(statement) for statement in migration.render(dialect)]
    return out


def _has_table(select: Callable[[str], Sequence[Sequence[Any]]], table: str) -> bool:
    rows = select(f"SELECT count() FROM system.tables WHERE database = '{DATABASE}' AND name = '{table}'")
    return bool(rows and rows[0][0])


@dataclass(frozen=True)
class Applied:
    number: int
    name: str


def migrate(execute: Callable[[str], Any], select: Callable[[str], Sequence[Sequence[Any]]], dialect: Dialect,
            migrations: Sequence[Migration] = MIGRATIONS, cluster: str = "") -> list[Applied]:
    """Apply the migrations not yet recorded in ``schema_migrations``; returns those applied now.

    Each statement is idempotent (IF NOT EXISTS), so a run killed half way is finished by the next.
    With ``cluster`` (HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER) every table is created ON CLUSTER with a
    Replicated* engine (:func:`hibiki.common.clickhouse_sql.on_cluster`); ``schema_migrations`` is
    replicated within the installation only, so each data center's installation creates its own
    replicas of the shared tables. Once this replica has the ledger, nothing runs ON CLUSTER unless
    a migration is missing: a service (re)started while another replica is down starts at once (an
    ON CLUSTER statement waits for every replica)."""
    ddl = _ddl(cluster)
    if not (cluster and _has_table(select, LEDGER)):
        execute(ddl(f"CREATE DATABASE IF NOT EXISTS {DATABASE}"))
        execute(ddl(_LEDGER_DDL))
    done = {int(row[0]) for row in select(f"SELECT number FROM {DATABASE}.schema_migrations")}
    applied = []
    for migration in sorted(migrations, key=lambda m: m.number):
        if migration.number in done:
            continue
        for statement in migration.render(dialect):
            execute(ddl(statement))
        execute(f"INSERT INTO {DATABASE}.schema_migrations (number, name, dialect, applied_at) "
                f"SELECT {migration.number}, '{migration.name}', '{dialect.name}', now()")
        log.info("migration_applied", number=migration.number, name=migration.name, dialect=dialect.name)
        applied.append(Applied(migration.number, migration.name))
    return applied
