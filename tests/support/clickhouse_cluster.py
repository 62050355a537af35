"""A replicated ClickHouse on this machine (issue 16): Debian's ZooKeeper 3.8 (standalone) and two
Debian clickhouse-server 18.16 processes on 127.0.0.1, one shard of two replicas, with the
``remote_servers`` cluster, ``macros``, ``zookeeper`` and ``distributed_ddl`` configuration the
Replicated* schema of analytics and the recording index needs (the k8s manifests run ClickHouse
Keeper, which speaks the same protocol)."""

from __future__ import annotations

import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

from support.clickhouse_server import USERS, binary
from support.servers import free_port, wait_for_port

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")   # Debian's zookeeper package
CLUSTER = "hibiki"
INSTALLATION = "dc1"


# Every process on 127.0.0.1, each on its own ports: a server takes a cluster host for itself only
# if it is one of its interfaces' addresses and its port (18.16's isLocalAddress), so 127.x.y.z
# addresses, which lo answers without having them, would leave the ON CLUSTER DDL unrun.
HOST = "127.0.0.1"


def missing() -> str | None:
    """Why the replicated cluster cannot run here (None: it can)."""
    if binary() is None:
        return "Debian's clickhouse-server is not installed"
    if not ZOOKEEPER_JAR.exists() or shutil.which("java") is None:
        return "Debian's zookeeper (with Java) is not installed (apt-get install zookeeper)"
    return None


class ZooKeeper:
    """ZooKeeper standalone (ZooKeeperServerMain): the coordination replicated tables need."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = HOST
        self.port = free_port()
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "zoo.cfg").write_text(
            f"tickTime=500\ndataDir={root / 'data'}\nclientPort={self.port}\nclientPortAddress={self.host}\n"
            "admin.enableServer=false\nmaxClientCnxns=0\n4lw.commands.whitelist=ruok\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        classpath = f"{ZOOKEEPER_JAR}:/usr/share/java/slf4j-simple.jar"   # the jar's manifest names the rest
        with open(self.root / "zookeeper.log", "ab") as log:
            self.process = subprocess.Popen(
                ["java", "-Xmx256m", "-cp", classpath, "org.apache.zookeeper.server.ZooKeeperServerMain",
                 str(self.root / "zoo.cfg")], cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, host=self.host, timeout=60)
        deadline = time.monotonic() + 60
        while not self.serving():      # the port opens before the database is loaded
            assert time.monotonic() < deadline, "ZooKeeper did not accept a session"
            time.sleep(0.2)

    def serving(self) -> bool:
        """A session handshake (ConnectRequest) answered: ZooKeeper serves clients."""
        body = struct.pack(">iqiqi", 0, 0, 6000, 0, 16) + bytes(16)
        try:
            with socket.create_connection((self.host, self.port), 2) as conn:
                conn.sendall(struct.pack(">i", len(body)) + body)
                conn.settimeout(2)
                return len(conn.recv(64)) >= 20
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)


REPLICA_CONFIG = """<yandex>
  <logger><level>information</level><log>{root}/server.log</log><errorlog>{root}/error.log</errorlog></logger>
  <tcp_port>{tcp}</tcp_port>
  <http_port>{http}</http_port>
  <interserver_http_port>{interserver}</interserver_http_port>
  <interserver_http_host>{host}</interserver_http_host>
  <listen_host>{host}</listen_host>
  <path>{root}/data/</path>
  <tmp_path>{root}/tmp/</tmp_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
  <timezone>UTC</timezone>
  <remote_servers><{cluster}><shard><internal_replication>true</internal_replication>{replicas}</shard></{cluster}>
  </remote_servers>
  <macros><shard>01</shard><replica>{name}</replica><installation>{installation}</installation></macros>
  <zookeeper><node><host>{zk_host}</host><port>{zk_port}</port></node>
    <session_timeout_ms>6000</session_timeout_ms></zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
"""


class Replica:
    """One clickhouse-server of the cluster; ``kill`` is SIGKILL, ``start`` again keeps its data."""

    def __init__(self, root: Path, name: str, host: str) -> None:
        self.root, self.name, self.host = root, name, host
        self.tcp_port = free_port()
        self.http_port = free_port()
        self.interserver_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"clickhouse://{self.host}:{self.tcp_port}/hibiki"

    def configure(self, replicas: list[Replica], zookeeper: ZooKeeper) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        listed = "".join(f"<replica><host>{r.host}</host><port>{r.tcp_port}</port></replica>" for r in replicas)
        (self.root / "config.xml").write_text(REPLICA_CONFIG.format(
            root=self.root, tcp=self.tcp_port, http=self.http_port, interserver=self.interserver_port,
            host=self.host, cluster=CLUSTER, replicas=listed, name=self.name, installation=INSTALLATION,
            zk_host=zookeeper.host, zk_port=zookeeper.port))
        (self.root / "users.xml").write_text(USERS)

    def start(self) -> None:
        exe = binary()
        assert exe is not None
        command = [exe, f"--config-file={self.root / 'config.xml'}"]
        if exe.endswith("/clickhouse"):
            command.insert(1, "server")
        self.process = subprocess.Popen(command, cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.tcp_port, host=self.host, timeout=90)

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye to ZooKeeper (a data center lost)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    stop = kill


class ReplicatedCluster:
    """ZooKeeper and ``replicas`` clickhouse-servers, one shard: ``CLUSTER`` in their remote_servers."""

    def __init__(self, root: Path, replicas: int = 2) -> None:
        self.zookeeper = ZooKeeper(root / "zookeeper")
        self.replicas = [Replica(root / f"r{n}", f"r{n}", HOST) for n in range(1, replicas + 1)]
        for replica in self.replicas:
            replica.configure(self.replicas, self.zookeeper)

    def start(self) -> None:
        self.zookeeper.start()
        for replica in self.replicas:
            replica.start()

    def stop(self) -> None:
        for replica in self.replicas:
            replica.kill()
        self.zookeeper.stop()
