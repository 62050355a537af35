"""Recording settings, from HIBIKI_RECORDING_* (and shared HIBIKI_*) variables (README, recording)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from hibiki.common.clickhouse_server import insert_quorum
from hibiki.common.clickhouse_sql import cluster_name
from hibiki.common.config import Env, data_dir
from hibiki.common.errors import ConfigError
from hibiki.recording.domain.media import CODECS
from hibiki.recording.domain.nodes import BadNodePattern, Nodes
from hibiki.recording.domain.retention import BadRetention, Retention

STEPS = ("checked", "transcoded", "encrypted", "stored", "verified", "indexed", "published", "spool-removed")


@dataclass(frozen=True)
class RecordingConfig:
    host: str
    port: int
    nats_url: str
    data_dir: Path
    storage_dir: Path              # encrypted recordings (the file store's root)
    spool_dir: Path                # what FreeSWITCH wrote (callcontrol's HIBIKI_CALLCONTROL_RECORDINGS_DIR)
    work_dir: Path                 # compressed and encrypted copies between steps
    store_url: str                 # "" (file store in storage_dir), file:///path or s3://bucket/prefix?endpoint=
    index_path: Path               # chdb directory of the index
    index_url: str                 # chdb://<index_path> (default) or clickhouse://host:port/hibiki
    keys_dir: Path
    master_key: str | None
    master_key_file: Path
    previous_master_key_file: Path | None = None   # while the master key rotates (README)
    codec: str = "opus"
    bitrate: str = "24k"
    retention: Retention = Retention()
    retention_interval: float = 3600.0
    consumer: str = "recording-stopped"
    ack_wait: float = 300.0        # a recording not acknowledged by then is handed out again
    kill_after: str | None = None  # test hook: SIGKILL itself after this step (STEPS)
    directory_url: str = ""        # where the page renews the console session ("": this host, port 8080)
    index_cluster: str = ""        # "": one server; else the index's tables ON CLUSTER, Replicated* engines
    index_insert_quorum: int = 0   # > 1: a row is acknowledged once that many replicas hold it
    replica_id: str = ""           # names this replica's audit chains ("": the host name)
    store_mirror_url: str = ""     # the other data center's store, written before acknowledging ("": none)
    store_repair_interval: float = 300.0   # how often a mirrored store copies what one side lacks
    nodes: Nodes = Nodes()         # the FreeSWITCH nodes whose recordings this site takes (all: one site)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RecordingConfig:
        env = Env.load("recording", environ)
        shared = Env.load("", environ)
        root = data_dir(shared)
        codec = env.text("CODEC", "opus")
        if codec not in CODECS:
            raise ConfigError(f"{env.key('CODEC')}={codec!r}: one of {', '.join(CODECS)}")
        try:
            retention = Retention.parse(env.text("RETENTION", ""))
        except BadRetention as exc:
            raise ConfigError(f"{env.key('RETENTION')}: {exc}") from None
        kill_after = env.optional("KILL_AFTER")
        if kill_after is not None and kill_after not in STEPS:
            raise ConfigError(f"{env.key('KILL_AFTER')}={kill_after!r}: one of {', '.join(STEPS)}")
        try:
            nodes = Nodes.parse(env.text("NODES", ""))
        except BadNodePattern as exc:
            raise ConfigError(f"{env.key('NODES')}: {exc}") from None
        index_path = env.path("INDEX_DIR", root / "recording" / "chdb")
        index_url = env.text("INDEX_URL", "") or f"chdb://{index_path}"
        if urlparse(index_url).scheme not in ("chdb", "clickhouse", "clickhouses"):
            raise ConfigError(f"{env.key('INDEX_URL')}: chdb://<path> or clickhouse://host:port/hibiki")
        index_cluster = cluster_name(env.text("INDEX_CLUSTER", ""), env.key("INDEX_CLUSTER"))
        if index_cluster and urlparse(index_url).scheme == "chdb":
            raise ConfigError(f"{env.key('INDEX_CLUSTER')}: replicated tables need a ClickHouse server "
                              f"({env.key('INDEX_URL')}=clickhouse://...), chdb is one process's")
        return cls(
            host=env.text("HOST", "127.0.0.1"),
            port=env.port("PORT", 8082),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=root,
            storage_dir=env.path("STORAGE_DIR", root / "recording" / "store"),
            spool_dir=env.path("SPOOL_DIR", shared.path("CALLCONTROL_RECORDINGS_DIR", root / "recordings")),
            work_dir=env.path("WORK_DIR", root / "recording" / "work"),
            store_url=env.text("STORE_URL", ""),
            index_path=index_path,
            index_url=index_url,
            index_cluster=index_cluster,
            index_insert_quorum=insert_quorum(env.integer("INDEX_INSERT_QUORUM", 0, minimum=0, maximum=9),
                                              index_cluster, env.key("INDEX_INSERT_QUORUM")),
            keys_dir=env.path("KEYS_DIR", root / "recording" / "keys"),
            master_key=env.optional("MASTER_KEY"),
            master_key_file=env.path("MASTER_KEY_FILE", root / "recording" / "master.key"),
            previous_master_key_file=env.path("MASTER_KEY_PREVIOUS_FILE", Path()) if env.optional(
                "MASTER_KEY_PREVIOUS_FILE") else None,
            codec=codec,
            bitrate=env.text("BITRATE", "24k"),
            retention=retention,
            retention_interval=env.number("RETENTION_INTERVAL", 3600.0, minimum=0.1),
            consumer=env.text("CONSUMER", "recording-stopped"),
            ack_wait=env.number("ACK_WAIT", 300.0, minimum=1.0),
            kill_after=kill_after,
            directory_url=env.text("DIRECTORY_URL", ""),
            replica_id=env.text("REPLICA_ID", ""),
            store_mirror_url=env.text("STORE_MIRROR_URL", ""),
            store_repair_interval=env.number("STORE_REPAIR_INTERVAL", 300.0, minimum=1.0),
            nodes=nodes,
        )
