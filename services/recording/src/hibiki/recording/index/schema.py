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
* ``evaluation_forms`` (migration 2): a tenant's score forms (REC-05), the newest version wins.
* migration 3: bloom filters on ``caller_number``, ``callee_number`` and ``did`` (one per granule:
  a number search over three years reads the few granules holding the number; skipped where the
  dialect has no skipping indexes).
* migration 4: ``recording_audit`` hash-chained per writer (``writer``, ``seq``, ``prev_hash``,
  ``hash``; ``index.audit``) and ``recording_audit_heads``, each chain's last sequence and hash.
* ``evaluations``: one row per scoring of a recording (who, when, per-criterion scores with the
  criteria and weights they were given under, total 0..100, comment), ordered by agent and time for
  the scores-over-time report. Kept when the recording is deleted (the agent's record, not audio).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hibiki.common.clickhouse_sql import on_cluster
from hibiki.common.logging import get_logger
from hibiki.common.digits import ascii_digits

DATABASE = "hibiki"
log = get_logger("hibiki.recording.index")


@dataclass(frozen=True)
class Dialect:
    """What the engine's ClickHouse accepts: chdb and servers from 20.1 the modern schema; an older
    server (Debian's 18.16) whole-second DateTime, plain String, no skipping indexes and
    ``ALTER TABLE ... DELETE`` (a mutation) instead of the lightweight ``DELETE`` (from 23.3)."""

    name: str
    datetime: str
    low_cardinality: str
    indexes: bool
    lightweight_delete: bool

    @classmethod
    def for_version(cls, version: str) -> Dialect:
        parts = [int(p) for p in version.split(".")[:2] if ascii_digits(p)]
        return MODERN if tuple((parts + [0, 0])[:2]) >= (23, 3) else LEGACY

    def render(self, statement: str) -> str:
        """``statement`` in this dialect; "" for a skipping index's statement where there are none."""
        if statement.startswith(_INDEX_ONLY):
            return statement.removeprefix(_INDEX_ONLY) if self.indexes else ""
        indexes = _INDEXES if self.indexes else ""
        # a legacy server (18.16) knows no ADD COLUMN IF NOT EXISTS: there the migration's record alone
        # keeps it from running twice
        add = "ADD COLUMN IF NOT EXISTS" if self.lightweight_delete else "ADD COLUMN"
        return statement.format(DT=self.datetime, LC=self.low_cardinality, INDEXES=indexes, ADD_COLUMN=add)


_INDEX_ONLY = "-- skipping index\n"
MODERN = Dialect("modern", "DateTime64(3, 'UTC')", "LowCardinality(String)", indexes=True, lightweight_delete=True)
LEGACY = Dialect("legacy", "DateTime('UTC')", "String", indexes=False, lightweight_delete=False)
_INDEXES = """,
            INDEX by_recording recording_id TYPE bloom_filter GRANULARITY 4,
            INDEX by_call call_id TYPE bloom_filter GRANULARITY 4,
            INDEX by_agent agent_id TYPE bloom_filter GRANULARITY 4,
            INDEX by_deadline delete_after TYPE minmax GRANULARITY 4"""

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "recordings, dispositions, recording_audit", (
        """CREATE TABLE IF NOT EXISTS hibiki.recordings (
            tenant {LC},
            recording_id String,
            version UInt64,
            call_id String,
            leg_uuid String,
            part UInt16,
            start_time {DT},
            end_time {DT},
            duration_ms UInt64,
            channels UInt8,
            direction {LC},
            caller_number String,
            callee_number String,
            did String,
            queue_id {LC},
            agent_id String,
            user_id String,
            reason {LC},
            codec {LC},
            size_bytes UInt64,
            sha256 String,
            object_key String,
            key_id String,
            stored_at {DT},
            delete_after {DT}{INDEXES}
        ) ENGINE = ReplacingMergeTree(version)
        PARTITION BY toYYYYMM(start_time)
        ORDER BY (tenant, start_time, recording_id)""",
        """CREATE TABLE IF NOT EXISTS hibiki.dispositions (
            tenant {LC},
            call_id String,
            disposition String,
            agent_id String,
            saved_at {DT}
        ) ENGINE = ReplacingMergeTree(saved_at)
        ORDER BY (tenant, call_id)""",
        """CREATE TABLE IF NOT EXISTS hibiki.recording_audit (
            tenant {LC},
            at {DT},
            event_id String,
            actor String,
            roles Array(String),
            action {LC},
            recording_id String,
            remote String,
            detail String
        ) ENGINE = ReplacingMergeTree
        ORDER BY (tenant, at, event_id)""",
    )),
    (2, "evaluation_forms, evaluations", (
        """CREATE TABLE IF NOT EXISTS hibiki.evaluation_forms (
            tenant {LC},
            form_id String,
            version UInt64,
            name String,
            scale UInt8,
            criteria String,
            updated_at {DT},
            updated_by String
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (tenant, form_id)""",
        """CREATE TABLE IF NOT EXISTS hibiki.evaluations (
            tenant {LC},
            agent_id String,
            at {DT},
            evaluation_id String,
            recording_id String,
            call_id String,
            queue_id {LC},
            form_id String,
            form_name String,
            scale UInt8,
            criteria Array(String),
            weights Array(Float64),
            scores Array(UInt8),
            total Float64,
            evaluator String,
            comment String
        ) ENGINE = ReplacingMergeTree
        ORDER BY (tenant, agent_id, at, evaluation_id)""",
    )),
    (3, "recordings: bloom filters on the numbers", tuple(
        f"{_INDEX_ONLY}ALTER TABLE hibiki.recordings {action}"
        for column in ("caller_number", "callee_number", "did")
        for action in (f"ADD INDEX IF NOT EXISTS by_{column} {column} TYPE bloom_filter(0.01) GRANULARITY 1",
                       f"MATERIALIZE INDEX by_{column}"))),
    (4, "recording_audit: hash chain per writer, recording_audit_heads", (
        *(f"ALTER TABLE hibiki.recording_audit {{ADD_COLUMN}} {column}"
          for column in ("writer String", "seq UInt64", "prev_hash String", "hash String")),
        """CREATE TABLE IF NOT EXISTS hibiki.recording_audit_heads (
            tenant {LC},
            writer String,
            seq UInt64,
            hash String,
            at {DT}
        ) ENGINE = ReplacingMergeTree(seq)
        ORDER BY (tenant, writer)""",
    )),
)


