"""Two data centers on one machine, for the failover tests (README "Failover between data centers").

Each site is a /24 of ``HIBIKI_FS_TEST_NET`` (default ``127.64.0.0/10``; at least a /22): dc1 on the
second /24, dc2 on the third, the witness on the fourth (with ``HIBIKI_FS_TEST_NET=127.17.0.0/16``: 127.17.1.1,
127.17.2.1, 127.17.3.1). What runs where:

- NATS: one JetStream cluster of three servers, one per site (``server_tags: ["dc:<site>"]``,
  ``unique_tag: "dc:"``), so a stream or bucket with 3 replicas keeps one copy per site and a write
  is acknowledged once two sites hold it. The witness holds only NATS (deploy/k8s/witness).
- The configuration store: PostgreSQL, the primary in dc1 and a synchronous streaming standby in
  dc2 (``synchronous_standby_names = '*'``: a commit returns once dc2 has flushed it). Every
  directory gets both hosts in one URL with ``target_session_attrs=read-write``, so it writes
  wherever the primary is. Promoting dc2's standby is the operator's step (CloudNativePG's replica
  cluster is promoted by hand); :meth:`Postgres.promote` does it here.
- Services: each a process of its own (``hibiki serve <service>``) on its site's address, pointed at
  its own site's NATS server and directory, the same auth secret everywhere.

Killing a site (:meth:`Site.kill`) sends SIGKILL to every process of it at once: nothing is told,
nothing flushes, leases are left to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import pytest

from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.stack.nats_server import nats_server_binary
from hibiki.stack.ports import wait_for_port
from support.directory import FSAPI_CREDENTIALS
from support.postgres import PostgresServer, PostgresUnavailable
from support.switch.net import free_port, test_net

SECRET = "failover-test-secret-" + "x" * 32
AUTHORITY = TokenAuthority(SECRET.encode())
SITES = ("dc1", "dc2", "witness")
LEASE_SECONDS = 10.0        # the ACD's shipped default (HIBIKI_ACD_LEASE_SECONDS)
T = TypeVar("T")


def site_addresses() -> dict[str, str]:
    """``.1`` of the 2nd, 3rd and 4th /24 of ``HIBIKI_FS_TEST_NET`` for dc1, dc2 and the witness
    (``127.17.0.0/16``: 127.17.1.1, 127.17.2.1, 127.17.3.1)."""
    net = test_net()
    chosen: list[str] = []
    for subnet in list(net.subnets(new_prefix=24))[1:] if net.prefixlen < 23 else []:
        chosen.append(str(subnet.network_address + 1))
        if len(chosen) == len(SITES):
            break
    if len(chosen) < len(SITES):
        raise ValueError(f"HIBIKI_FS_TEST_NET={net} must hold four /24s (dc1, dc2 and the witness use three)")
    return dict(zip(SITES, chosen, strict=True))


def token() -> str:
    """A service token for every tenant (the services share :data:`SECRET`)."""
    return AUTHORITY.issue(Claims("failover-test", "service"))


# --- NATS ------------------------------------------------------------------------------------------
@dataclass
class NatsNode:
    site: str
    host: str
    root: Path
    port: int = 0
    route_port: int = 0
    monitor_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config(self, routes: list[str]) -> str:
        return "\n".join([
            f"server_name: {self.site}",
            f"listen: {self.host}:{self.port}",
            f"http: {self.host}:{self.monitor_port}",
            f'server_tags: ["dc:{self.site}"]',
            "jetstream {",
            f'  store_dir: "{self.root / "store"}"',
            '  unique_tag: "dc:"',
            "}",
            "cluster {",
            "  name: hibiki-failover",
            f"  listen: {self.host}:{self.route_port}",
            "  no_advertise: true",
            "  routes: [",
            *(f"    {route}" for route in routes),
            "  ]",
            "}",
            "",
        ])

    def start(self, routes: list[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nats.conf"
        conf.write_text(self.config(routes))
        with (self.root / "nats.log").open("ab") as log:
            self.process = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 10, self.host)


def nats_cluster(root: Path, addresses: Mapping[str, str]) -> dict[str, NatsNode]:
    """Three servers, one per site, started and routed to each other (not yet checked for a
    JetStream leader: :func:`wait_for_jetstream`)."""
    nodes = {}
    for site in SITES:
        host = addresses[site]
        nodes[site] = NatsNode(site, host, root / f"nats-{site}", free_port(host), free_port(host), free_port(host))
    routes = [f"nats://{node.host}:{node.route_port}" for node in nodes.values()]
    for node in nodes.values():
        node.start([r for r in routes if not r.endswith(f"{node.host}:{node.route_port}")])
    return nodes


# --- PostgreSQL ------------------------------------------------------------------------------------
class Postgres(PostgresServer):
    """A PostgreSQL cluster on a site's address: the primary (synchronous replication to any
    standby) or, with ``primary``, a streaming standby made with ``pg_basebackup``."""

    def __init__(self, host: str, primary: Postgres | None = None) -> None:
        super().__init__()
        self.host = host
        self.port = free_port(host)
        self.primary = primary

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def settings(self) -> str:
        # Synchronous replication starts off (a commit would wait for a standby that does not exist
        # yet: :meth:`require_standby` turns it on). A promoted standby keeps it off: it has no
        # standby of its own and would otherwise hold every commit until one comes back.
        standby_names = ""
        return (f"\nlisten_addresses = '{self.host}'\nport = {self.port}\nunix_socket_directories = ''\n"
                f"max_connections = 100\nfsync = off\nfull_page_writes = on\nsynchronous_commit = on\n"
                f"synchronous_standby_names = '{standby_names}'\nwal_level = replica\nhot_standby = on\n")

    def init(self) -> None:
        if self.primary is None:
            done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                             "--no-locale", "--no-sync")
            if done.returncode != 0:
                raise self._fail("initdb", done)
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 127.0.0.0/8 trust\nhost replication all 127.0.0.0/8 trust\n")
        else:
            done = self._run("pg_basebackup", "-h", self.primary.host, "-p", str(self.primary.port), "-U", "postgres",
                             "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "-d",
                             f"host={self.primary.host} port={self.primary.port} user=postgres application_name=dc2")
            if done.returncode != 0:
                raise self._fail("pg_basebackup", done)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(self.settings())

    def require_standby(self) -> None:
        """From now on a commit returns once a standby has flushed it."""
        with contextlib.closing(self.connect()) as conn:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            conn.execute("SELECT pg_reload_conf()")

    def promote(self) -> None:
        done = self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")
        if done.returncode != 0:
            raise self._fail("promote", done)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """SIGKILL to the postmaster: its backends end when they see it gone, as in a crash."""
        pid = self.postmaster_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def replicated(self) -> bool:
        """A standby streams from this primary, synchronously."""
        with contextlib.closing(self.connect()) as conn:
            rows = conn.execute("SELECT sync_state FROM pg_stat_replication").fetchall()
        return any(row[0] in ("sync", "quorum") for row in rows)


def store_url(database: str, *servers: Postgres) -> str:
    """One SQLAlchemy URL naming every server: libpq tries them in turn and keeps the one that
    accepts writes (``target_session_attrs=read-write``)."""
    hosts = "&".join(f"host={s.host}:{s.port}" for s in servers)
    return f"postgresql+psycopg://postgres@/{database}?{hosts}&target_session_attrs=read-write&connect_timeout=3"


# --- services --------------------------------------------------------------------------------------
@dataclass
class Service:
    name: str
    site: str
    host: str
    port: int
    root: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    def start(self, timeout: float = 90) -> None:
        """Started, and ready (``/readyz`` 200) within ``timeout`` seconds."""
        self.start_in_background()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.site} {self.name} ended ({self.process.returncode}): "
                                   f"{self.log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.site} {self.name} not ready within {timeout} s: "
                                   f"{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)

    def start_in_background(self) -> None:
        """The process started (``hibiki serve <name>``, its output in :attr:`log`), not waited for."""
        prefix = f"HIBIKI_{self.name.upper()}_"
        environ = {**os.environ, "HIBIKI_AUTH_SECRET": SECRET, "HIBIKI_DATA_DIR": str(self.root),
                   "HIBIKI_NATS_REPLICAS": "3", prefix + "HOST": self.host, prefix + "PORT": str(self.port),
                   **self.env}
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "serve", self.name],
                                            env=environ, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token()}"}, timeout=15)


@dataclass
class Site:
    name: str
    host: str
    root: Path
    nats: NatsNode
    services: dict[str, Service] = field(default_factory=dict)
    postgres: Postgres | None = None

    def add(self, name: str, env: Mapping[str, str]) -> Service:
        service = Service(name, self.name, self.host, free_port(self.host), self.root / name,
                          {"HIBIKI_NATS_URL": self.nats.url, **env})
        self.services[name] = service
        return service

    def kill(self) -> list[str]:
        """SIGKILL to every process of the site at once; returns what was killed."""
        killed = []
        for service in self.services.values():
            if service.process and service.process.poll() is None:
                service.process.send_signal(signal.SIGKILL)
                killed.append(f"{service.name} (pid {service.process.pid})")
        if self.nats.process and self.nats.process.poll() is None:
            self.nats.process.send_signal(signal.SIGKILL)
            killed.append(f"nats-server (pid {self.nats.process.pid})")
        if self.postgres is not None and self.postgres.postmaster_pid():
            killed.append(f"postgres (pid {self.postgres.postmaster_pid()})")
            self.postgres.kill()
        for service in self.services.values():
            if service.process:
                service.process.wait(10)
        if self.nats.process:
            self.nats.process.wait(10)
        return killed

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
        if self.nats.process and self.nats.process.poll() is None:
            self.nats.process.terminate()
            try:
                self.nats.process.wait(15)
            except subprocess.TimeoutExpired:
                self.nats.process.kill()
                self.nats.process.wait()


def wait_until(what: str, check: Any, timeout: float, interval: float = 0.1) -> float:
    """Poll ``check()`` until it returns something true; the seconds it took. ``TimeoutError``
    naming ``what`` (and the last exception) when it does not."""
    start = time.monotonic()
    last: BaseException | None = None
    while True:
        try:
            if check():
                return time.monotonic() - start
        except Exception as exc:  # noqa: BLE001 - reported below if it never succeeds
            last = exc
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout} s (last error: {last!r})")
        time.sleep(interval)


def on_nats(url: str, work: Callable[[Any, Any], Awaitable[T]], timeout: float = 5) -> T:
    """``work(nc, js)`` on a connection of its own to one NATS server (``timeout``: per JetStream request)."""
    async def run() -> T:
        nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0)
        try:
            return await work(nc, nc.jetstream(timeout=timeout))
        finally:
            await nc.close()
    return asyncio.run(run())


@contextlib.contextmanager
def two_sites(root: Path) -> Iterator[tuple[Site, Site, Any, Postgres, Postgres]]:
    addresses = site_addresses()
    nodes = nats_cluster(root, addresses)
    sites = {name: Site(name, addresses[name], root / name, nodes[name]) for name in ("dc1", "dc2")}
    primary = standby = None
    try:
        async def events_stream(_: Any, js: Any) -> int:
            await bus.ensure_events_stream(js, num_replicas=3)
            info = await js.stream_info(bus.EVENTS_STREAM)
            return len(info.cluster.replicas or [])
        # the cluster elects its JetStream meta leader first; then the stream has a copy per site
        wait_until("JetStream cluster", lambda: on_nats(nodes["dc2"].url, events_stream) == 2, 60, 0.5)

        try:
            primary = Postgres(addresses["dc1"])
            primary.init()
            primary.start()
            with contextlib.closing(primary.connect()) as conn:
                conn.execute("CREATE DATABASE hibiki")
            standby = Postgres(addresses["dc2"], primary=primary)
            standby.init()
            standby.start()
        except PostgresUnavailable as exc:
            pytest.fail(f"PostgreSQL primary and standby did not start: {exc}", pytrace=False)
        primary.require_standby()
        wait_until("synchronous standby", primary.replicated, 30)
        sites["dc1"].postgres, sites["dc2"].postgres = primary, standby
        yield sites["dc1"], sites["dc2"], nodes, primary, standby
    finally:
        for site in sites.values():
            site.stop()
        for server in (standby, primary):
            if server is not None:
                server.kill()
                server.destroy()
        for node in nodes.values():
            if node.process and node.process.poll() is None:
                node.process.terminate()
                node.process.wait(15)


def start_services(site: Site, database: str, directory_grpc: int, directory_env: Mapping[str, str] | None = None) -> None:
    """The site's directory (its gRPC on ``directory_grpc``, the ACD's on the next port; ``directory_env``
    adds variables) and ACD."""
    site.add("directory", {"HIBIKI_DIRECTORY_DATABASE_URL": database,
                           "HIBIKI_DIRECTORY_GRPC_PORT": str(directory_grpc),
                           "HIBIKI_DIRECTORY_RESYNC_SECONDS": "5", **FSAPI_CREDENTIALS, **(directory_env or {})}).start()
    site.add("acd", {"HIBIKI_ACD_GRPC_PORT": str(directory_grpc + 1),
                     "HIBIKI_ACD_REPLICA_ID": f"acd-{site.name}",
                     "HIBIKI_ACD_LEASE_SECONDS": str(LEASE_SECONDS),
                     "HIBIKI_ACD_DIRECTORY_GRPC": f"{site.host}:{directory_grpc}"}).start()



def start_recording(site: Site, own_store: Path, other_store: Path, master_key: str,
                    env: Mapping[str, str] | None = None) -> Service:
    """The site's recording service: its spool on the site (``<site>/spool``, FreeSWITCH's disk), its
    store ``own_store`` mirrored to the other site's ``other_store`` (HIBIKI_RECORDING_STORE_MIRROR_URL),
    the master key both sites share."""
    service = site.add("recording", {"HIBIKI_RECORDING_SPOOL_DIR": str(site.root / "spool"),
                                     "HIBIKI_RECORDING_STORE_URL": f"file://{own_store}",
                                     "HIBIKI_RECORDING_STORE_MIRROR_URL": f"file://{other_store}",
                                     "HIBIKI_RECORDING_MASTER_KEY": master_key,
                                     "HIBIKI_RECORDING_CONSUMER": f"recording-{site.name}", **(env or {})})
    service.start()
    return service


def lease_owner(url: str, tenant: str) -> str:
    """Which ACD replica holds the tenant's lease (``hibiki_acd_leases``), read on one NATS server."""
    async def read(_: Any, js: Any) -> str:
        entry = await (await js.key_value("hibiki_acd_leases")).get(tenant)
        return str(json.loads(entry.value or b"{}")["owner"])
    return on_nats(url, read)


__all__ = ["LEASE_SECONDS", "Postgres", "Service", "Site", "lease_owner", "nats_cluster", "on_nats", "site_addresses",
           "start_recording", "start_services", "store_url", "token", "two_sites", "wait_until"]
