"""Analytics' and recording's ClickHouse schemas on a replicated cluster (issue 16: two data
centers, replicated tables coordinated by ClickHouse Keeper).

With HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER / HIBIKI_RECORDING_INDEX_CLUSTER set, every DDL statement
runs ON CLUSTER with a Replicated* engine (hibiki.common.clickhouse_sql.on_cluster). A replicated
table needs Keeper, which chdb has not: the statements are parsed and formatted by chdb's own
ClickHouse (formatQuerySingleLine), and each is shown to be the single-server statement plus
exactly ON CLUSTER and the Replicated engine's path and replica, nothing else. The same statements
run for real on two Debian clickhouse-server 18.16 replicas with ZooKeeper in
tests/failover/test_replicated_stores.py.
"""

from __future__ import annotations

import re

import chdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.analytics.config import AnalyticsConfig
from hibiki.analytics.storage import migrations as analytics_schema
from hibiki.analytics.storage.base import open_store
from hibiki.common.clickhouse_sql import literal, on_cluster
from hibiki.common.errors import ConfigError
from hibiki.recording.config import RecordingConfig
from hibiki.recording.index import schema as recording_schema


def formatted(statement: str) -> str:
    """The statement as ClickHouse parses and prints it (a syntax error raises)."""
    return str(chdb.query(f"SELECT formatQuerySingleLine({literal(statement)})", "TSVRaw")).strip()


_REPLICATED = re.compile(r"Replicated(\w*MergeTree)\('([^']*)', '([^']*)'(?:, )?")


def single_server_form(text: str, cluster: str) -> tuple[str, list[tuple[str, str, str]]]:
    """A formatted replicated statement back to its single-server form, and its engines' arguments."""
    engines = _REPLICATED.findall(text)
    text = text.replace(f" ON CLUSTER {cluster}", "", 1)
    text = _REPLICATED.sub(lambda m: f"{m.group(1)}(", text)
    return re.sub(r"(\w*MergeTree)\(\)", r"\1", text), engines


SCHEMAS = {
    "analytics": (lambda cluster: analytics_schema.render_all(analytics_schema.MODERN, cluster),
                  analytics_schema.LEDGER),
    "recording": (lambda cluster: recording_schema.render_all(recording_schema.MODERN, cluster),
                  recording_schema.LEDGER),
}


@pytest.mark.parametrize("service", SCHEMAS)
def test_every_statement_is_the_single_server_one_on_cluster_with_a_replicated_engine(service: str) -> None:
    render, ledger = SCHEMAS[service]
    single, replicated = render(""), render("hibiki")
    assert len(single) == len(replicated) > 3
    tables = 0
    for plain, repl in zip(single, replicated, strict=True):
        text = formatted(repl)
        back, engines = single_server_form(text, "hibiki")
        assert back == formatted(plain), f"{service}: more than the cluster changed:\n{plain}\n{repl}"
        head = plain.lstrip().upper()
        if head.startswith(("CREATE", "ALTER")):
            assert " ON CLUSTER hibiki" in text, text
        if head.startswith("CREATE TABLE"):
            tables += 1
            [(_, path, replica)] = engines
            table = re.search(r"hibiki\.(\w+)", plain).group(1)  # type: ignore[union-attr]
            assert replica == "{replica}"
            if table == ledger:   # each installation (data center) keeps its own ledger
                assert path == f"/clickhouse/{{installation}}/tables/{{shard}}/hibiki/{table}"
            else:                 # the data: one Keeper path for the replicas of both data centers
                assert path == f"/clickhouse/tables/{{shard}}/hibiki/{table}"
        else:
            assert not engines
    assert tables >= 4