LEDGER = "recording_migrations"
_LEDGER_DDL = f"""CREATE TABLE IF NOT EXISTS {DATABASE}.{LEDGER} (
        number UInt32, name String, applied_at DateTime('UTC')) ENGINE = ReplacingMergeTree ORDER BY number"""


def _ddl(cluster: str) -> Callable[[str], str]:
    """The statements as written (one server, chdb) or for the replicated ``cluster``."""
    if not cluster:
        return lambda statement: statement
    return lambda statement: on_cluster(statement, cluster, installation_tables=(LEDGER,))


def render_all(dialect: Dialect = MODERN, cluster: str = "") -> list[str]:
    """Every DDL statement :func:`migrate` would run on an empty server, in order."""
    ddl = _ddl(cluster)
    out = [ddl(f"CREATE DATABASE IF NOT EXISTS {DATABASE}"), ddl(_LEDGER_DDL)]
    for _, _, statements in MIGRATIONS:
        out += [ddl(rendered) for statement in statements if (rendered := dialect.render(statement))]
    return out


def _has_ledger(select: Callable[[str], Sequence[Sequence[Any]]]) -> bool:
    rows = select(f"SELECT count() FROM system.tables WHERE database = '{DATABASE}' AND name = '{LEDGER}'")
    return bool(rows and rows[0][0])


def migrate(execute: Callable[[str], Any], select: Callable[[str], Sequence[Sequence[Any]]],
            dialect: Dialect = MODERN, cluster: str = "") -> list[int]:
    """Apply what ``recording_migrations`` does not list (in ``dialect``); each statement is idempotent.

    With ``cluster`` (HIBIKI_RECORDING_INDEX_CLUSTER) every table is created ON CLUSTER with a
    Replicated* engine; the ledger is replicated within the installation only, so each data
    center's installation creates its own replicas of the shared tables. Once this replica has the
    ledger, nothing runs ON CLUSTER unless a migration is missing: a service (re)started while another
    replica is down starts at once (an ON CLUSTER statement waits for every replica)."""
    ddl = _ddl(cluster)
    if not (cluster and _has_ledger(select)):
        execute(ddl(f"CREATE DATABASE IF NOT EXISTS {DATABASE}"))
        execute(ddl(_LEDGER_DDL))
    done = {int(row[0]) for row in select(f"SELECT number FROM {DATABASE}.recording_migrations")}
    applied = []
    for number, name, statements in MIGRATIONS:
        if number in done:
            continue
        for statement in statements:
            if rendered := dialect.render(statement):
                execute(ddl(rendered))
        execute(f"INSERT INTO {DATABASE}.recording_migrations SELECT {number}, '{name}', now()")
        log.info("migration_applied", number=number, name=name)
        applied.append(number)
    return applied