def test_migrate_runs_the_replicated_statements_in_order() -> None:
    """migrate() with a cluster executes exactly render_all()'s statements, then records the
    migrations in the ledger (a plain INSERT: the replicated ledger replicates it)."""
    executed: list[str] = []
    analytics_schema.migrate(executed.append, lambda sql: [], analytics_schema.MODERN, cluster="hibiki")
    ddl = [s for s in executed if not s.startswith("INSERT")]
    assert ddl == analytics_schema.render_all(analytics_schema.MODERN, "hibiki")
    assert len(executed) - len(ddl) == len(analytics_schema.MIGRATIONS)
    executed.clear()
    recording_schema.migrate(executed.append, lambda sql: [], recording_schema.MODERN, cluster="hibiki")
    assert [s for s in executed if not s.startswith("INSERT")] == recording_schema.render_all(
        recording_schema.MODERN, "hibiki")


_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(db=_NAME, table=_NAME, family=st.sampled_from(["", "Replacing", "Summing", "Aggregating"]),
       version=st.booleans(), cluster=st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,20}", fullmatch=True))
def test_on_cluster_keeps_any_table_and_adds_only_the_replication(db: str, table: str, family: str,
                                                                  version: bool, cluster: str) -> None:
    args = "(v)" if version and family == "Replacing" else ""
    plain = (f"CREATE TABLE IF NOT EXISTS {db}.{table} (k String, v UInt64) "
             f"ENGINE = {family}MergeTree{args} ORDER BY k")
    repl = on_cluster(plain, cluster)
    text = formatted(repl)
    quoted = cluster if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cluster) else f"`{cluster}`"
    back, engines = single_server_form(text, quoted)
    assert back == formatted(plain)
    assert engines == [(f"{family}MergeTree", f"/clickhouse/tables/{{shard}}/{db}/{table}", "{replica}")]


@pytest.mark.parametrize("statement", [
    "CREATE TABLE IF NOT EXISTS a.b (k String) ENGINE = ReplicatedMergeTree('/x', 'y') ORDER BY k",
    "CREATE TABLE IF NOT EXISTS a.b (k String) ENGINE = Memory",
])
def test_on_cluster_refuses_what_it_cannot_replicate(statement: str) -> None:
    with pytest.raises(ValueError):
        on_cluster(statement, "hibiki")


@pytest.mark.parametrize("cluster", ["", "x'; DROP DATABASE hibiki; --", "a b", "1abc", "a" * 65])
def test_a_cluster_name_from_configuration_is_checked(cluster: str) -> None:
    with pytest.raises(ValueError):
        on_cluster("CREATE DATABASE IF NOT EXISTS hibiki", cluster)
    if cluster:
        with pytest.raises(ConfigError, match="HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER"):
            AnalyticsConfig.from_env({"HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER": cluster})
        with pytest.raises(ConfigError, match="HIBIKI_RECORDING_INDEX_CLUSTER"):
            RecordingConfig.from_env({"HIBIKI_RECORDING_INDEX_CLUSTER": cluster,
                                      "HIBIKI_RECORDING_INDEX_URL": "clickhouse://ch:9000/hibiki"})


def test_services_read_the_cluster_and_refuse_it_on_chdb(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = AnalyticsConfig.from_env({"HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER": "hibiki",
                                       "HIBIKI_ANALYTICS_CLICKHOUSE_URL": "clickhouse://ch:9000/hibiki"})
    assert config.clickhouse_cluster == "hibiki"
    assert AnalyticsConfig.from_env({}).clickhouse_cluster == ""
    with pytest.raises(ConfigError, match="chdb"):
        open_store(f"chdb://{tmp_path}", "hibiki")
    recording = RecordingConfig.from_env({"HIBIKI_RECORDING_INDEX_CLUSTER": "hibiki",
                                          "HIBIKI_RECORDING_INDEX_URL": "clickhouse://ch:9000/hibiki"})
    assert recording.index_cluster == "hibiki"
    with pytest.raises(ConfigError, match="chdb"):
        RecordingConfig.from_env({"HIBIKI_RECORDING_INDEX_CLUSTER": "hibiki", "HIBIKI_DATA_DIR": str(tmp_path)})


def test_the_analytics_restore_stages_rows_outside_the_replicated_engine() -> None:
    """`hibiki restore --only analytics` loads rows into a staging table first: on a cluster it
    is a local Memory table (a copy of the Replicated engine would claim the table's own Keeper
    replica). Run on chdb: the staging table takes the rows and hands them to the table."""
    from hibiki.analytics.web.lifecycle_api import staging_ddl

    assert staging_ddl("hibiki.t__restoring", "hibiki.t", False) == "CREATE TABLE hibiki.t__restoring AS hibiki.t"
    session = chdb.session.Session()
    try:
        session.query("CREATE DATABASE IF NOT EXISTS st")
        session.query("CREATE TABLE st.t (k String, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY k")
        session.query(staging_ddl("st.t__restoring", "st.t", True))
        engine = str(session.query("SELECT engine FROM system.tables WHERE database = 'st' AND name = "
                                   "'t__restoring'", "TSVRaw")).strip()
        assert engine == "Memory"
        session.query("INSERT INTO st.t__restoring VALUES ('a', 1), ('b', 2)")
        session.query("INSERT INTO st.t SELECT * FROM st.t__restoring")
        assert str(session.query("SELECT sum(v) FROM st.t", "TSVRaw")).strip() == "3"
    finally:
        session.close()


def test_an_insert_quorum_is_read_and_needs_a_cluster() -> None:
    base = {"HIBIKI_ANALYTICS_CLICKHOUSE_URL": "clickhouse://ch:9000/hibiki"}
    assert AnalyticsConfig.from_env(base).clickhouse_insert_quorum == 0
    assert AnalyticsConfig.from_env({**base, "HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER": "hibiki",
                                     "HIBIKI_ANALYTICS_CLICKHOUSE_INSERT_QUORUM": "2"}).clickhouse_insert_quorum == 2
    with pytest.raises(ConfigError, match="HIBIKI_ANALYTICS_CLICKHOUSE_INSERT_QUORUM"):
        AnalyticsConfig.from_env({**base, "HIBIKI_ANALYTICS_CLICKHOUSE_INSERT_QUORUM": "2"})
    for bad in ("x", "-1", "10"):
        with pytest.raises(ConfigError, match="HIBIKI_ANALYTICS_CLICKHOUSE_INSERT_QUORUM"):
            AnalyticsConfig.from_env({**base, "HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER": "hibiki",
                                      "HIBIKI_ANALYTICS_CLICKHOUSE_INSERT_QUORUM": bad})
    index = {"HIBIKI_RECORDING_INDEX_URL": "clickhouse://ch:9000/hibiki", "HIBIKI_RECORDING_INDEX_CLUSTER": "hibiki"}
    assert RecordingConfig.from_env({**index, "HIBIKI_RECORDING_INDEX_INSERT_QUORUM": "2"}).index_insert_quorum == 2
    with pytest.raises(ConfigError, match="HIBIKI_RECORDING_INDEX_INSERT_QUORUM"):
        RecordingConfig.from_env({"HIBIKI_RECORDING_INDEX_URL": "clickhouse://ch:9000/hibiki",
                                  "HIBIKI_RECORDING_INDEX_INSERT_QUORUM": "2"})


@pytest.mark.parametrize("service", ["analytics", "recording"])
def test_a_replica_with_every_migration_runs_no_ddl_on_cluster(service: str) -> None:
    """A service started on a replica that has the ledger and every migration sends nothing ON
    CLUSTER (it would wait for every replica: a service pointed at the survivor of a lost data
    center starts at once); without the ledger, the whole schema is sent."""
    module = analytics_schema if service == "analytics" else recording_schema
    numbers = [m.number for m in analytics_schema.MIGRATIONS] if service == "analytics" else [
        m[0] for m in recording_schema.MIGRATIONS]

    def select(sql: str) -> list[tuple[int]]:
        return [(1,)] if "system.tables" in sql else [(n,) for n in numbers]

    executed: list[str] = []
    module.migrate(executed.append, select, module.MODERN, cluster="hibiki")
    assert executed == []
    module.migrate(executed.append, lambda sql: [(n,) for n in numbers] if "system.tables" not in sql else [(0,)],
                   module.MODERN, cluster="hibiki")
    assert executed == module.render_all(module.MODERN, "hibiki")[:2]
